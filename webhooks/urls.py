from django.urls import path

from . import apis

urlpatterns = [
    path("", apis.WebhookEndpointApi.as_view(), name="webhooks"),
    path("rotate/", apis.WebhookRotateApi.as_view(), name="webhooks-rotate"),
    path("deliveries/", apis.WebhookDeliveryListApi.as_view(), name="webhooks-deliveries"),
    path(
        "deliveries/<uuid:delivery_id>/resend/",
        apis.WebhookDeliveryResendApi.as_view(),
        name="webhooks-delivery-resend",
    ),
]
