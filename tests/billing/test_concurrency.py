"""Many threads spending one account's credits at once, committing for real: on PostgreSQL (one statement per
change) and on SQLite (a transaction that takes the write lock up front), as `make run` has it."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from accounts.models import Account
from billing.models import Transaction
from billing.services import credits_debit, credits_refund, credits_topup
from smsplatform.errors import InsufficientCredits
from tests.factories import AccountFactory

THREADS = 24


def run_concurrently(task, count: int) -> list:
    """Run `task(i)` in `count` threads released together; returns each result or exception."""
    barrier = threading.Barrier(count)

    def worker(index):
        try:
            barrier.wait()
            return task(index)
        except Exception as exc:
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(worker, range(count)))


def assert_ledger_matches(account_id) -> int:
    balance = Account.objects.values_list("sms_credits", flat=True).get(pk=account_id)
    assert balance >= 0
    assert balance == sum(Transaction.objects.filter(account_id=account_id).values_list("amount", flat=True))
    return balance


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("amount", [1, 2, 3])
def test_concurrent_debits_never_overspend(amount):
    account = AccountFactory(credits=10)
    debits_it_can_pay = 10 // amount

    results = run_concurrently(lambda i: credits_debit(account_id=account.pk, amount=amount), THREADS)

    paid = [result for result in results if isinstance(result, Transaction)]
    refused = [result for result in results if isinstance(result, InsufficientCredits)]
    assert len(paid) == debits_it_can_pay
    assert len(refused) == THREADS - debits_it_can_pay
    assert assert_ledger_matches(account.pk) == 10 - debits_it_can_pay * amount
    # Each row's balance_after is one step of a single serial history.
    assert sorted(row.balance_after for row in paid) == [10 - amount * n for n in range(debits_it_can_pay, 0, -1)]


@pytest.mark.django_db(transaction=True)
def test_concurrent_mixed_changes_keep_the_balance_equal_to_the_ledger():
    account = AccountFactory(credits=20)

    def change(index):
        match index % 3:
            case 0:
                return credits_debit(account_id=account.pk, amount=3)
            case 1:
                return credits_refund(account_id=account.pk, amount=1)
            case _:
                return credits_topup(account_id=account.pk, amount=2)

    results = run_concurrently(change, THREADS * 2)

    assert not [result for result in results if not isinstance(result, Transaction | InsufficientCredits)]
    assert_ledger_matches(account.pk)
