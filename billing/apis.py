from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from smsplatform.api.pagination import Pagination, paginated_response
from smsplatform.api.views import AccountApi

from .models import Transaction
from .selectors import balance_get, transaction_list


class BalanceApi(AccountApi):
    @extend_schema(
        summary="Get the balance",
        description="The account's SMS credits: one credit per message segment.",
        responses=inline_serializer("Balance", {"sms_credits": serializers.IntegerField()}),
        examples=[OpenApiExample("Balance", value={"sms_credits": 142}, response_only=True)],
    )
    def get(self, request):
        return Response({"sms_credits": balance_get(account_id=self.account_id)})


class TransactionOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    type = serializers.ChoiceField(choices=Transaction.Type.choices)
    amount = serializers.IntegerField(help_text="Signed: positive adds credits, negative spends them.")
    balance_after = serializers.IntegerField()
    description = serializers.CharField()
    reference = serializers.CharField(help_text="What caused it: a message or campaign id, or `admin:<user id>`.")
    created_at = serializers.DateTimeField()


class TransactionListApi(AccountApi):
    pagination_class = Pagination.of("transactions")

    @extend_schema(
        summary="List transactions",
        description="The credit ledger, newest first: top-ups, debits, refunds and adjustments. The balance always "
        "equals the sum of the amounts.",
        responses=TransactionOutputSerializer(many=True),
        examples=[
            OpenApiExample(
                "Debit",
                value={
                    "id": "0f6e8d4c-2b1a-4c3d-8e5f-6a7b8c9d0e1f",
                    "type": "debit",
                    "amount": -1,
                    "balance_after": 142,
                    "description": "SMS to +263771234567",
                    "reference": "a1b2c3d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
                    "created_at": "2026-11-24T14:16:30Z",
                },
                response_only=True,
            )
        ],
    )
    def get(self, request):
        return paginated_response(
            view=self,
            queryset=transaction_list(account_id=self.account_id),
            serializer_class=TransactionOutputSerializer,
        )
