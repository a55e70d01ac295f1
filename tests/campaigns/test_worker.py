"""Campaigns with real Celery workers on Redis and PostgreSQL, one of them killed mid-campaign."""

import json
from collections import Counter
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Account
from campaigns.models import Campaign
from contacts.models import Contact, Group
from gateways.backends.fake import SHARED_OUTBOX_KEY
from messaging.models import Message
from tests.billing.test_concurrency import assert_ledger_matches
from tests.factories import AccountFactory, SenderIdFactory, api_key_for
from tests.worker import broker_flush, celery_worker, process_kill, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

RECIPIENTS = 3000
BATCH_SIZE = 100


def make_group(account, size: int) -> Group:
    group = Group.objects.create(account=account, name="Everyone")
    contacts = Contact.objects.bulk_create(
        Contact(account=account, phone=f"+26377{n:07d}", first_name=f"Name{n}") for n in range(size)
    )
    Group.contacts.through.objects.bulk_create(
        Group.contacts.through(group_id=group.pk, contact_id=contact.pk) for contact in contacts
    )
    return group


def test_a_campaign_survives_a_killed_worker_sending_each_recipient_once(tmp_path, real_broker):
    account = AccountFactory(credits=RECIPIENTS + 500)
    SenderIdFactory(account=account, name="MyBrand")
    group = make_group(account, RECIPIENTS)
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=api_key_for(account))
    broker_flush()
    shared_outbox = redis.Redis.from_url(settings.REDIS_URL)
    shared_outbox.delete(SHARED_OUTBOX_KEY)  # another run's submissions
    worker_settings = {
        "gateway_options": {"delivery_delay": None, "latency": 0.05, "outbox_url": settings.REDIS_URL},
        "concurrency": 2,
        "CAMPAIGN_BATCH_SIZE": BATCH_SIZE,
        "SMS_SUBMIT_TIMEOUT": 1,  # leases of 7 s: the killed worker's rows come back soon
    }
    campaign_id = client.post(
        "/api/v1/campaigns/",
        {"name": "Kill test", "message": "Hi {name}!", "sender_name": "MyBrand", "group_id": str(group.pk)},
        format="json",
    ).json()["id"]

    with celery_worker(tmp_path / "first", **worker_settings) as first:
        assert client.post(f"/api/v1/campaigns/{campaign_id}/send/").status_code == 202
        wait_until(lambda: Message.objects.filter(status="sent").count() >= RECIPIENTS // 4, log=first.log_path)
        process_kill(first)
    sent_before_the_kill = Message.objects.filter(status="sent").count()
    assert sent_before_the_kill < RECIPIENTS  # killed in the middle

    with celery_worker(
        tmp_path / "second", beat=True, CAMPAIGN_SWEEP_INTERVAL=1, CAMPAIGN_STALL_SECONDS=2, **worker_settings
    ) as second:
        wait_until(lambda: Campaign.objects.get(pk=campaign_id).status == "completed", timeout=120, log=second.log_path)

    messages = Message.objects.filter(campaign_id=campaign_id)
    assert messages.count() == RECIPIENTS
    assert messages.values("contact").distinct().count() == RECIPIENTS
    assert not messages.filter(status="queued").exists()
    assert messages.filter(status="sent").count() == RECIPIENTS
    submissions = Counter(json.loads(item)[1] for item in shared_outbox.lrange(SHARED_OUTBOX_KEY, 0, -1))
    assert len(submissions) == RECIPIENTS  # everyone got it
    repeated = sum(count - 1 for count in submissions.values())
    # At most the batches in flight when the worker died go out twice: one per pool process.
    assert repeated <= 2 * BATCH_SIZE, repeated
    print(f"\nkill test: {sent_before_the_kill} sent before the kill, {repeated} submitted twice")
    assert Account.objects.get(pk=account.pk).sms_credits == 500
    assert_ledger_matches(account.pk)


def test_a_scheduled_campaign_is_started_by_beat_when_due(tmp_path):
    account = AccountFactory(credits=100)
    SenderIdFactory(account=account, name="MyBrand")
    group = make_group(account, 20)
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=api_key_for(account))
    broker_flush()
    due = timezone.now() + timedelta(seconds=3)
    campaign_id = client.post(
        "/api/v1/campaigns/",
        {"name": "Later", "message": "Hi {name}!", "sender_name": "MyBrand", "group_id": str(group.pk),
         "scheduled_at": due.isoformat()},
        format="json",
    ).json()["id"]  # fmt: skip
    assert client.post(f"/api/v1/campaigns/{campaign_id}/send/").json()["status"] == "scheduled"

    with celery_worker(tmp_path, beat=True, CAMPAIGN_SWEEP_INTERVAL=1, gateway_options={"delivery_delay": None}) as w:
        campaign = wait_until(
            lambda: Campaign.objects.filter(pk=campaign_id, status="completed").first(), log=w.log_path
        )

    assert campaign.started_at >= due
    assert Message.objects.filter(campaign_id=campaign_id, status="sent").count() == 20
