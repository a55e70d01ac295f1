from rest_framework.views import APIView


# The base view of every endpoint behind X-API-KEY: `self.account_id` scopes its queries.
# (A comment, not a docstring: drf-spectacular would publish a docstring as each operation's description.)
class AccountApi(APIView):
    @property
    def account_id(self):
        return self.request.auth.account_id
