from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from smsplatform.api.fields import StrictCharField
from smsplatform.api.views import AccountApi

from .selectors import api_key_get, api_key_list
from .services import api_key_create, api_key_revoke


class ApiKeyOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    prefix = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField()


class ApiKeyListCreateApi(AccountApi):
    class ApiKeyCreateInputSerializer(serializers.Serializer):
        name = StrictCharField(max_length=100, required=False, allow_blank=True, default="")

    class ApiKeyCreatedSerializer(ApiKeyOutputSerializer):
        key = serializers.CharField(help_text="The full secret, shown this once only.")

    @extend_schema(
        operation_id="api_keys_list",
        responses=inline_serializer("ApiKeyList", {"keys": ApiKeyOutputSerializer(many=True)}),
    )
    def get(self, request):
        keys = api_key_list(account_id=self.account_id)
        return Response({"keys": ApiKeyOutputSerializer(keys, many=True).data})

    @extend_schema(
        operation_id="api_keys_create", request=ApiKeyCreateInputSerializer, responses={201: ApiKeyCreatedSerializer}
    )
    def post(self, request):
        serializer = self.ApiKeyCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        api_key, secret = api_key_create(account=request.auth.account, name=serializer.validated_data["name"])
        data = ApiKeyOutputSerializer(api_key).data
        data["key"] = secret
        return Response(data, status=status.HTTP_201_CREATED)


class ApiKeyRevokeApi(AccountApi):
    @extend_schema(operation_id="api_keys_revoke", responses={204: None})
    def delete(self, request, key_id):
        api_key_revoke(api_key=api_key_get(account_id=self.account_id, key_id=key_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
