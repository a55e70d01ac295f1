"""The campaign life cycle through the API, with the batches run here in the test process."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Account
from billing.models import Transaction
from campaigns.models import Campaign
from campaigns.services import campaign_batch, campaigns_recover, campaigns_start_due
from campaigns.tasks import campaign_batch_send
from messaging.models import Message
from messaging.services import sender_review
from reports.models import UsageChange
from reports.services import usage_compact
from tests.billing.test_concurrency import assert_ledger_matches
from tests.factories import ContactFactory, GroupFactory, MessageFactory, SenderIdFactory, balance

from .helpers import run_batches, url


def batch_tasks(campaign_id, count: int) -> list[tuple]:
    """`count` batch tasks of the campaign, to run at once, as `enqueued` lists them."""
    return [("campaigns.tasks.campaign_batch_send", [campaign_id], None)] * count


def name_args_countdown(enqueued) -> list[tuple]:
    return [(task.name, task.args, task.countdown) for task in enqueued]


def test_the_seed_example_creates_a_draft(create_campaign, group, members):
    response = create_campaign()

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {
        "id", "name", "message", "sender_name", "group_id", "status", "status_reason", "scheduled_at",
        "created_at", "started_at", "finished_at", "stats", "estimated_credits", "preparation",
    }  # fmt: skip
    assert (body["name"], body["status"], body["group_id"], body["sender_name"]) == (
        "March Promo",
        "draft",
        str(group.pk),
        "MyBrand",
    )
    assert body["stats"] == {"recipients": 0, "queued": 0, "sent": 0, "delivered": 0, "failed": 0}
    assert body["estimated_credits"] == 2  # two members not opted out, one segment each
    assert body["preparation"] == {"preparing": False, "prepared": 0, "expected": 2}


def test_the_estimate_renders_each_recipient(create_campaign, account, group):
    ContactFactory(account=account, first_name="A" * 90, groups=[group])
    ContactFactory(account=account, first_name="Bo", groups=[group])

    body = create_campaign(message="Hi {name}, " + "x" * 70).json()

    assert body["estimated_credits"] == 3  # the long name needs a second segment


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"message": "Hi {nmae}"}, "message"),
        ({"message": "Hi {name"}, "message"),
        ({"message": 5}, "message"),
        ({"name": None}, "name"),
        ({"group_id": "not-a-uuid"}, "group_id"),
        ({"group_id": 42}, "group_id"),
        ({"group_id": "00000000-0000-0000-0000-000000000000"}, "group_id"),
        ({"scheduled_at": "tomorrow"}, "scheduled_at"),
    ],
)
def test_bad_campaigns_are_a_400_naming_the_field(create_campaign, override, field):
    response = create_campaign(**override)

    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert Campaign.objects.count() == 0


def test_an_unknown_placeholder_is_named(create_campaign):
    body = create_campaign(message="Hi {nmae}").json()

    assert body["fields"]["message"][0].startswith("Unknown placeholder {nmae}")


def test_another_accounts_group_is_refused(create_campaign, other_account):
    theirs = GroupFactory(account=other_account)

    assert create_campaign(group_id=str(theirs.pk)).status_code == 400


def test_a_sender_not_approved_is_a_403(create_campaign, account):
    SenderIdFactory(account=account, name="Pending", status="pending")

    assert create_campaign(sender_name="Pending").status_code == 403


def test_send_reserves_snapshots_and_the_batches_complete_it(
    api_client, create_campaign, account, members, outbox, settings, enqueued, django_capture_on_commit_callbacks
):
    settings.CAMPAIGN_PARALLEL_BATCHES = 3
    campaign_id = create_campaign().json()["id"]

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(url(campaign_id, "send"))

    assert name_args_countdown(enqueued) == batch_tasks(campaign_id, 3)  # once committed
    assert response.status_code == 202
    assert response.json()["status"] == "sending"
    assert response.json()["stats"] == {"recipients": 2, "queued": 2, "sent": 0, "delivered": 0, "failed": 0}
    reservation = Transaction.objects.get(account=account, type="debit")
    assert (reservation.amount, reservation.reference) == (-2, campaign_id)
    assert balance(account) == 98

    run_batches(campaign_id)

    body = api_client.get(url(campaign_id)).json()
    assert body["status"] == "completed"
    assert body["finished_at"] is not None
    assert body["stats"] == {"recipients": 2, "queued": 0, "sent": 2, "delivered": 0, "failed": 0}
    assert sorted(sms.text for sms in outbox) == [
        "Hi Rudo, enjoy 20% off this week!",
        "Hi Tendai, enjoy 20% off this week!",
    ]
    assert balance(account) == 98
    assert_ledger_matches(account.pk)


def test_campaign_messages_are_listed_and_in_the_history(api_client, create_campaign, members):
    campaign_id = create_campaign().json()["id"]
    api_client.post(url(campaign_id, "send"))
    run_batches(campaign_id)

    page = api_client.get(url(campaign_id, "messages")).json()
    history = api_client.get("/api/v1/sms/history/").json()["messages"]

    assert page["count"] == 2
    assert {message["recipient"] for message in page["messages"]} == {"+263771000001", "+263771000002"}
    assert {message["campaign_id"] for message in history} == {campaign_id}


def test_send_without_credit_for_everyone_is_a_402_and_changes_nothing(api_client, create_campaign, account, members):
    campaign_id = create_campaign().json()["id"]
    Account.objects.filter(pk=account.pk).update(sms_credits=1)

    response = api_client.post(url(campaign_id, "send"))

    assert response.status_code == 402
    assert Campaign.objects.get(pk=campaign_id).status == "draft"
    assert Message.objects.count() == 0
    assert balance(account) == 1


def test_pause_stops_the_batches_and_send_resumes(api_client, create_campaign, members, settings, outbox):
    settings.CAMPAIGN_BATCH_SIZE = 1
    campaign_id = create_campaign().json()["id"]
    api_client.post(url(campaign_id, "send"))
    campaign_batch(campaign_id=campaign_id)

    assert api_client.post(url(campaign_id, "pause")).json()["status"] == "paused"
    assert campaign_batch(campaign_id=campaign_id) is None
    assert len(outbox) == 1

    assert api_client.post(url(campaign_id, "send")).json()["status"] == "sending"
    run_batches(campaign_id)
    assert Campaign.objects.get(pk=campaign_id).status == "completed"
    assert len(outbox) == 2


def test_cancel_refunds_everything_not_sent_in_one_entry(api_client, create_campaign, account, group, settings):
    ContactFactory.create_batch(5, account=account, groups=[group])
    settings.CAMPAIGN_BATCH_SIZE = 2
    campaign_id = create_campaign().json()["id"]
    api_client.post(url(campaign_id, "send"))
    campaign_batch(campaign_id=campaign_id)

    response = api_client.post(url(campaign_id, "cancel"))

    assert response.json()["status"] == "cancelled"
    assert response.json()["stats"] == {"recipients": 5, "queued": 0, "sent": 2, "delivered": 0, "failed": 3}
    refund = Transaction.objects.get(account=account, type="refund")
    assert (refund.amount, refund.reference) == (3, campaign_id)
    assert balance(account) == 98
    assert campaign_batch(campaign_id=campaign_id) is None
    assert_ledger_matches(account.pk)


def test_rejected_messages_are_refunded(api_client, create_campaign, account, members, gateway_mode):
    gateway_mode("reject")
    campaign_id = create_campaign().json()["id"]
    api_client.post(url(campaign_id, "send"))

    run_batches(campaign_id)

    body = api_client.get(url(campaign_id)).json()
    assert (body["status"], body["stats"]["failed"]) == ("completed", 2)
    assert balance(account) == 100
    assert_ledger_matches(account.pk)


def test_messages_failing_for_now_wait_and_are_retried(api_client, create_campaign, members, gateway_mode):
    gateway_mode("fail")
    campaign_id = create_campaign().json()["id"]
    api_client.post(url(campaign_id, "send"))

    assert campaign_batch(campaign_id=campaign_id) == 0  # submitted: go on
    delay = campaign_batch(campaign_id=campaign_id)  # nothing due: come back when the first is

    assert delay is not None and delay >= 9  # the first retry waits 10 s
    assert set(Message.objects.values_list("status", "attempts")) == {("queued", 1)}
    gateway_mode("accept")
    Message.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    run_batches(campaign_id)
    assert Campaign.objects.get(pk=campaign_id).status == "completed"


def test_a_batch_task_queues_the_next_at_once_after_a_batch_then_when_the_first_retry_is_due_then_none(
    api_client, create_campaign, members, gateway_mode, enqueued, settings
):
    settings.SMS_RETRY_BASE_DELAY = 30
    gateway_mode("fail")
    campaign_id = create_campaign().json()["id"]
    api_client.post(url(campaign_id, "send"))

    campaign_batch_send(campaign_id)  # submitted, and both wait out a backoff: no retry task of their own
    campaign_batch_send(campaign_id)  # nothing due

    [(name, args, next_batch), (_, _, after_the_backoff)] = name_args_countdown(enqueued)
    assert (name, args, next_batch) == ("campaigns.tasks.campaign_batch_send", [campaign_id], None)
    assert after_the_backoff == pytest.approx(30, abs=1)
    gateway_mode("accept")
    Message.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    enqueued.clear()
    campaign_batch_send(campaign_id)  # sends both: the campaign is done

    assert Campaign.objects.get(pk=campaign_id).status == "completed"
    assert enqueued == []


def test_batches_mark_the_campaign_alive_at_most_every_tenth_of_the_stall_time(
    api_client, create_campaign, members, gateway_mode, enqueued, settings
):
    settings.SMS_RETRY_BASE_DELAY = 30  # its messages wait out a backoff: the campaign keeps sending
    settings.CAMPAIGN_STALL_SECONDS = 60
    gateway_mode("fail")
    campaign_id = create_campaign().json()["id"]
    api_client.post(url(campaign_id, "send"))

    campaign_batch(campaign_id=campaign_id)
    first = Campaign.objects.get(pk=campaign_id).last_batch_at
    campaign_batch(campaign_id=campaign_id)  # within 6 s of it: the row is not written
    assert first is not None and Campaign.objects.get(pk=campaign_id).last_batch_at == first
    assert campaigns_recover() == []  # alive

    Campaign.objects.filter(pk=campaign_id).update(last_batch_at=first - timedelta(seconds=7))
    campaign_batch(campaign_id=campaign_id)
    assert Campaign.objects.get(pk=campaign_id).last_batch_at > first
    Campaign.objects.filter(pk=campaign_id).update(last_batch_at=first - timedelta(seconds=61))
    assert [str(restarted) for restarted in campaigns_recover()] == [campaign_id]  # quiet too long


@pytest.mark.parametrize(
    ("status", "action"),
    [("completed", "pause"), ("completed", "cancel"), ("completed", "send"), ("cancelled", "send"),
     ("draft", "pause"), ("paused", "pause"), ("cancelled", "cancel")],
)  # fmt: skip
def test_illegal_transitions_are_a_409(api_client, create_campaign, status, action):
    campaign_id = create_campaign().json()["id"]
    Campaign.objects.filter(pk=campaign_id).update(status=status)

    response = api_client.post(url(campaign_id, action))

    assert response.status_code == 409
    assert response.json()["code"] == "invalid_state"
    assert Campaign.objects.get(pk=campaign_id).status == status


def test_a_scheduled_campaign_starts_when_due(
    api_client, create_campaign, account, members, enqueued, django_capture_on_commit_callbacks
):
    later = timezone.now() + timedelta(hours=1)
    campaign_id = create_campaign(scheduled_at=later.isoformat()).json()["id"]

    with django_capture_on_commit_callbacks(execute=True):
        body = api_client.post(url(campaign_id, "send")).json()

    assert body["status"] == "scheduled"
    assert enqueued == []  # no batch before its time
    assert balance(account) == 98  # reserved when sent
    assert campaigns_start_due() == []
    Campaign.objects.filter(pk=campaign_id).update(scheduled_at=timezone.now() - timedelta(seconds=1))
    assert [str(started) for started in campaigns_start_due()] == [campaign_id]
    assert name_args_countdown(enqueued) == batch_tasks(campaign_id, 4)
    run_batches(campaign_id)
    assert Campaign.objects.get(pk=campaign_id).status == "completed"


def test_campaigns_are_listed_paginated_with_stats(api_client, create_campaign, django_assert_max_num_queries):
    for n in range(3):
        create_campaign(name=f"Campaign {n}")
    api_client.get("/api/v1/billing/balance/")

    with django_assert_max_num_queries(3):  # count, page, stats
        body = api_client.get("/api/v1/campaigns/", {"page_size": 2}).json()

    assert body["count"] == 3
    assert [campaign["name"] for campaign in body["campaigns"]] == ["Campaign 2", "Campaign 1"]
    assert body["next"] is not None


def test_the_stats_are_added_up_from_the_usage_rollup_exact_before_and_after_its_compaction(
    api_client, account, create_campaign
):
    campaign = Campaign.objects.get(pk=create_campaign().json()["id"])
    other = Campaign.objects.get(pk=create_campaign(name="Other").json()["id"])
    for status in ["queued", "queued", "sent", "delivered", "undelivered", "failed", "failed"]:
        MessageFactory(account=account, campaign=campaign, status=status)
    MessageFactory(account=account, campaign=other, status="delivered")
    MessageFactory(account=account, status="queued")  # sent on its own
    # Changes after the insert, each counted by the triggers: a status change and a delete.
    Message.objects.filter(pk=Message.objects.filter(campaign=campaign, status="queued").first().pk).update(
        status="sent"
    )
    Message.objects.filter(campaign=campaign, status="failed").first().delete()
    expected = {"recipients": 6, "queued": 1, "sent": 4, "delivered": 1, "failed": 1}

    with CaptureQueriesContext(connection) as queries:
        body = api_client.get(url(campaign.pk)).json()
    assert body["stats"] == expected
    assert not any('"messaging_message"' in query["sql"] for query in queries.captured_queries)
    assert UsageChange.objects.filter(campaign_id=campaign.pk).exists()
    usage_compact()
    assert not UsageChange.objects.exists()
    assert api_client.get(url(campaign.pk)).json()["stats"] == expected
    listed = {item["name"]: item["stats"] for item in api_client.get("/api/v1/campaigns/").json()["campaigns"]}
    assert listed == {
        "March Promo": expected,
        "Other": {"recipients": 1, "queued": 0, "sent": 1, "delivered": 1, "failed": 0},
    }


def test_another_account_sees_and_changes_nothing(api_client, other_client, create_campaign, members):
    campaign_id = create_campaign().json()["id"]

    for method, path in [("get", url(campaign_id)), ("get", url(campaign_id, "messages")),
                         ("post", url(campaign_id, "send")), ("post", url(campaign_id, "pause")),
                         ("post", url(campaign_id, "cancel"))]:  # fmt: skip
        response = getattr(other_client, method)(path)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert other_client.get("/api/v1/campaigns/").json()["count"] == 0
    assert Campaign.objects.get(pk=campaign_id).status == "draft"


@pytest.mark.parametrize("path", ["/api/v1/campaigns/", "/api/v1/campaigns/00000000-0000-0000-0000-000000000000/"])
def test_campaigns_need_a_key(anonymous_client, db, path):
    assert anonymous_client.get(path).status_code == 401


def test_messages_out_of_attempts_fail_and_are_refunded(
    api_client, create_campaign, account, members, gateway_mode, settings
):
    settings.SMS_SUBMIT_MAX_ATTEMPTS = 1
    gateway_mode("fail")
    campaign_id = create_campaign().json()["id"]
    api_client.post(url(campaign_id, "send"))

    run_batches(campaign_id)

    body = api_client.get(url(campaign_id)).json()
    assert (body["status"], body["stats"]["failed"]) == ("completed", 2)
    assert set(Message.objects.values_list("error", flat=True)) == {"The fake gateway is unavailable."}
    assert balance(account) == 100
    assert_ledger_matches(account.pk)


def test_a_campaign_whose_sender_was_rejected_after_creation_cannot_be_sent(
    api_client, create_campaign, account, members, sender
):
    campaign_id = create_campaign().json()["id"]
    sender_review(sender=sender, approve=False, reason="Trademark")

    response = api_client.post(url(campaign_id, "send"))

    assert response.status_code == 403
    assert response.json()["code"] == "sender_not_approved"
    assert Campaign.objects.get(pk=campaign_id).status == "draft"
    assert balance(account) == 100  # nothing reserved
    assert not Message.objects.exists()


def test_a_batch_pauses_a_campaign_whose_sender_is_withdrawn_and_it_resumes_once_approved_again(
    api_client, create_campaign, account, members, sender, outbox
):
    campaign_id = create_campaign().json()["id"]
    api_client.post(url(campaign_id, "send"))
    sender_review(sender=sender, approve=False, reason="Complaints")

    assert campaign_batch(campaign_id=campaign_id) is None

    body = api_client.get(url(campaign_id)).json()
    assert (body["status"], body["status_reason"]) == ("paused", "Paused: the sender ID MyBrand is no longer approved.")
    assert list(outbox) == []
    assert api_client.post(url(campaign_id, "send")).json()["code"] == "sender_not_approved"

    sender_review(sender=sender, approve=True)
    body = api_client.post(url(campaign_id, "send")).json()
    assert (body["status"], body["status_reason"]) == ("sending", "")
    run_batches(campaign_id)
    assert Campaign.objects.get(pk=campaign_id).status == "completed"
    assert len(outbox) == 2
