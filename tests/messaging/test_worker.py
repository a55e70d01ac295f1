"""The background half of sending, with a real Celery worker on Redis and PostgreSQL."""

import pytest
from rest_framework.test import APIClient

from gateways.circuit import circuit_close
from messaging.models import Message
from tests.factories import AccountFactory, SenderIdFactory, api_key_for
from tests.worker import broker_flush, celery_worker, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sending_client():
    account = AccountFactory(credits=100)
    SenderIdFactory(account=account, name="MyBrand")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=api_key_for(account))
    return client


def send(client, index: int):
    return client.post(
        "/api/v1/sms/send/", {"to": f"07712345{index:02d}", "sender": "MyBrand", "message": "Hi"}, format="json"
    )


def test_queued_messages_are_sent_after_the_broker_lost_their_retry_tasks(
    sending_client, gateway_mode, settings, tmp_path, real_broker
):
    settings.SMS_RETRY_BASE_DELAY = 1
    gateway_mode("fail")  # the gateway is down while the API takes the messages
    assert {send(sending_client, index).json()["status"] for index in range(5)} == {"queued"}
    broker_flush()  # their retry tasks are gone
    circuit_close("default")  # and the gateway is back

    with celery_worker(tmp_path, beat=True, SMS_SWEEP_INTERVAL=1, SMS_SWEEP_GRACE=0, gateway_options={}):
        wait_until(lambda: not Message.objects.filter(status="queued").exists(), log=tmp_path / "worker.log")

    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}
    assert set(Message.objects.values_list("attempts", flat=True)) == {2}


def test_retry_tasks_send_queued_messages_when_the_gateway_is_back(
    sending_client, gateway_mode, settings, tmp_path, real_broker
):
    settings.SMS_RETRY_BASE_DELAY = 1
    gateway_mode("fail")
    send(sending_client, 1)

    with celery_worker(tmp_path, gateway_options={"delivery_delay": None}):
        wait_until(lambda: Message.objects.filter(status="sent").exists(), log=tmp_path / "worker.log")

    assert Message.objects.get().attempts == 2


def test_the_fake_gateway_reports_delivery_shortly_after_accepting(sending_client, gateway_mode, tmp_path, real_broker):
    gateway_mode("accept", delivery_delay=0.2)
    message_id = send(sending_client, 1).json()["message_id"]

    with celery_worker(tmp_path):
        message = wait_until(
            lambda: Message.objects.filter(pk=message_id, status="delivered").first(), log=tmp_path / "worker.log"
        )

    assert message.delivered_at >= message.sent_at
