"""Sends racing for the last credits and for one Idempotency-Key, committing for real: on PostgreSQL and on SQLite."""

import pytest
from rest_framework.test import APIClient

from accounts.models import Account
from billing.models import Transaction
from messaging.models import Message
from tests.billing.test_concurrency import assert_ledger_matches, run_concurrently
from tests.factories import AccountFactory, SenderIdFactory, api_key_for

THREADS = 30


def sending(secret: str, *, message: str, to: str | None = None, **headers):
    """A task for run_concurrently: thread i sends `message` (to its own number unless `to` is given)."""

    def send(index):
        client = APIClient()
        client.credentials(HTTP_X_API_KEY=secret)
        body = {"to": to or f"07712345{index:02d}", "sender": "MyBrand", "message": message}
        return client.post("/api/v1/sms/send/", body, format="json", **headers)

    return send


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("text", "credits"), [("Hello!", 10), ("a" * 200, 20)], ids=["one-segment", "two-segments"])
def test_thirty_sends_on_credit_for_ten_exactly_ten_succeed(text, credits):
    account = AccountFactory(credits=credits)
    SenderIdFactory(account=account, name="MyBrand")
    responses = run_concurrently(sending(api_key_for(account), message=text), THREADS)

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] * 10 + [402] * 20
    assert Account.objects.get(pk=account.pk).sms_credits == 0
    assert assert_ledger_matches(account.pk) == 0
    assert Message.objects.filter(account=account).count() == 10
    assert Transaction.objects.filter(account=account, type="debit").count() == 10
    balances_reported = sorted(response.json()["sms_credits"] for response in responses if response.status_code == 201)
    assert balances_reported == sorted(credits - (n + 1) * (credits // 10) for n in range(10))


@pytest.mark.django_db(transaction=True)
def test_simultaneous_requests_with_one_idempotency_key_send_and_charge_once():
    account = AccountFactory(credits=100)
    SenderIdFactory(account=account, name="MyBrand")
    send = sending(api_key_for(account), message="Your code is 1234", to="0771234567", HTTP_IDEMPOTENCY_KEY="otp-1234")

    responses = run_concurrently(send, 12)

    assert {response.status_code for response in responses} == {201}
    assert len({response.json()["message_id"] for response in responses}) == 1
    assert Message.objects.filter(account=account).count() == 1
    assert Account.objects.get(pk=account.pk).sms_credits == 99
    assert assert_ledger_matches(account.pk) == 99
