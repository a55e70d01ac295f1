"""send/ answers at once: it reserves the estimate and writes the first chunk of messages; the rest is prepared
a chunk at a time afterwards (here in the test process, as the worker's tasks would), each chunk settling its
cost against the reservation."""

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import Transaction
from billing.services import credits_debit, credits_topup
from campaigns.models import Campaign
from campaigns.personalise import Recipient, template_render
from campaigns.services import (
    CREDITS_RAN_OUT,
    TOO_LONG_ERROR,
    campaign_batch,
    campaign_estimate,
    campaign_prepare,
    campaigns_recover,
    campaigns_start_due,
)
from contacts.models import Contact
from messaging.models import Message
from messaging.segments import segment_count
from tests.billing.test_concurrency import assert_ledger_matches
from tests.factories import ContactFactory, balance

from .helpers import make_group, run_batches, run_preparation, url

PREPARE = "campaigns.tasks.campaign_prepare_next"
BATCH = "campaigns.tasks.campaign_batch_send"


@pytest.fixture(autouse=True)
def chunks_of_two(settings):
    settings.CAMPAIGN_PREPARE_CHUNK = 2


def member(account, group, n: int, **fields) -> Contact:
    """A member whose contact id is `n`: preparation goes through the group in contact id order."""
    return ContactFactory(account=account, id=uuid.UUID(int=n), groups=[group], **fields)


@pytest.fixture
def five(account, group):
    return [member(account, group, n, first_name=f"Name{n}") for n in range(1, 6)]


def ledger(account) -> list[tuple[str, int]]:
    return list(Transaction.objects.filter(account=account).order_by("created_at", "id").values_list("type", "amount"))


def messages_per_contact(campaign_id) -> dict:
    contacts = Message.objects.filter(campaign_id=campaign_id).values_list("contact_id", flat=True)
    return {contact: list(contacts).count(contact) for contact in set(contacts)}


def test_send_answers_with_the_first_chunk_and_the_tasks_prepare_the_rest(
    api_client, create_campaign, account, five, outbox, enqueued, django_capture_on_commit_callbacks
):
    campaign_id = create_campaign().json()["id"]

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(url(campaign_id, "send"))

    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["estimated_credits"]) == ("sending", 5)
    assert body["stats"] == {"recipients": 2, "queued": 2, "sent": 0, "delivered": 0, "failed": 0}
    assert body["preparation"] == {"preparing": True, "prepared": 2, "expected": 5}
    assert [task.name for task in enqueued] == [PREPARE] + [BATCH] * 4
    assert ledger(account) == [("topup", 100), ("debit", -5)]  # the estimate, reserved at once

    assert run_preparation(campaign_id) == 2  # the members 3 and 4, then 5
    body = api_client.get(url(campaign_id)).json()
    assert body["preparation"] == {"preparing": False, "prepared": 5, "expected": 5}
    assert messages_per_contact(campaign_id) == {contact.pk: 1 for contact in five}
    run_batches(campaign_id)
    assert api_client.get(url(campaign_id)).json()["status"] == "completed"
    assert len(outbox) == 5
    assert ledger(account) == [("topup", 100), ("debit", -5)]  # exact: nothing to settle
    assert_ledger_matches(account.pk)


def test_the_batches_send_what_is_prepared_and_do_not_complete_before_the_rest_is(
    api_client, create_campaign, five, outbox
):
    campaign_id = create_campaign().json()["id"]
    api_client.post(url(campaign_id, "send"))

    assert campaign_batch(campaign_id=campaign_id) == 0  # the first chunk's two
    assert campaign_batch(campaign_id=campaign_id) == 1.0  # nothing queued, more coming: back in a second

    assert (len(outbox), Campaign.objects.get(pk=campaign_id).status) == (2, "sending")
    run_preparation(campaign_id)
    run_batches(campaign_id)
    assert (len(outbox), Campaign.objects.get(pk=campaign_id).status) == (5, "completed")


@pytest.mark.parametrize(
    "template",
    [
        "Hi {name}, enjoy 20% off this week!",
        "No placeholders at all",
        "{first_name} {last_name} ({phone}): {{braces}} cost two septets, so does €",
        "Привет, {name}! Скидка 20%",
        "x" * 150 + "{name}",  # a name decides one segment or two
        "y" * 151 + "{name} [{last_name}]",  # an extension character at the 153rd septet starts the next segment
        "😀" * 33 + "{name}",  # surrogate pairs at a UCS-2 segment's edge
    ],
)
def test_the_estimate_is_exact_whatever_the_names(account, group, template):
    names = ["", "Bo", "Ann", "Tendai", "Zoë", "Ťomáš", "Rudo^", "[Jo]", "Émile", "😀", "€uro", "A" * 40, "a€b"]
    for n, (first, last) in enumerate((first, last) for first in names for last in ("", "Moyo", "Ñu", "x{y}")):
        ContactFactory(account=account, groups=[group], first_name=first, last_name=last, phone=f"+2637710{n:05d}")
    ContactFactory(account=account, groups=[group], first_name="Opted", opted_out=True)

    estimate = campaign_estimate(account_id=account.pk, template=template, group_id=group.pk)

    recipients = Contact.objects.filter(groups=group, opted_out=False)
    segments = [
        segment_count(template_render(template, Recipient(contact.first_name, contact.last_name, contact.phone)))
        for contact in recipients
    ]
    assert (estimate.recipients, estimate.credits) == (len(segments), sum(count.segments for count in segments))
    assert estimate.longest == max(count.segments for count in segments)


def test_send_without_credit_for_the_estimate_is_a_402_that_changes_nothing(api_client, create_campaign, account, five):
    campaign_id = create_campaign().json()["id"]
    credits_debit(account_id=account.pk, amount=96)  # 4 left of the 5 the group costs

    response = api_client.post(url(campaign_id, "send"))

    assert (response.status_code, response.json()["code"]) == (402, "insufficient_credits")
    campaign = Campaign.objects.get(pk=campaign_id)
    assert (campaign.status, campaign.credits_reserved, campaign.prepared_through) == ("draft", 0, None)
    assert not Message.objects.exists()
    assert ledger(account) == [("topup", 100), ("debit", -96)]
    credits_topup(account_id=account.pk, amount=1)
    assert api_client.post(url(campaign_id, "send")).status_code == 202  # exactly enough
    assert balance(account) == 0


def test_a_group_that_grew_after_send_is_debited_the_difference_as_preparation_reaches_it(
    api_client, create_campaign, account, group, five
):
    campaign_id = create_campaign().json()["id"]
    api_client.post(url(campaign_id, "send"))
    member(account, group, 100, first_name="Late")
    member(account, group, 101, first_name="Later")
    Contact.objects.filter(pk=five[3].pk).update(first_name="€" * 70)  # 140 septets: now two segments

    run_preparation(campaign_id)

    # The reservation, then what each chunk needed beyond what was left of it.
    assert ledger(account) == [("topup", 100), ("debit", -5), ("debit", -2), ("debit", -1)]
    body = api_client.get(url(campaign_id)).json()
    assert body["estimated_credits"] == 8
    assert body["preparation"] == {"preparing": False, "prepared": 7, "expected": 7}
    assert balance(account) == 92
    assert_ledger_matches(account.pk)


def test_a_group_that_shrank_after_send_gets_the_unused_reservation_back_in_one_entry(
    api_client, create_campaign, account, group, five
):
    campaign_id = create_campaign().json()["id"]
    api_client.post(url(campaign_id, "send"))
    group.contacts.remove(five[3])
    Contact.objects.filter(pk=five[4].pk).update(opted_out=True)

    run_preparation(campaign_id)

    assert ledger(account) == [("topup", 100), ("debit", -5), ("refund", 2)]
    assert Campaign.objects.get(pk=campaign_id).estimated_credits == 3
    assert balance(account) == 97
    assert_ledger_matches(account.pk)


def test_running_out_of_credits_mid_preparation_pauses_it_and_resuming_reserves_the_rest(
    api_client, create_campaign, account, group, five, outbox
):
    campaign_id = create_campaign().json()["id"]
    credits_debit(account_id=account.pk, amount=95)
    api_client.post(url(campaign_id, "send"))  # the whole balance reserved
    for n in (100, 101, 102):
        member(account, group, n)

    run_preparation(campaign_id)  # 1-2 in send/, 3-4, then 5 and 100 would need one more credit

    body = api_client.get(url(campaign_id)).json()
    assert (body["status"], body["status_reason"]) == ("paused", CREDITS_RAN_OUT)
    assert body["preparation"] == {"preparing": True, "prepared": 4, "expected": 5}
    assert balance(account) == 0
    assert campaign_batch(campaign_id=campaign_id) is None  # nothing leaves while paused
    refused = api_client.post(url(campaign_id, "send"))
    assert (refused.status_code, refused.json()["code"]) == (402, "insufficient_credits")
    assert Campaign.objects.get(pk=campaign_id).status == "paused"
    assert Message.objects.count() == 4
    assert_ledger_matches(account.pk)

    credits_topup(account_id=account.pk, amount=10)
    resumed = api_client.post(url(campaign_id, "send")).json()

    assert (resumed["status"], resumed["status_reason"]) == ("sending", "")
    assert resumed["preparation"] == {"preparing": True, "prepared": 6, "expected": 8}
    run_preparation(campaign_id)
    run_batches(campaign_id)
    assert Campaign.objects.get(pk=campaign_id).status == "completed"
    assert len(outbox) == 8
    # The reservation, then what the rest needed beyond the credit still reserved (4 - 1).
    assert ledger(account) == [("topup", 100), ("debit", -95), ("debit", -5), ("topup", 10), ("debit", -3)]
    assert balance(account) == 7
    assert_ledger_matches(account.pk)


def test_pause_during_preparation_sends_nothing_and_resume_goes_on_where_it_stopped(
    api_client, create_campaign, account, five, outbox
):
    campaign_id = create_campaign().json()["id"]
    api_client.post(url(campaign_id, "send"))

    assert api_client.post(url(campaign_id, "pause")).json()["status"] == "paused"
    assert campaign_prepare(campaign_id=campaign_id) is False  # preparation stops too
    assert campaign_batch(campaign_id=campaign_id) is None
    body = api_client.get(url(campaign_id)).json()
    assert body["preparation"] == {"preparing": True, "prepared": 2, "expected": 5}
    assert not outbox

    assert api_client.post(url(campaign_id, "send")).json()["preparation"]["prepared"] == 4
    run_preparation(campaign_id)
    run_batches(campaign_id)
    assert Campaign.objects.get(pk=campaign_id).status == "completed"
    assert messages_per_contact(campaign_id) == {contact.pk: 1 for contact in five}
    assert len(outbox) == 5
    assert ledger(account) == [("topup", 100), ("debit", -5)]  # resuming needed nothing more
    assert_ledger_matches(account.pk)


def test_cancel_during_preparation_stops_it_and_refunds_the_reservation_and_the_queued_messages(
    api_client, create_campaign, account, five, outbox, settings
):
    settings.CAMPAIGN_BATCH_SIZE = 1
    campaign_id = create_campaign().json()["id"]
    api_client.post(url(campaign_id, "send"))
    campaign_batch(campaign_id=campaign_id)  # one of the two prepared is sent

    body = api_client.post(url(campaign_id, "cancel")).json()

    assert body["status"] == "cancelled"
    assert body["stats"] == {"recipients": 2, "queued": 0, "sent": 1, "delivered": 0, "failed": 1}
    assert body["preparation"] == {"preparing": False, "prepared": 2, "expected": 5}
    assert campaign_prepare(campaign_id=campaign_id) is False  # a chunk task still queued writes nothing
    assert Message.objects.count() == 2
    assert ledger(account) == [("topup", 100), ("debit", -5), ("refund", 3), ("refund", 1)]
    assert balance(account) == 99
    assert Campaign.objects.get(pk=campaign_id).credits_reserved == 0
    assert_ledger_matches(account.pk)


def test_beat_restarts_a_preparation_whose_task_was_lost_and_each_contact_gets_one_message(
    api_client, create_campaign, five, enqueued
):
    campaign_id = create_campaign().json()["id"]
    api_client.post(url(campaign_id, "send"))  # its task is lost: never run
    Campaign.objects.filter(pk=campaign_id).update(last_batch_at=timezone.now())

    assert campaigns_recover() == []  # not quiet for long yet
    Campaign.objects.filter(pk=campaign_id).update(last_chunk_at=timezone.now() - timedelta(minutes=5))
    assert [str(restarted) for restarted in campaigns_recover()] == [campaign_id]

    assert [task.name for task in enqueued] == [PREPARE]
    run_preparation(campaign_id)
    assert campaign_prepare(campaign_id=campaign_id) is False  # the lost task turning up after all: nothing
    assert messages_per_contact(campaign_id) == {contact.pk: 1 for contact in five}


def test_a_scheduled_campaign_is_prepared_before_it_is_due(
    api_client, create_campaign, five, enqueued, django_capture_on_commit_callbacks
):
    campaign_id = create_campaign(scheduled_at=(timezone.now() + timedelta(hours=1)).isoformat()).json()["id"]

    with django_capture_on_commit_callbacks(execute=True):
        assert api_client.post(url(campaign_id, "send")).json()["status"] == "scheduled"

    assert [task.name for task in enqueued] == [PREPARE]  # no batch before its time
    run_preparation(campaign_id)
    body = api_client.get(url(campaign_id)).json()
    assert (body["status"], body["preparation"]["preparing"], body["stats"]["recipients"]) == ("scheduled", False, 5)
    Campaign.objects.filter(pk=campaign_id).update(scheduled_at=timezone.now() - timedelta(seconds=1))
    campaigns_start_due()
    run_batches(campaign_id)
    assert Campaign.objects.get(pk=campaign_id).status == "completed"


def contacts_rows_read(plan: dict) -> int:
    """The rows an EXPLAIN ANALYZE plan (JSON) read from the contacts table, over every node and loop."""
    own = plan["Actual Rows"] * plan["Actual Loops"] if plan.get("Relation Name") == "contacts_contact" else 0
    return own + sum(contacts_rows_read(child) for child in plan.get("Plans", []))


@pytest.mark.postgres
def test_a_chunk_reads_the_contacts_of_its_own_members_only_wherever_the_cursor_is(
    api_client, create_campaign, account, enqueued, settings
):
    settings.CAMPAIGN_PREPARE_CHUNK = 100
    group = make_group(account, 20_000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE contacts_contact, contacts_contact_groups")
    credits_topup(account_id=account.pk, amount=20_000)
    campaign_id = create_campaign(group_id=str(group.pk)).json()["id"]
    api_client.post(url(campaign_id, "send"))
    members = sorted(group.contacts.values_list("id", flat=True))
    Campaign.objects.filter(pk=campaign_id).update(prepared_through=members[15_000])  # three quarters through

    with CaptureQueriesContext(connection) as queries:
        assert campaign_prepare(campaign_id=campaign_id) is True
    chunk_read = next(query["sql"] for query in queries if '"contacts_contact"."first_name"' in query["sql"])
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {chunk_read}")
        plan = cursor.fetchone()[0][0]["Plan"]

    # Merged with the members by id, the contacts' primary key was read from its start: 15,101 rows here.
    assert contacts_rows_read(plan) == 100
    prepared = Message.objects.filter(campaign_id=campaign_id).exclude(contact_id__in=members[:100])
    assert sorted(prepared.values_list("contact_id", flat=True)) == members[15_001:15_101]


LONG = "Привет! " + "ю" * 580 + " {name}"  # UCS-2: 589 units and the name's; ten segments hold 670


def test_a_message_too_long_for_a_recipient_is_a_400_at_send_naming_the_phone(
    api_client, create_campaign, account, group
):
    ContactFactory(account=account, groups=[group], first_name="Bo")
    ContactFactory(account=account, groups=[group], first_name="Я" * 90, phone="+263771999999")
    campaign_id = create_campaign(message=LONG).json()["id"]

    response = api_client.post(url(campaign_id, "send"))

    assert response.status_code == 400
    assert response.json()["fields"]["message"] == ["Too long for +263771999999: 11 segments; at most 10."]
    assert (Campaign.objects.get(pk=campaign_id).status, balance(account), Message.objects.count()) == ("draft", 100, 0)


def test_a_recipient_whose_message_grew_too_long_after_send_gets_it_failed_and_refunded(
    api_client, create_campaign, account, group, five
):
    campaign_id = create_campaign(message=LONG).json()["id"]
    api_client.post(url(campaign_id, "send"))
    Contact.objects.filter(pk=five[4].pk).update(first_name="Я" * 90)

    run_preparation(campaign_id)

    failed = Message.objects.get(campaign_id=campaign_id, contact=five[4])
    assert (failed.status, failed.error, failed.error_code) == ("failed", TOO_LONG_ERROR, "campaign:too_long")
    assert Message.objects.filter(campaign_id=campaign_id, status="queued").count() == 4
    assert balance(account) == 100 - 4 * 9
    assert_ledger_matches(account.pk)


def test_another_account_neither_sees_nor_stops_a_preparing_campaign(api_client, other_client, create_campaign, five):
    campaign_id = create_campaign().json()["id"]
    api_client.post(url(campaign_id, "send"))

    for method, action in [("get", ""), ("get", "messages"), ("post", "pause"), ("post", "cancel"), ("post", "send")]:
        response = getattr(other_client, method)(url(campaign_id, action))
        assert (response.status_code, response.json()["code"]) == (404, "not_found")

    run_preparation(campaign_id)
    body = api_client.get(url(campaign_id)).json()
    assert (body["status"], body["preparation"]["prepared"]) == ("sending", 5)


def test_a_draft_whose_group_was_deleted_goes_to_nobody_not_to_contacts_in_no_group(
    api_client, create_campaign, account, other_account, group, five
):
    ContactFactory(account=account, first_name="Ungrouped")
    ContactFactory(account=other_account, first_name="Theirs")
    campaign_id = create_campaign().json()["id"]
    group.delete()

    body = api_client.post(url(campaign_id, "send")).json()

    assert (body["status"], body["preparation"]) == ("sending", {"preparing": False, "prepared": 0, "expected": 0})
    run_batches(campaign_id)
    assert Campaign.objects.get(pk=campaign_id).status == "completed"
    assert not Message.objects.exists()
    assert balance(account) == 100
