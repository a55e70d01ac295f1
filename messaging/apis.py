import re

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from gateways.base import CallbackRefused
from gateways.handler import gateways
from smsplatform.api.fields import StrictCharField
from smsplatform.api.views import AccountApi
from smsplatform.errors import Forbidden, InvalidInput

from .delivery import receipts_apply
from .fields import PhoneNumberField
from .models import sender_name_validator
from .segments import segment_count
from .selectors import message_get, message_history, sender_list, tester_list
from .services import message_send, sender_create

IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # printable ASCII, no spaces


class MessageOutputSerializer(serializers.Serializer):
    message_id = serializers.UUIDField(source="id")
    channel = serializers.CharField(source="CHANNEL")
    recipient = serializers.CharField()
    sender = serializers.CharField()
    message = serializers.CharField(source="text")
    status = serializers.CharField()
    segments = serializers.IntegerField()
    credits = serializers.IntegerField()
    campaign_id = serializers.UUIDField()
    error = serializers.CharField()
    error_code = serializers.CharField()
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField()
    delivered_at = serializers.DateTimeField()


class MessageSendApi(AccountApi):
    class SendInputSerializer(serializers.Serializer):
        to = StrictCharField(max_length=32)
        sender = StrictCharField(max_length=50)
        message = StrictCharField(trim_whitespace=False)

    @extend_schema(
        operation_id="sms_send",
        request=SendInputSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                location=OpenApiParameter.HEADER,
                required=False,
                description="The same key and body within 24 hours replay the first answer; nothing more is sent.",
            )
        ],
        responses={
            201: inline_serializer(
                "SendReceipt",
                {
                    "message_id": serializers.UUIDField(),
                    "channel": serializers.CharField(),
                    "status": serializers.CharField(),
                    "to": serializers.CharField(),
                    "sender": serializers.CharField(),
                    "sms_credits": serializers.IntegerField(),
                    "recipient": serializers.CharField(),
                    "segments": serializers.IntegerField(),
                    "credits_used": serializers.IntegerField(),
                },
            )
        },
    )
    def post(self, request):
        serializer = self.SendInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        idempotency_key = request.headers.get("Idempotency-Key")
        if idempotency_key is not None and not IDEMPOTENCY_KEY.fullmatch(idempotency_key):
            raise InvalidInput({"Idempotency-Key": ["Use 1 to 255 printable ASCII characters, without spaces."]})
        data = serializer.validated_data
        receipt, replayed = message_send(
            account_id=self.account_id,
            to=data["to"],
            sender=data["sender"],
            text=data["message"],
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
        request=QuoteInputSerializer,
        responses=inline_serializer(
            "Quote",
            {
                "encoding": serializers.ChoiceField(choices=["GSM-7", "UCS-2"]),
                "characters": serializers.IntegerField(),
                "segments": serializers.IntegerField(),
                "credits": serializers.IntegerField(),
                "non_gsm_characters": serializers.ListField(child=serializers.CharField()),
            },
        ),
    )
    def post(self, request):
        serializer = self.QuoteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        count = segment_count(serializer.validated_data["message"])
        return Response(
            {
                "encoding": count.encoding,
                "characters": count.characters,
                "segments": count.segments,
                "credits": count.segments,
                "non_gsm_characters": count.non_gsm_characters,
            }
        )


class HistoryApi(AccountApi):
    @extend_schema(
        operation_id="sms_history",
        responses=inline_serializer("History", {"messages": MessageOutputSerializer(many=True)}),
    )
    def get(self, request):
        messages = message_history(account_id=self.account_id)
        return Response({"messages": MessageOutputSerializer(messages, many=True).data})


class MessageDetailApi(AccountApi):
    @extend_schema(operation_id="sms_message", responses=MessageOutputSerializer)
    def get(self, request, message_id):
        message = message_get(account_id=self.account_id, message_id=message_id)
        return Response(MessageOutputSerializer(message).data)


class SenderOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    status = serializers.CharField()
    purpose = serializers.CharField()
    created_at = serializers.DateTimeField()
    reviewed_at = serializers.DateTimeField()
    rejection_reason = serializers.CharField()


class SenderListCreateApi(AccountApi):
    class SenderCreateInputSerializer(serializers.Serializer):
        name = StrictCharField(max_length=11, validators=[sender_name_validator])
        purpose = StrictCharField(max_length=255, required=False, allow_blank=True, default="")

    @extend_schema(
        operation_id="sms_senders_list",
        responses=inline_serializer("SenderList", {"senders": SenderOutputSerializer(many=True)}),
    )
    def get(self, request):
        return Response({"senders": SenderOutputSerializer(sender_list(account_id=self.account_id), many=True).data})

    @extend_schema(
        operation_id="sms_senders_create", request=SenderCreateInputSerializer, responses={201: SenderOutputSerializer}
    )
    def post(self, request):
        serializer = self.SenderCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        sender = sender_create(account_id=self.account_id, **serializer.validated_data)
        return Response(SenderOutputSerializer(sender).data, status=status.HTTP_201_CREATED)


class TesterOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    phone = serializers.CharField()
    verified_at = serializers.DateTimeField()


class TesterListApi(AccountApi):
    @extend_schema(
        operation_id="sms_testers_list",
        responses=inline_serializer("TesterList", {"testers": TesterOutputSerializer(many=True)}),
    )
    def get(self, request):
        return Response({"testers": TesterOutputSerializer(tester_list(account_id=self.account_id), many=True).data})


class GatewayStatusCallbackApi(APIView):
    """A provider's status callback (Twilio's form POST): no customer key, the provider's signature instead.

    Left out of the public schema: providers call it, customers do not.
    """

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []
    parser_classes = [FormParser]

    @extend_schema(exclude=True)
    def post(self, request, alias):
        if alias not in settings.SMS_GATEWAYS:
            raise Forbidden("No such gateway takes status callbacks.", code="callback_refused")
        try:
            receipts = gateways[alias].status_callback(
                url=request.build_absolute_uri(), params=request.data.dict(), headers=request.headers
            )
        except CallbackRefused:
            raise Forbidden("This callback is not signed by the gateway.", code="callback_refused") from None
        receipts_apply(receipts)
        return Response(status=status.HTTP_204_NO_CONTENT)
