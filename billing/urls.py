from django.urls import path

from .apis import BalanceApi, TransactionListApi

urlpatterns = [
    path("balance/", BalanceApi.as_view(), name="billing-balance"),
    path("transactions/", TransactionListApi.as_view(), name="billing-transactions"),
]
