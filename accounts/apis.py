from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from smsplatform.api.fields import StrictCharField
from smsplatform.api.views import AccountApi

from .selectors import api_key_get, api_key_list
from .services import api_key_create, api_key_revoke

API_KEY_EXAMPLE = {
    "id": "5b0c6f3e-8d2a-4c1b-9e7f-3a4d5c6b7e8f",
    "name": "Production",
    "prefix": "smsk_Example",
    "created_at": "2026-11-24T14:16:30Z",
    "last_used_at": None,
}


class ApiKeyOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The key's first 12 characters, to tell keys apart.")
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True, help_text="Accurate to the minute; null if never used.")


class ApiKeyListCreateApi(AccountApi):
    class ApiKeyCreateInputSerializer(serializers.Serializer):
        name = StrictCharField(max_length=100, required=False, allow_blank=True, default="")

    class ApiKeyCreatedSerializer(ApiKeyOutputSerializer):
        key = serializers.CharField(help_text="The full secret, shown this once only.")

    @extend_schema(
        operation_id="api_keys_list",
        summary="List API keys",
        description="The account's active keys, newest first. Secrets are never listed.",
        responses=inline_serializer("ApiKeyList", {"keys": ApiKeyOutputSerializer(many=True)}),
        examples=[
            OpenApiExample(
                "Keys", value={"keys": [API_KEY_EXAMPLE | {"last_used_at": "2026-11-24T14:20:00Z"}]}, response_only=True
            )
        ],
    )
    def get(self, request):
        keys = api_key_list(account_id=self.account_id)
        return Response({"keys": ApiKeyOutputSerializer(keys, many=True).data})

    @extend_schema(
        operation_id="api_keys_create",
        summary="Create an API key",
        description="A new key for the account. The answer's `key` is the full secret, shown this once only: "
        "the platform keeps only its hash.",
        request=ApiKeyCreateInputSerializer,
        responses={201: ApiKeyCreatedSerializer},
        examples=[
            OpenApiExample("Named key", value={"name": "Production"}, request_only=True),
            OpenApiExample(
                "Created",
                value=API_KEY_EXAMPLE | {"key": "smsk_ExampleExampleExampleExampleExampleExample"},
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def post(self, request):
        serializer = self.ApiKeyCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        api_key, secret = api_key_create(account=request.auth.account, name=serializer.validated_data["name"])
        data = ApiKeyOutputSerializer(api_key).data
        data["key"] = secret
        return Response(data, status=status.HTTP_201_CREATED)


class ApiKeyRevokeApi(AccountApi):
    @extend_schema(
        operation_id="api_keys_revoke",
        summary="Revoke an API key",
        description="From the next request on, the key is refused with 401. A key may revoke itself; an unknown "
        "or already revoked key is a 404.",
        responses={204: None},
    )
    def delete(self, request, key_id):
        api_key_revoke(api_key=api_key_get(account_id=self.account_id, key_id=key_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
