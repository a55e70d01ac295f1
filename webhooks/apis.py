from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from smsplatform.api.fields import StrictCharField
from smsplatform.api.pagination import Pagination, paginated_response
from smsplatform.api.schema import error_response
from smsplatform.api.views import AccountApi

from .models import WebhookDelivery, WebhookEndpoint
from .selectors import delivery_get, delivery_list
from .services import delivery_resend, endpoint_get, endpoint_rotate, endpoint_update

DELIVERY_ID_EXAMPLE = "3f2b8c1e-6d4a-4e9b-a7c5-1b2d3e4f5a6b"
ENDPOINT_EXAMPLE = {
    "url": "https://example.com/hooks/sms",
    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "events": ["message.status", "message.received"],
    "disabled_at": None,
    "disabled_reason": "",
    "previous_secret_expires_at": None,
}
DELIVERY_EXAMPLE = {
    "id": DELIVERY_ID_EXAMPLE,
    "type": "message.status",
    "url": "https://example.com/hooks/sms",
    "message_id": "a1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
    "status": "succeeded",
    "attempts": 2,
    "next_retry_at": None,
    "created_at": "2026-11-24T14:16:31Z",
    "attempt_log": [
        {"attempted_at": "2026-11-24T14:16:31Z", "status_code": 503, "duration_ms": 41, "error": "HTTP 503"},
        {"attempted_at": "2026-11-24T14:16:37Z", "status_code": 200, "duration_ms": 38, "error": ""},
    ],
}
EVENT_TYPES = list(WebhookEndpoint.EVENT_FIELDS)


class EndpointOutputSerializer(serializers.Serializer):
    url = serializers.SerializerMethodField()
    secret = serializers.CharField(help_text="`whsec_…`: verify each event's `webhook-signature` with it.")
    events = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPES))
    disabled_at = serializers.DateTimeField(allow_null=True, help_text="When a 410 Gone answer disabled the URL.")
    disabled_reason = serializers.CharField(help_text="Why the URL is disabled; empty otherwise.")
    previous_secret_expires_at = serializers.DateTimeField(
        allow_null=True, help_text="After a rotation: until when the previous secret signs too."
    )

    @extend_schema_field(serializers.URLField(allow_null=True, help_text="Null: no webhook."))
    def get_url(self, endpoint) -> str | None:
        return endpoint.url or None


def endpoint_response(endpoint: WebhookEndpoint) -> Response:
    return Response(EndpointOutputSerializer(endpoint).data)


class WebhookEndpointApi(AccountApi):
    class EndpointInputSerializer(serializers.Serializer):
        url = StrictCharField(allow_null=True, allow_blank=True, max_length=2000, help_text='`""` or null: none.')
        events = serializers.ListField(
            child=serializers.ChoiceField(choices=EVENT_TYPES), required=False, default=EVENT_TYPES
        )

    @extend_schema(
        operation_id="webhooks_get",
        summary="Get the account's webhook",
        description="Where the account's events go, the events it subscribes to, and the secret that signs them "
        "(made on first use).",
        responses=EndpointOutputSerializer,
        examples=[OpenApiExample("Webhook", value=ENDPOINT_EXAMPLE, response_only=True)],
    )
    def get(self, request):
        return endpoint_response(endpoint_get(account_id=self.account_id))

    @extend_schema(
        operation_id="webhooks_set",
        summary="Set the account's webhook",
        description="The URL (https, on a public address) that receives the account's events, and which events "
        '(both when `events` is left out); `url` `""` or null stops them. Setting a URL enables a webhook that a '
        "410 Gone disabled. A message's own `callback_url` takes its status events instead.",
        request=EndpointInputSerializer,
        responses={
            200: EndpointOutputSerializer,
            400: error_response(
                "`url` is not https, or resolves to an address the platform does not call (`invalid`, `fields.url`)."
            ),
        },
        examples=[
            OpenApiExample(
                "Webhook", value={"url": ENDPOINT_EXAMPLE["url"], "events": ["message.status"]}, request_only=True
            ),
            OpenApiExample("Set", value=ENDPOINT_EXAMPLE | {"events": ["message.status"]}, response_only=True),
        ],
    )
    def put(self, request):
        serializer = self.EndpointInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return endpoint_response(endpoint_update(account_id=self.account_id, **serializer.validated_data))


class WebhookRotateApi(AccountApi):
    @extend_schema(
        operation_id="webhooks_rotate",
        summary="Rotate the webhook secret",
        description="A new secret signs every event from now on; the previous one signs them too for 24 hours (the "
        "`webhook-signature` header then carries both), so that receivers can switch without losing one.",
        request=None,
        responses=EndpointOutputSerializer,
        examples=[
            OpenApiExample(
                "Rotated",
                value=ENDPOINT_EXAMPLE
                | {
                    "secret": "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
                    "previous_secret_expires_at": "2026-11-25T14:16:30Z",
                },
                response_only=True,
            )
        ],
    )
    def post(self, request):
        return endpoint_response(endpoint_rotate(account_id=self.account_id))


class AttemptOutputSerializer(serializers.Serializer):
    attempted_at = serializers.DateTimeField()
    status_code = serializers.IntegerField(allow_null=True, help_text="Null: no answer (timeout, refused…).")
    duration_ms = serializers.IntegerField()
    error = serializers.CharField(help_text="Why the attempt failed; empty when it succeeded.")


class DeliveryOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="Also the event's `webhook-id`, as `msg_` and its 32 hex digits.")
    type = serializers.ChoiceField(choices=WebhookDelivery.Type.choices)
    url = serializers.URLField()
    message_id = serializers.SerializerMethodField()
    status = serializers.ChoiceField(source="state", choices=WebhookDelivery.State.choices)
    attempts = serializers.IntegerField()
    next_retry_at = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    attempt_log = AttemptOutputSerializer(source="attempt_log.all", many=True, help_text="Oldest first.")

    @extend_schema_field(OpenApiTypes.UUID)
    def get_message_id(self, delivery) -> str:
        return str(delivery.message_id or delivery.inbound_id)

    @extend_schema_field(serializers.DateTimeField(allow_null=True, help_text="When the next attempt is due."))
    def get_next_retry_at(self, delivery):
        if delivery.state != WebhookDelivery.State.PENDING:
            return None
        return serializers.DateTimeField().to_representation(delivery.next_attempt_at)


class WebhookDeliveryListApi(AccountApi):
    pagination_class = Pagination.of("deliveries")

    class DeliveryFilterSerializer(serializers.Serializer):
        message_id = serializers.UUIDField(required=False)
        status = serializers.ChoiceField(choices=WebhookDelivery.State.choices, required=False)

    @extend_schema(
        operation_id="webhooks_deliveries",
        summary="List webhook deliveries",
        description="Every event sent to a URL (the account's webhook or a message's `callback_url`), newest first, "
        "paginated, with each attempt: status code, duration, error, and when the next one is due. `?message_id=` "
        "keeps a message's (sent or received), `?status=` those pending, succeeded or failed.",
        parameters=[
            OpenApiParameter("message_id", OpenApiTypes.UUID, description="Only this message's events."),
            OpenApiParameter(
                "status", str, enum=WebhookDelivery.State.values, description="Only deliveries in this state."
            ),
        ],
        responses=DeliveryOutputSerializer(many=True),
        examples=[OpenApiExample("Delivery", value=DELIVERY_EXAMPLE, response_only=True)],
    )
    def get(self, request):
        # An empty value filters nothing, as for `page`.
        filters = self.DeliveryFilterSerializer(
            data={key: value for key, value in request.query_params.items() if value}
        )
        filters.is_valid(raise_exception=True)
        return paginated_response(
            view=self,
            queryset=delivery_list(
                account_id=self.account_id,
                message_id=filters.validated_data.get("message_id"),
                state=filters.validated_data.get("status"),
            ),
            serializer_class=DeliveryOutputSerializer,
        )


class WebhookDeliveryResendApi(AccountApi):
    @extend_schema(
        operation_id="webhooks_delivery_resend",
        summary="Resend a webhook delivery",
        description="Queues a finished delivery (failed, or succeeded) for one more attempt at once, with the same "
        "`webhook-id` and body.",
        request=None,
        responses={
            202: DeliveryOutputSerializer,
            409: error_response("The delivery is still pending (`delivery_pending`)."),
        },
        examples=[
            OpenApiExample(
                "Queued",
                value=DELIVERY_EXAMPLE | {"status": "pending", "next_retry_at": "2026-11-24T15:00:00Z"},
                response_only=True,
                status_codes=["202"],
            )
        ],
    )
    def post(self, request, delivery_id):
        delivery = delivery_resend(delivery=delivery_get(account_id=self.account_id, delivery_id=delivery_id))
        return Response(DeliveryOutputSerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
