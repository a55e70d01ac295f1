from django.urls import path

from .apis import ApiKeyListCreateApi, ApiKeyRevokeApi

urlpatterns = [
    path("keys/", ApiKeyListCreateApi.as_view(), name="api-keys"),
    path("keys/<uuid:key_id>/", ApiKeyRevokeApi.as_view(), name="api-key-revoke"),
]
