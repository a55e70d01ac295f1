import re

from django.conf import settings
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from gateways.base import CallbackRefused
from gateways.handler import gateways
from reports.selectors import usage_message_count
from smsplatform.api.fields import StrictBooleanField, StrictCharField
from smsplatform.api.pagination import Pagination, paginated_response
from smsplatform.api.plain_input import plain_input
from smsplatform.api.renderers import CsvRenderer
from smsplatform.api.schema import error_response
from smsplatform.api.views import AccountApi
from smsplatform.errors import Forbidden, InvalidInput

from .delivery import receipts_apply
from .export import MESSAGE_CSV_COLUMNS, messages_csv_filename, messages_csv_response
from .fields import PhoneNumberField
from .filters import STATUSES, message_filters_parse
from .inbound import inbound_receive
from .models import Message, SenderId, sender_name_validator
from .segments import GSM7, UCS2, text_quote
from .selectors import message_get, message_history, message_list, sender_list, tester_list
from .services import message_send, sender_create

IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # printable ASCII, no spaces
CHANNELS = [Message.CHANNEL]
ENCODINGS = [GSM7, UCS2]

SEND_EXAMPLE = {"to": "0771234567", "sender": "MyBrand", "message": "Hello!"}
MESSAGE_ID_EXAMPLE = "a1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
MESSAGE_EXAMPLE = {
    "message_id": MESSAGE_ID_EXAMPLE,
    "channel": "sms",
    "recipient": "+263771234567",
    "sender": "MyBrand",
    "message": "Hello!",
    "status": "delivered",
    "segments": 1,
    "credits": 1,
    "campaign_id": None,
    "error": "",
    "error_code": "",
    "created_at": "2026-11-24T14:16:30Z",
    "sent_at": "2026-11-24T14:16:30Z",
    "delivered_at": "2026-11-24T14:16:34Z",
}
SENDER_EXAMPLE = {
    "id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    "name": "MyBrand",
    "status": "pending",
    "purpose": "Order notifications",
    "created_at": "2026-11-24T14:16:30Z",
    "reviewed_at": None,
    "rejection_reason": "",
}


class MessageOutputSerializer(serializers.Serializer):
    message_id = serializers.UUIDField(source="id")
    channel = serializers.ChoiceField(choices=CHANNELS, source="CHANNEL")
    recipient = serializers.CharField(help_text="E.164.")
    sender = serializers.CharField()
    message = serializers.CharField(source="text")
    status = serializers.ChoiceField(choices=Message.Status.choices)
    segments = serializers.IntegerField()
    credits = serializers.IntegerField()
    campaign_id = serializers.UUIDField(allow_null=True, help_text="Null for a single send.")
    error = serializers.CharField(help_text="Why it failed or was not delivered; empty otherwise.")
    error_code = serializers.CharField(help_text="`smpp:…`, `dlr:…`, `twilio:…` or `gateway:…`; empty otherwise.")
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True, help_text="When the final receipt came.")


class MessageSendApi(AccountApi):
    class SendInputSerializer(serializers.Serializer):
        to = StrictCharField(max_length=32)
        sender = StrictCharField(max_length=50)
        message = StrictCharField(trim_whitespace=False)
        transactional = StrictBooleanField(
            required=False,
            default=False,
            help_text="An OTP, a receipt, an alert the recipient asked for: sent even to a number that opted out.",
        )
        callback_url = StrictCharField(
            required=False,
            allow_blank=True,
            max_length=2000,
            help_text="Where this message's status events go, instead of the account's webhook.",
        )

    @extend_schema(
        operation_id="sms_send",
        summary="Send an SMS",
        description="Charges one credit per segment and sends through the gateway of the recipient's prefix. "
        "`status` is `sent` when the gateway took it during the request, `queued` when it is retried in the "
        "background, `failed` when the gateway rejected it (its credits are refunded at once).",
        request=SendInputSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                location=OpenApiParameter.HEADER,
                required=False,
                pattern=f"^{IDEMPOTENCY_KEY.pattern}$",
                description="The same key and body within 24 hours replay the first answer; nothing more is sent.",
            ),
            OpenApiParameter(
                "Idempotent-Replayed",
                location=OpenApiParameter.HEADER,
                response=[201],
                description="`true` when the answer is the first one to the same Idempotency-Key, replayed.",
            ),
        ],
        responses={
            201: inline_serializer(
                "SendReceipt",
                {
                    "message_id": serializers.UUIDField(),
                    "channel": serializers.ChoiceField(choices=CHANNELS),
                    "status": serializers.ChoiceField(choices=Message.Status.choices),
                    "to": serializers.CharField(help_text="As sent."),
                    "sender": serializers.CharField(),
                    "sms_credits": serializers.IntegerField(help_text="The balance after this send."),
                    "recipient": serializers.CharField(help_text="`to` in E.164."),
                    "segments": serializers.IntegerField(),
                    "credits_used": serializers.IntegerField(),
                },
            ),
            402: error_response("The balance cannot pay for the message (`insufficient_credits`)."),
            403: error_response(
                "`sender` is not an approved sender ID of the account (`sender_not_approved`), a sandbox account "
                "sends to a number that is not one of its verified testers (`sandbox_recipient`), or the recipient "
                "opted out of the account's messages and the message is not `transactional` (`recipient_opted_out`)."
            ),
            409: error_response("The Idempotency-Key was used with another body (`idempotency_key_reused`)."),
        },
        examples=[
            OpenApiExample("Send", value=SEND_EXAMPLE, request_only=True),
            OpenApiExample(
                "Sent",
                value={
                    "message_id": MESSAGE_ID_EXAMPLE,
                    "channel": "sms",
                    "status": "sent",
                    "to": "0771234567",
                    "sender": "MyBrand",
                    "sms_credits": 142,
                    "recipient": "+263771234567",
                    "segments": 1,
                    "credits_used": 1,
                },
                response_only=True,
                status_codes=["201"],
            ),
            OpenApiExample(
                "Insufficient credits",
                value={"error": "Insufficient SMS credits.", "code": "insufficient_credits"},
                response_only=True,
                status_codes=["402"],
            ),
        ],
    )
    def post(self, request):
        data = plain_input(self.SendInputSerializer, request)
        if data is None:  # DRF parses and validates it, and words any error
            serializer = self.SendInputSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
        idempotency_key = request.headers.get("Idempotency-Key")
        if idempotency_key is not None and not IDEMPOTENCY_KEY.fullmatch(idempotency_key):
            raise InvalidInput({"Idempotency-Key": ["Use 1 to 255 printable ASCII characters, without spaces."]})
        receipt, replayed = message_send(
            account_id=self.account_id,
            to=data["to"],
            sender=data["sender"],
            text=data["message"],
            transactional=data["transactional"],
            callback_url=data.get("callback_url", ""),
            idempotency_key=idempotency_key,
        )
        headers = {"Idempotent-Replayed": "true"} if replayed else {}
        return Response(receipt, status=status.HTTP_201_CREATED, headers=headers)


class QuoteApi(AccountApi):
    class QuoteInputSerializer(serializers.Serializer):
        message = StrictCharField(trim_whitespace=False, allow_blank=True)
        to = PhoneNumberField(required=False)

    @extend_schema(
        operation_id="sms_quote",
        summary="Quote a message",
        description="What sending the text would cost, and which characters force UCS-2. Spends nothing.",
        request=QuoteInputSerializer,
        responses=inline_serializer(
            "Quote",
            {
                "encoding": serializers.ChoiceField(choices=ENCODINGS),
                "characters": serializers.IntegerField(),
                "segments": serializers.IntegerField(),
                "credits": serializers.IntegerField(),
                "non_gsm_characters": serializers.ListField(child=serializers.CharField()),
            },
        ),
        examples=[
            OpenApiExample("Quote", value={"message": "Hello!", "to": "0771234567"}, request_only=True),
            OpenApiExample(
                "GSM-7",
                value={"encoding": "GSM-7", "characters": 6, "segments": 1, "credits": 1, "non_gsm_characters": []},
                response_only=True,
            ),
        ],
    )
    def post(self, request):
        serializer = self.QuoteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(text_quote(serializer.validated_data["message"]))


class HistoryApi(AccountApi):
    @extend_schema(
        operation_id="sms_history",
        summary="List recent messages",
        description="The account's last 100 messages, newest first, campaign messages included.",
        responses=inline_serializer("History", {"messages": MessageOutputSerializer(many=True)}),
        examples=[OpenApiExample("History", value={"messages": [MESSAGE_EXAMPLE]}, response_only=True)],
    )
    def get(self, request):
        messages = message_history(account_id=self.account_id)
        return Response({"messages": MessageOutputSerializer(messages, many=True).data})


CSV_EXAMPLE = (
    ",".join(MESSAGE_CSV_COLUMNS)
    + "\r\n"
    + f"{MESSAGE_ID_EXAMPLE},2026-11-24T14:16:30Z,+263771234567,MyBrand,Hello!,delivered,1,1,,,,"
    "2026-11-24T14:16:30Z,2026-11-24T14:16:34Z\r\n"
)


class MessageListApi(AccountApi):
    pagination_class = Pagination.of("messages")
    renderer_classes = [JSONRenderer, CsvRenderer]

    def perform_content_negotiation(self, request, force=False):
        try:
            return super().perform_content_negotiation(request, force=force)
        except Http404:  # DRF's answer to a ?format= that names no renderer of the view
            raise InvalidInput({"format": ["Must be json or csv."]}) from None

    def finalize_response(self, request, response, *args, **kwargs):
        # Only the list streams CSV: an error or an OPTIONS answer is JSON, also when CSV was asked for.
        renderer = getattr(request, "accepted_renderer", None)
        if isinstance(response, Response) and isinstance(renderer, CsvRenderer):
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)

    @extend_schema(
        operation_id="sms_messages_list",
        summary="List and export messages",
        description="The account's messages, newest first, paginated, campaign messages included; the filters "
        "combine. `?format=csv` (or `Accept: text/csv`) downloads every message the filters keep as one CSV file, "
        "streamed (`page` and `page_size` do not apply); a cell a spreadsheet would take for a formula starts "
        "with `'`.",
        parameters=[
            OpenApiParameter(
                "from",
                description="Created at or after: a date (`2026-11-24`, from its start) or "
                "a date and time (ISO 8601, UTC without a zone).",
            ),
            OpenApiParameter(
                "to",
                description="Created at or before: a date takes in the whole day, a time the "
                "whole of its last unit (`…T14:16:30Z`: that second).",
            ),
            OpenApiParameter("status", enum=STATUSES, description="Only messages in this status."),
            OpenApiParameter("sender", description="Only messages from this sender ID, in any case."),
            OpenApiParameter("campaign", OpenApiTypes.UUID, description="Only this campaign's messages."),
            OpenApiParameter("phone", description="Only messages to this number, as typed or E.164."),
            OpenApiParameter("format", enum=["json", "csv"], description="`csv`: every matching message as CSV."),
        ],
        responses={
            (200, "application/json"): MessageOutputSerializer(many=True),
            (200, "text/csv"): OpenApiTypes.STR,
            404: error_response("`campaign` is not a campaign of this account (`not_found`)."),
        },
        examples=[
            OpenApiExample("Delivered", value=MESSAGE_EXAMPLE, response_only=True),
            OpenApiExample("CSV", value=CSV_EXAMPLE, response_only=True, media_type="text/csv"),
        ],
    )
    def get(self, request):
        filters = message_filters_parse(request.query_params)
        messages = message_list(account_id=self.account_id, filters=filters)
        if request.accepted_renderer.format == CsvRenderer.format:
            return messages_csv_response(messages=messages, filename=messages_csv_filename())
        count = usage_message_count(account_id=self.account_id, filters=filters)
        return paginated_response(view=self, queryset=messages, serializer_class=MessageOutputSerializer, count=count)


class MessageDetailApi(AccountApi):
    @extend_schema(
        operation_id="sms_message",
        summary="Get a message",
        description="One message of the account, as in the history.",
        responses=MessageOutputSerializer,
        examples=[OpenApiExample("Delivered", value=MESSAGE_EXAMPLE, response_only=True)],
    )
    def get(self, request, message_id):
        message = message_get(account_id=self.account_id, message_id=message_id)
        return Response(MessageOutputSerializer(message).data)


class SenderOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=SenderId.Status.choices)
    purpose = serializers.CharField()
    created_at = serializers.DateTimeField()
    reviewed_at = serializers.DateTimeField(allow_null=True, help_text="Null while pending.")
    rejection_reason = serializers.CharField()


class SenderListCreateApi(AccountApi):
    class SenderCreateInputSerializer(serializers.Serializer):
        name = StrictCharField(max_length=11, validators=[sender_name_validator])
        purpose = StrictCharField(max_length=255, required=False, allow_blank=True, default="")

    @extend_schema(
        operation_id="sms_senders_list",
        summary="List sender IDs",
        description="The account's sender IDs in every status, newest first. Only approved ones can send.",
        responses=inline_serializer("SenderList", {"senders": SenderOutputSerializer(many=True)}),
        examples=[
            OpenApiExample(
                "Senders",
                value={"senders": [SENDER_EXAMPLE | {"status": "approved", "reviewed_at": "2026-11-24T15:02:11Z"}]},
                response_only=True,
            )
        ],
    )
    def get(self, request):
        return Response({"senders": SenderOutputSerializer(sender_list(account_id=self.account_id), many=True).data})

    @extend_schema(
        operation_id="sms_senders_create",
        summary="Request a sender ID",
        description="Registers a sender ID as `pending`; staff approve or reject it. Name: 3 to 11 letters, digits, "
        "spaces and `- + _ &`, at least one letter.",
        request=SenderCreateInputSerializer,
        responses={
            201: SenderOutputSerializer,
            409: error_response("The account has a sender ID with this name, in any case (`sender_exists`)."),
        },
        examples=[
            OpenApiExample("Sender ID", value={"name": "MyBrand", "purpose": "Order notifications"}, request_only=True),
            OpenApiExample("Pending", value=SENDER_EXAMPLE, response_only=True, status_codes=["201"]),
        ],
    )
    def post(self, request):
        serializer = self.SenderCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        sender = sender_create(account_id=self.account_id, **serializer.validated_data)
        return Response(SenderOutputSerializer(sender).data, status=status.HTTP_201_CREATED)


class TesterOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    phone = serializers.CharField()
    verified_at = serializers.DateTimeField()  # only verified testers are listed


class TesterListApi(AccountApi):
    @extend_schema(
        operation_id="sms_testers_list",
        summary="List tester numbers",
        description="The account's verified tester numbers: the only ones a sandbox account may send to.",
        responses=inline_serializer("TesterList", {"testers": TesterOutputSerializer(many=True)}),
        examples=[
            OpenApiExample(
                "Testers",
                value={
                    "testers": [
                        {
                            "id": "9b2d4f6a-1c3e-4a5b-8d7f-2e4c6a8b0d1f",
                            "phone": "+263771234567",
                            "verified_at": "2026-11-24T14:16:30Z",
                        }
                    ]
                },
                response_only=True,
            )
        ],
    )
    def get(self, request):
        return Response({"testers": TesterOutputSerializer(tester_list(account_id=self.account_id), many=True).data})


class GatewayCallbackApi(APIView):
    """A provider's callback (Twilio's form POST): no customer key, the provider's signature instead.

    Left out of the public schema: providers call it, customers do not.
    """

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []
    parser_classes = [FormParser]

    def accept(self, gateway, *, url: str, params: dict, headers) -> None:
        raise NotImplementedError("A callback view says what it takes from its gateway.")

    @extend_schema(exclude=True)
    def post(self, request, alias):
        if alias not in settings.SMS_GATEWAYS:
            raise Forbidden("No such gateway takes callbacks.", code="callback_refused")
        try:
            self.accept(
                gateways[alias], url=request.build_absolute_uri(), params=request.data.dict(), headers=request.headers
            )
        except CallbackRefused:
            raise Forbidden("This callback is not signed by the gateway.", code="callback_refused") from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class GatewayStatusCallbackApi(GatewayCallbackApi):
    def accept(self, gateway, **callback) -> None:
        receipts_apply(gateway.status_callback(**callback))


class GatewayInboundCallbackApi(GatewayCallbackApi):
    def accept(self, gateway, **callback) -> None:
        inbound_receive(messages=gateway.inbound_callback(**callback))
