"""Two-way messaging: what phones sent to the account's inbound numbers, and the numbers that opted out."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from smsplatform.api.pagination import Pagination, paginated_response
from smsplatform.api.schema import DeleteWithBodySchema, error_response
from smsplatform.api.views import AccountApi
from smsplatform.errors import NotFound

from .fields import PhoneNumberField
from .inbound import number_normalize
from .models import OptOut
from .selectors import inbox_list, opt_out_list
from .services import opt_out_add, opt_out_remove, opt_outs_import

INBOUND_EXAMPLE = {
    "id": "4f1c2b7e-9a0d-4e3b-8c6f-1d2e3f4a5b6c",
    "from": "+263771234567",
    "to": "+263772000111",
    "text": "STOP",
    "keyword": "",
    "parts": 1,
    "received_at": "2026-11-24T14:16:30Z",
}
OPT_OUT_EXAMPLE = {"phone": "+263771234567", "source": "keyword", "created_at": "2026-11-24T14:16:30Z"}


class InboundOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    # `from` is a Python keyword: declared below.
    to = serializers.CharField(source="recipient", help_text="The account's inbound number (E.164, or a short code).")
    text = serializers.CharField(help_text="The whole message, its parts reassembled.")
    keyword = serializers.CharField(help_text="The keyword that routed it to the account on a shared number, or ''.")
    parts = serializers.IntegerField()
    received_at = serializers.DateTimeField()

    def get_fields(self):
        fields = super().get_fields()
        sender = serializers.CharField(source="sender", help_text="The phone that sent it, E.164.")
        return {"id": fields.pop("id"), "from": sender, **fields}


class InboxApi(AccountApi):
    pagination_class = Pagination.of("messages")

    class InboxFilterSerializer(serializers.Serializer):
        number = serializers.CharField(required=False, max_length=32)
        sender = PhoneNumberField(required=False)
        since = serializers.DateTimeField(required=False)
        until = serializers.DateTimeField(required=False)

    @extend_schema(
        operation_id="sms_inbox",
        summary="List received messages",
        description="What phones sent to the account's inbound numbers, newest first, paginated. `?number=` keeps "
        "one inbound number's, `?sender=` one phone's, `?since=` and `?until=` (ISO 8601) a time range.",
        parameters=[
            OpenApiParameter("number", description="One of the account's inbound numbers, as typed or E.164."),
            OpenApiParameter("sender", description="The phone that sent the messages, as typed or E.164."),
            OpenApiParameter("since", OpenApiTypes.DATETIME, description="Received at or after this time."),
            OpenApiParameter("until", OpenApiTypes.DATETIME, description="Received before this time."),
        ],
        responses={200: InboundOutputSerializer(many=True)},
        examples=[OpenApiExample("Received", value=INBOUND_EXAMPLE, response_only=True)],
    )
    def get(self, request):
        filters = self.InboxFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        if "number" in data:
            data["number"] = number_normalize(data["number"])
        return paginated_response(
            view=self,
            queryset=inbox_list(account_id=self.account_id, **data),
            serializer_class=InboundOutputSerializer,
        )


class OptOutOutputSerializer(serializers.Serializer):
    phone = serializers.CharField(help_text="E.164.")
    source = serializers.ChoiceField(choices=OptOut.Source.choices, help_text="How the number came to opt out.")
    created_at = serializers.DateTimeField()


class OptOutPhoneInputSerializer(serializers.Serializer):
    phone = PhoneNumberField()


OPT_OUT_NOT_FOUND = error_response("The number has not opted out of the account's messages (`not_found`).")


class OptOutListApi(AccountApi):
    pagination_class = Pagination.of("opt_outs")
    schema = DeleteWithBodySchema()

    class OptOutFilterSerializer(serializers.Serializer):
        phone = PhoneNumberField(required=False)

    @extend_schema(
        operation_id="opt_outs_list",
        summary="List opt-outs",
        description="The numbers that opted out of the account's messages (by texting STOP, through the API or "
        "an import, or as a contact marked `opted_out`), newest first, paginated; `?phone=` looks one up. "
        "Campaigns skip them; a single send to one is refused unless `transactional`.",
        parameters=[OpenApiParameter("phone", description="One number, as typed or E.164.")],
        responses={200: OptOutOutputSerializer(many=True)},
        examples=[OpenApiExample("Opt-out", value=OPT_OUT_EXAMPLE, response_only=True)],
    )
    def get(self, request):
        filters = self.OptOutFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return paginated_response(
            view=self,
            queryset=opt_out_list(account_id=self.account_id, **filters.validated_data),
            serializer_class=OptOutOutputSerializer,
        )

    @extend_schema(
        operation_id="opt_outs_add",
        summary="Add an opt-out",
        description="The number gets no more of the account's messages but transactional ones; a contact with "
        "it is marked `opted_out`. 201 when new, 200 when it had opted out already (unchanged).",
        request=OptOutPhoneInputSerializer,
        responses={201: OptOutOutputSerializer, 200: OptOutOutputSerializer},
        examples=[
            OpenApiExample("Opt out", value={"phone": "0771234567"}, request_only=True),
            OpenApiExample(
                "Opted out", value={**OPT_OUT_EXAMPLE, "source": "api"}, response_only=True, status_codes=["201"]
            ),
            OpenApiExample("Opted out already", value=OPT_OUT_EXAMPLE, response_only=True, status_codes=["200"]),
        ],
    )
    def post(self, request):
        serializer = OptOutPhoneInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        opt_out, created = opt_out_add(account_id=self.account_id, phone=serializer.validated_data["phone"])
        return Response(
            OptOutOutputSerializer(opt_out).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    @extend_schema(
        operation_id="opt_outs_remove",
        summary="Remove an opt-out",
        description="The number may get the account's messages again; a contact with it is no longer marked "
        "`opted_out`. Only for a number that asked for it: a STOP is the recipient's word.",
        request=OptOutPhoneInputSerializer,
        responses={204: None, 404: OPT_OUT_NOT_FOUND},
        examples=[OpenApiExample("Opt back in", value={"phone": "0771234567"}, request_only=True)],
    )
    def delete(self, request):
        serializer = OptOutPhoneInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if not opt_out_remove(account_id=self.account_id, phone=serializer.validated_data["phone"]):
            raise NotFound("This number has not opted out.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class OptOutImportApi(AccountApi):
    class OptOutImportInputSerializer(serializers.Serializer):
        phones = serializers.ListField(
            child=serializers.JSONField(), max_length=100_000, help_text="Numbers as typed or E.164."
        )

    @extend_schema(
        operation_id="opt_outs_import",
        summary="Import a suppression list",
        description="Opt out many numbers at once (up to 100,000): numbers that are not valid are reported in "
        "`errors` (the first 100, by position from 1) and never stop the others.",
        request=OptOutImportInputSerializer,
        responses={
            200: inline_serializer(
                "OptOutImportResult",
                {
                    "added": serializers.IntegerField(),
                    "existing": serializers.IntegerField(help_text="Numbers that had opted out already."),
                    "failed": serializers.IntegerField(),
                    "errors": inline_serializer(
                        "OptOutImportError",
                        {"row": serializers.IntegerField(), "error": serializers.CharField()},
                        many=True,
                    ),
                },
            ),
        },
        examples=[
            OpenApiExample("Suppression list", value={"phones": ["0771234567", "+263772345678"]}, request_only=True),
            OpenApiExample(
                "Imported", value={"added": 2, "existing": 0, "failed": 0, "errors": []}, response_only=True
            ),
        ],
    )
    def post(self, request):
        serializer = self.OptOutImportInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(opt_outs_import(account_id=self.account_id, phones=serializer.validated_data["phones"]))
