from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from smsplatform.api.pagination import Pagination, paginated_response
from smsplatform.api.views import AccountApi

from .selectors import balance_get, transaction_list


class BalanceApi(AccountApi):
    @extend_schema(responses=inline_serializer("Balance", {"sms_credits": serializers.IntegerField()}))
    def get(self, request):
        return Response({"sms_credits": balance_get(account_id=self.account_id)})


class TransactionOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    type = serializers.CharField()
    amount = serializers.IntegerField()
    balance_after = serializers.IntegerField()
    description = serializers.CharField()
    reference = serializers.CharField()
    created_at = serializers.DateTimeField()


class TransactionListApi(AccountApi):
    pagination_class = Pagination.of("transactions")

    @extend_schema(responses=TransactionOutputSerializer(many=True))
    def get(self, request):
        return paginated_response(
            view=self,
            queryset=transaction_list(account_id=self.account_id),
            serializer_class=TransactionOutputSerializer,
        )
