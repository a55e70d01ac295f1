import time

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Account
from billing.models import Transaction
from messaging.models import Message
from tests.factories import SenderIdFactory, TesterFactory, balance

SEND_URL = "/api/v1/sms/send/"


def send(client, **overrides):
    body = {"to": "0771234567", "sender": "MyBrand", "message": "Hello!"} | overrides
    return client.post(SEND_URL, body, format="json")


def test_send_answers_as_the_seed_shows(api_client, account, sender, outbox, enqueued):
    response = send(api_client)

    assert response.status_code == 201
    body = response.json()
    message = Message.objects.get()
    assert body == {
        "message_id": str(message.id),
        "channel": "sms",
        "status": "sent",
        "to": "0771234567",
        "sender": "MyBrand",
        "sms_credits": 99,
        "recipient": "+263771234567",
        "segments": 1,
        "credits_used": 1,
    }
    assert (message.status, message.recipient, message.text, message.attempts) == ("sent", "+263771234567", "Hello!", 1)
    assert message.sent_at is not None
    assert message.gateway == "default"
    assert [part.gateway_message_id[:5] for part in message.parts.all()] == ["fake-"]
    assert [(sms.recipient, sms.sender, sms.text) for sms in outbox] == [("+263771234567", "MyBrand", "Hello!")]
    debit = Transaction.objects.get(account=account, type="debit")
    assert (debit.amount, debit.balance_after, debit.reference) == (-1, 99, str(message.id))
    assert balance(account) == 99
    assert enqueued == []  # sent, and this gateway reports no delivery: nothing left for a worker


@pytest.mark.parametrize(
    "to", ["0771234567", "+263771234567", "263771234567", "00263771234567", "077 123 4567", "+263-77-123-4567"]
)
def test_every_zimbabwean_form_of_a_number_is_accepted(api_client, sender, to):
    body = send(api_client, to=to).json()

    assert body["to"] == to
    assert body["recipient"] == "+263771234567"


def test_other_countries_numbers_are_accepted_in_plus_form(api_client, sender):
    assert send(api_client, to="+44 7911 123456").json()["recipient"] == "+447911123456"


def test_a_long_message_costs_one_credit_per_segment(api_client, account, sender):
    body = send(api_client, message="a" * 161).json()

    assert (body["segments"], body["credits_used"], body["sms_credits"]) == (2, 2, 98)
    assert Message.objects.get().encoding == "GSM-7"


def test_a_unicode_message_is_ucs2(api_client, sender):
    body = send(api_client, message="Mhoro 😀" * 10).json()

    assert body["segments"] == 2
    assert Message.objects.get().encoding == "UCS-2"


def test_the_sender_matches_in_any_case_and_is_sent_as_registered(api_client, sender, outbox):
    assert send(api_client, sender="mybrand").json()["sender"] == "MyBrand"
    assert outbox[0].sender == "MyBrand"


BAD_BODIES = [
    ({"to": None}, "to"),
    ({"to": 771234567}, "to"),
    ({"to": ["0771234567"]}, "to"),
    ({"to": ""}, "to"),
    ({"to": "0771"}, "to"),
    ({"to": "not a number"}, "to"),
    ({"to": "+999 123"}, "to"),
    ({"message": ""}, "message"),
    ({"message": 42}, "message"),
    ({"message": None}, "message"),
    ({"message": {"text": "hi"}}, "message"),
    ({"message": "a" * 1531}, "message"),
    ({"message": "😀" * 336}, "message"),
    ({"sender": 7}, "sender"),
    ({"sender": None}, "sender"),
]


@pytest.mark.parametrize(("override", "field"), BAD_BODIES)
def test_bad_input_is_a_400_naming_the_field_and_spends_nothing(api_client, account, sender, outbox, override, field):
    response = send(api_client, **override)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["fields"]
    assert Message.objects.count() == 0
    assert balance(account) == 100
    assert list(outbox) == []


@pytest.mark.parametrize("missing", ["to", "sender", "message"])
def test_a_missing_field_is_a_400(api_client, sender, missing):
    body = {"to": "0771234567", "sender": "MyBrand", "message": "Hi"}
    del body[missing]

    response = api_client.post(SEND_URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["fields"] == {missing: ["This field is required."]}


def test_a_message_of_exactly_ten_segments_is_sent(api_client, sender):
    assert send(api_client, message="a" * 1530).json()["segments"] == 10


def test_an_unknown_sender_is_a_403(api_client, account, sender):
    response = send(api_client, sender="Unknown")

    assert response.status_code == 403
    assert response.json() == {
        "error": "Sender ID 'Unknown' is not approved for this account.",
        "code": "sender_not_approved",
    }
    assert Message.objects.count() == 0
    assert balance(account) == 100


@pytest.mark.parametrize("status", ["pending", "rejected"])
def test_a_sender_not_approved_is_a_403(api_client, account, status):
    SenderIdFactory(account=account, name="Waiting", status=status)

    assert send(api_client, sender="Waiting").status_code == 403


def test_another_accounts_approved_sender_is_a_403(api_client, other_account):
    SenderIdFactory(account=other_account, name="TheirBrand")

    assert send(api_client, sender="TheirBrand").status_code == 403


def test_sandbox_account_sends_only_to_verified_testers(api_client, account, sender):
    Account.objects.filter(pk=account.pk).update(is_sandbox=True)
    TesterFactory(account=account, phone="+263771234567")
    TesterFactory(account=account, phone="+263772222222", verified_at=None)

    assert send(api_client, to="0771234567").status_code == 201
    refused = send(api_client, to="0772222222")
    assert refused.status_code == 403
    assert refused.json()["code"] == "sandbox_recipient"
    assert send(api_client, to="0773333333").status_code == 403
    assert Message.objects.count() == 1
    assert balance(account) == 99


def test_insufficient_credits_is_a_402_and_writes_nothing(api_client, account, sender):
    response = send(api_client, message="a" * 1530)  # 10 credits of 100: fine
    assert response.status_code == 201
    Account.objects.filter(pk=account.pk).update(sms_credits=1)

    refused = send(api_client, message="a" * 161)

    assert refused.status_code == 402
    assert refused.json() == {"error": "Insufficient SMS credits.", "code": "insufficient_credits"}
    assert Message.objects.count() == 1


def test_a_rejected_message_is_failed_and_refunded_at_once(api_client, account, sender, gateway_mode, enqueued):
    gateway_mode("reject")

    body = send(api_client).json()

    assert (body["status"], body["sms_credits"]) == ("failed", 100)
    message = Message.objects.get()
    assert message.status == "failed"
    assert message.error == "Rejected by the fake gateway."
    refund = Transaction.objects.get(account=account, type="refund")
    assert (refund.amount, refund.balance_after, refund.reference) == (1, 100, str(message.id))
    assert balance(account) == 100
    assert enqueued == []  # no retry


def test_a_gateway_that_fails_for_now_leaves_the_message_queued_for_a_retry(
    api_client, account, sender, gateway_mode, enqueued
):
    gateway_mode("fail")
    before = timezone.now()

    body = send(api_client).json()

    assert (body["status"], body["sms_credits"]) == ("queued", 99)
    message = Message.objects.get()
    assert (message.status, message.attempts, message.error) == ("queued", 1, "The fake gateway is unavailable.")
    assert message.next_attempt_at >= before + timezone.timedelta(seconds=10)
    [retry] = enqueued
    assert (retry.name, retry.args) == ("messaging.tasks.message_retry", [str(message.id)])
    assert retry.countdown == pytest.approx(10, abs=1)  # SMS_RETRY_BASE_DELAY


def test_a_slow_gateway_times_out_into_queued(api_client, sender, gateway_mode, settings):
    settings.SMS_SUBMIT_TIMEOUT = 0.05
    gateway_mode(latency=0.2)

    body = send(api_client).json()

    assert body["status"] == "queued"
    assert Message.objects.get().error == "Timed out waiting for the gateway."


def test_a_gateway_that_raises_leaves_the_message_queued(api_client, sender, settings):
    settings.SMS_GATEWAYS = {"default": {"BACKEND": "tests.gateways.broken.BrokenGateway"}}

    response = send(api_client)

    assert response.status_code == 201
    assert response.json()["status"] == "queued"


def test_send_costs_a_handful_of_queries(api_client, sender, django_assert_num_queries):
    send(api_client)  # warm the caches: the key's lookup, the sender's approval

    # On PostgreSQL, the debit (which looks for the recipient's opt-out), its ledger row and the message in one
    # statement, then the outcome (sent, its part and a look for an early receipt) in another. Elsewhere they are
    # three statements each, and one more for the webhook events (an INSERT … SELECT that writes no row here).
    with django_assert_num_queries(2 if connection.vendor == "postgresql" else 7):
        assert send(api_client).status_code == 201


def test_sending_needs_a_key(anonymous_client, sender):
    assert send(anonymous_client).status_code == 401
    assert Message.objects.count() == 0


def test_a_sender_approved_meanwhile_is_usable_once_the_short_cache_expires(api_client, account, settings):
    from messaging.models import SenderId

    settings.SENDER_CACHE_SECONDS = 0.2
    pending = SenderIdFactory(account=account, name="Later", status="pending")
    assert send(api_client, sender="Later").status_code == 403
    SenderId.objects.filter(pk=pending.pk).update(status="approved")  # as another process would

    assert send(api_client, sender="Later").status_code == 403  # still the cached answer
    time.sleep(0.25)
    assert send(api_client, sender="Later").status_code == 201


def test_a_review_in_this_process_takes_effect_at_once(api_client, account):
    from messaging.services import sender_review

    pending = SenderIdFactory(account=account, name="Later", status="pending")
    assert send(api_client, sender="Later").status_code == 403

    sender_review(sender=pending, approve=True)

    assert send(api_client, sender="Later").status_code == 201
