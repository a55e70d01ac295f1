import pytest
from django.core.cache import cache

from webhooks.dispatch import webhooks_deliver
from webhooks.services import endpoint_update

from .receiver import WebhookReceiver

SEND = {"to": "0771234567", "sender": "MyBrand", "message": "Hello!"}


@pytest.fixture(autouse=True)
def _dispatch_flags_forgotten():
    """A dispatcher flag left by another test (the cache outlives tests) would swallow this one's kicks."""
    cache.clear()


@pytest.fixture
def receiver():
    """Start a loopback webhook receiver: receiver(500, 200, delay=…); stopped at the end of the test."""
    started = []

    def start(*answers: int, **options) -> WebhookReceiver:
        server = WebhookReceiver(*answers, **options).__enter__()
        started.append(server)
        return server

    yield start
    for server in started:
        server.__exit__(None, None, None)


@pytest.fixture
def webhook(account, receiver):
    """`account`'s webhook, on a receiver answering 200."""
    server = receiver()
    endpoint_update(account_id=account.pk, url=server.url, events=["message.status", "message.received"])
    return server


def deliver(origin: str) -> None:
    """Run the origin's dispatcher, as its Celery task and the tasks it queues would, until nothing is due."""
    while webhooks_deliver(origin=origin):
        pass


def send(client, **overrides):
    return client.post("/api/v1/sms/send/", SEND | overrides, format="json")
