from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Account
from billing.models import Transaction
from messaging.models import IdempotencyKey, Message
from messaging.tasks import idempotency_keys_expire

SEND_URL = "/api/v1/sms/send/"
BODY = {"to": "0771234567", "sender": "MyBrand", "message": "Your code is 1234"}


def send(client, key, body=BODY):
    return client.post(SEND_URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_the_same_key_and_body_replays_the_first_answer_and_charges_nothing_more(api_client, account, sender, outbox):
    first = send(api_client, "order-42")
    again = send(api_client, "order-42")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert Message.objects.count() == 1
    assert len(outbox) == 1
    assert Account.objects.get(pk=account.pk).sms_credits == 99


def test_the_replay_is_the_first_answer_even_after_the_message_moved_on(api_client, sender):
    first = send(api_client, "order-42").json()
    Message.objects.update(status="delivered")

    assert send(api_client, "order-42").json()["status"] == first["status"] == "sent"


def test_the_same_key_with_another_body_is_a_409(api_client, sender):
    send(api_client, "order-42")

    response = send(api_client, "order-42", BODY | {"message": "Something else"})

    assert response.status_code == 409
    assert response.json() == {
        "error": "This Idempotency-Key was used with a different request body.",
        "code": "idempotency_key_reused",
    }
    assert Message.objects.count() == 1


def test_keys_are_per_account(api_client, other_client, other_account, sender):
    from tests.factories import SenderIdFactory

    SenderIdFactory(account=other_account, name="MyBrand")

    assert send(api_client, "same").json()["message_id"] != send(other_client, "same").json()["message_id"]
    assert Message.objects.count() == 2


def test_different_keys_send_twice(api_client, sender):
    send(api_client, "a")
    send(api_client, "b")

    assert Message.objects.count() == 2


def test_a_key_older_than_24_hours_sends_again(api_client, sender):
    send(api_client, "order-42")
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))

    response = send(api_client, "order-42")

    assert not response.has_header("Idempotent-Replayed")
    assert Message.objects.count() == 2


def test_a_failed_request_does_not_use_up_the_key(api_client, account, sender):
    Account.objects.filter(pk=account.pk).update(sms_credits=0)
    assert send(api_client, "order-42").status_code == 402
    Account.objects.filter(pk=account.pk).update(sms_credits=5)

    assert send(api_client, "order-42").status_code == 201
    assert Message.objects.count() == 1


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "naïve"])
def test_a_malformed_key_is_a_400(api_client, sender, key):
    response = send(api_client, key)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["fields"]
    assert Message.objects.count() == 0


def test_expired_keys_are_forgotten_by_the_periodic_task(api_client, sender):
    send(api_client, "old")
    send(api_client, "new")
    IdempotencyKey.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))

    assert idempotency_keys_expire() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]
    assert Transaction.objects.filter(type="debit").count() == 2
