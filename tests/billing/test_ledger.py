import pytest
from django.db import IntegrityError, connection, transaction

from accounts.models import Account
from billing.models import Transaction
from billing.services import credits_adjust, credits_debit, credits_refund, credits_topup
from smsplatform.errors import InsufficientCredits
from tests.factories import AccountFactory, balance


def ledger_sum(account) -> int:
    return sum(Transaction.objects.filter(account=account).values_list("amount", flat=True))


def test_each_change_writes_one_ledger_row_with_the_balance_after(db):
    account = AccountFactory()

    topup = credits_topup(account_id=account.pk, amount=10, description="Bank transfer", reference="INV-1")
    debit = credits_debit(account_id=account.pk, amount=3, reference="msg-1")
    refund = credits_refund(account_id=account.pk, amount=1, reference="msg-1")
    adjustment = credits_adjust(account_id=account.pk, amount=-2, description="Correction")

    assert [(row.type, row.amount, row.balance_after) for row in (topup, debit, refund, adjustment)] == [
        ("topup", 10, 10),
        ("debit", -3, 7),
        ("refund", 1, 8),
        ("adjustment", -2, 6),
    ]
    assert topup.description == "Bank transfer"
    assert topup.reference == "INV-1"
    assert balance(account) == ledger_sum(account) == 6


def test_debit_beyond_the_balance_raises_and_changes_nothing(db):
    account = AccountFactory(credits=2)

    with pytest.raises(InsufficientCredits):
        credits_debit(account_id=account.pk, amount=3)

    assert balance(account) == 2
    assert Transaction.objects.filter(account=account).count() == 1


def test_debit_of_the_whole_balance_leaves_zero(db):
    account = AccountFactory(credits=5)

    assert credits_debit(account_id=account.pk, amount=5).balance_after == 0
    with pytest.raises(InsufficientCredits):
        credits_debit(account_id=account.pk, amount=1)


def test_negative_adjustment_cannot_overdraw(db):
    account = AccountFactory(credits=1)

    with pytest.raises(InsufficientCredits):
        credits_adjust(account_id=account.pk, amount=-2, description="Too much")
    assert balance(account) == ledger_sum(account) == 1


@pytest.mark.parametrize("amount", [0, -1, 1.5, "3", True, None])
def test_amounts_must_be_positive_integers(db, amount):
    account = AccountFactory(credits=10)

    for service in (credits_topup, credits_debit, credits_refund):
        with pytest.raises(ValueError):
            service(account_id=account.pk, amount=amount)
    assert balance(account) == ledger_sum(account) == 10


def test_unknown_account_raises_does_not_exist(db):
    with pytest.raises(Account.DoesNotExist):
        credits_topup(account_id="00000000-0000-0000-0000-000000000000", amount=1)


def test_the_balance_column_refuses_negative_values(db):
    account = AccountFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=account.pk).update(sms_credits=-1)


@pytest.mark.postgres
def test_postgresql_refuses_to_update_a_ledger_row(db):
    row = credits_topup(account_id=AccountFactory().pk, amount=5)

    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        Transaction.objects.filter(pk=row.pk).update(amount=500)


@pytest.mark.postgres
def test_postgresql_refuses_to_delete_a_ledger_row(db):
    row = credits_topup(account_id=AccountFactory().pk, amount=5)

    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM billing_transaction WHERE id = %s", [row.pk])
    assert Transaction.objects.filter(pk=row.pk).exists()
