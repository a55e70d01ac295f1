from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated

from accounts.selectors import api_key_authenticate
from smsplatform.api.throttling import AddressLimit, rate_counter

HEADER = "HTTP_X_API_KEY"


class ApiKeyAuthentication(BaseAuthentication):
    """Authenticates the `X-API-KEY` header.

    Sets `request.auth` to the ApiKey (its `account_id` scopes every query) and
    `request.user` to the same key: API clients are keys, not dashboard users.
    A request it refuses counts against its address's API_ANON_RATE_LIMIT (429 over it); an address over
    it gets no database lookup for a key the cache does not know, so a flood of made-up keys costs a few
    queries a minute, not one each.
    """

    def authenticate(self, request):
        address_limit = AddressLimit(request)
        secret = request.META.get(HEADER)
        if secret is None:
            address_limit.hit()
            raise NotAuthenticated("Missing X-API-KEY header.", code="not_authenticated")
        # The rate limit's counter rides on the key's lookup: one cache round trip for both.
        api_key = api_key_authenticate(
            secret=secret.strip(), rate_counter=rate_counter, before_database=address_limit.check
        )
        if api_key is None:
            address_limit.hit()
            raise AuthenticationFailed("Invalid or revoked API key.", code="invalid_api_key")
        return api_key, api_key

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) when the key is missing or wrong.
        return 'ApiKey header="X-API-KEY"'
