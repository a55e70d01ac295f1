from django.db.models import QuerySet

from accounts.models import Account

from .models import Transaction


def balance_get(*, account_id) -> int:
    return Account.objects.filter(pk=account_id).values_list("sms_credits", flat=True).get()


def transaction_list(*, account_id) -> QuerySet[Transaction]:
    return Transaction.objects.filter(account_id=account_id).order_by("-created_at", "-id")
