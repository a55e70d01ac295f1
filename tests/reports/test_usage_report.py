"""GET /api/v1/reports/usage/: the account's messages by day, sender or campaign, exact at every moment."""

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from billing.models import Transaction
from campaigns.models import Campaign
from campaigns.services import campaign_batch
from gateways.base import Receipt, ReceiptStatus
from messaging.delivery import receipts_apply
from messaging.models import Message, MessagePart
from reports.filters import UsageQuery
from reports.selectors import usage_report
from reports.services import usage_compact
from tests.factories import ContactFactory, GroupFactory, SenderIdFactory

URL = "/api/v1/reports/usage/"
STATUSES = ["queued", "sent", "delivered", "undelivered", "failed"]


def send(client, to: str = "0771234567", message: str = "Hello!", sender: str = "MyBrand") -> dict:
    response = client.post("/api/v1/sms/send/", {"to": to, "sender": sender, "message": message}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def receipt(message_id: str, status: ReceiptStatus) -> None:
    part_ids = MessagePart.objects.filter(message_id=message_id).values_list("gateway_message_id", flat=True)
    receipts_apply([Receipt(gateway="default", part_id=part_id, status=status) for part_id in part_ids])


def move_to(message_id: str, day: date) -> None:
    """Make a message as if it had been sent on `day` (the triggers count the move too)."""
    Message.objects.filter(pk=message_id).update(
        created_at=datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=10)
    )


def counts(messages: list[Message]) -> dict:
    """What the report must say of these messages, counted here from the rows themselves."""
    by_status = {status: sum(1 for m in messages if m.status == status) for status in STATUSES}
    charged = sum(m.credits for m in messages)
    refunded = sum(m.credits for m in messages if m.status == "failed")
    final = by_status["delivered"] + by_status["undelivered"]
    return {
        "messages": {"total": len(messages), **by_status},
        "segments": sum(m.segments for m in messages),
        "credits_charged": charged,
        "credits_refunded": refunded,
        "credits_spent": charged - refunded,
        "delivery_rate": round(by_status["delivered"] / final, 4) if final else None,
    }


def direct(account, group_by: str, date_from: date, date_to: date) -> dict:
    """The report as a direct aggregation of the account's messages would give it."""
    groups = defaultdict(list)
    chosen = []
    for message in Message.objects.filter(account=account).select_related("campaign"):
        day = message.created_at.astimezone(UTC).date()
        if not date_from <= day <= date_to:
            continue
        chosen.append(message)
        if group_by == "day":
            groups[("day", day.isoformat())].append(message)
        elif group_by == "sender":
            groups[("sender", message.sender)].append(message)
        else:
            campaign = message.campaign
            groups[(campaign and str(campaign.pk), campaign and campaign.name)].append(message)
    if group_by == "day":
        days = [date_from + timedelta(days=n) for n in range((date_to - date_from).days + 1)]
        listed = [{"day": day.isoformat(), **counts(groups[("day", day.isoformat())])} for day in days]
    elif group_by == "sender":
        listed = [{"sender": key[1], **counts(messages)} for key, messages in groups.items()]
    else:
        listed = [
            {"campaign_id": key[0], "campaign_name": key[1], **counts(messages)} for key, messages in groups.items()
        ]
    return {"totals": counts(chosen), "groups": listed}


def report(client, **params) -> dict:
    response = client.get(URL, params)
    assert response.status_code == 200, response.json()
    return response.json()


def assert_exact(client, account, date_from: date, date_to: date) -> None:
    for group_by in ("day", "sender", "campaign"):
        answer = report(client, **{"from": date_from.isoformat(), "to": date_to.isoformat(), "group_by": group_by})
        expected = direct(account, group_by, date_from, date_to)
        key = {"day": "day", "sender": "sender", "campaign": "campaign_id"}[group_by]
        assert answer["totals"] == expected["totals"], group_by
        assert sorted(answer["groups"], key=lambda g: str(g[key])) == sorted(
            expected["groups"], key=lambda g: str(g[key])
        ), group_by


@pytest.fixture
def today() -> date:
    return timezone.localdate()


@pytest.fixture
def rich_account(account, sender):
    """The account with 10,000 credits and a second approved sender ID."""
    from billing.services import credits_topup

    credits_topup(account_id=account.pk, amount=10_000, description="Reports")
    SenderIdFactory(account=account, name="Alerts")
    return account


def test_the_report_by_day_lists_every_day_of_the_range_with_totals(api_client, rich_account, today):
    send(api_client)
    send(api_client, message="a" * 161)  # two segments

    body = report(api_client, **{"from": (today - timedelta(days=2)).isoformat(), "to": today.isoformat()})

    assert (body["from"], body["to"], body["group_by"], body["time_zone"]) == (
        (today - timedelta(days=2)).isoformat(),
        today.isoformat(),
        "day",
        "UTC",
    )
    zero = counts([])
    assert body["groups"][:2] == [
        {"day": (today - timedelta(days=2)).isoformat(), **zero},
        {"day": (today - timedelta(days=1)).isoformat(), **zero},
    ]
    expected = {
        "messages": {"total": 2, "queued": 0, "sent": 2, "delivered": 0, "undelivered": 0, "failed": 0},
        "segments": 3,
        "credits_charged": 3,
        "credits_refunded": 0,
        "credits_spent": 3,
        "delivery_rate": None,
    }
    assert body["groups"][2] == {"day": today.isoformat(), **expected}
    assert body["totals"] == expected


def test_by_default_the_last_30_days_to_today(api_client, rich_account, today):
    body = report(api_client)

    assert (body["from"], body["to"]) == ((today - timedelta(days=29)).isoformat(), today.isoformat())
    assert len(body["groups"]) == 30
    assert report(api_client, to="2026-03-01")["from"] == "2026-01-31"


def test_the_report_is_one_query(api_client, rich_account, today, django_assert_num_queries):
    send(api_client)
    usage_compact()
    send(api_client, sender="Alerts")  # one in the rollup, one among the changes
    api_client.get("/api/v1/billing/balance/")  # the key's lookup is cached from here on

    for group_by in ("day", "sender", "campaign"):
        with django_assert_num_queries(1):
            body = report(api_client, group_by=group_by)
        assert body["totals"]["messages"]["total"] == 2


def test_the_report_equals_a_direct_aggregation_through_a_messages_life(api_client, rich_account, gateway_mode, today):
    """Sends, a rejection and its refund, receipts, a campaign and a cancelled one, a late receipt for a day
    long folded into the rollup: after each, with and without compaction, the report is the messages' count."""
    date_from, date_to = today - timedelta(days=40), today
    sent = [send(api_client, to=f"077100000{n}")["message_id"] for n in range(4)]
    send(api_client, sender="Alerts", message="Ü" * 71)  # UCS-2, two segments
    assert_exact(api_client, rich_account, date_from, date_to)

    gateway_mode("reject")
    rejected = send(api_client, to="0771000009")
    assert rejected["status"] == "failed"
    gateway_mode("accept")
    receipt(sent[0], ReceiptStatus.DELIVERED)
    receipt(sent[1], ReceiptStatus.UNDELIVERED)
    assert_exact(api_client, rich_account, date_from, date_to)

    # An old day, folded into the rollup; its last receipt comes 20 days late.
    move_to(sent[2], today - timedelta(days=20))
    move_to(sent[3], today - timedelta(days=20))
    receipt(sent[3], ReceiptStatus.DELIVERED)
    usage_compact()
    assert_exact(api_client, rich_account, date_from, date_to)
    receipt(sent[2], ReceiptStatus.UNDELIVERED)
    assert_exact(api_client, rich_account, date_from, date_to)
    old_day = report(api_client, **{"from": (today - timedelta(days=20)).isoformat(), "to": today.isoformat()})
    assert old_day["groups"][0]["messages"] | {"total": 2} == {
        "total": 2, "queued": 0, "sent": 0, "delivered": 1, "undelivered": 1, "failed": 0
    }  # fmt: skip
    assert old_day["groups"][0]["delivery_rate"] == 0.5

    # A campaign sent to its group, and one cancelled before its batches ran (refunded).
    group = GroupFactory(account=rich_account)
    for n in range(3):
        ContactFactory(account=rich_account, phone=f"+26377200000{n}", groups=[group])
    campaigns = []
    for name in ("Done", "Cancelled"):
        body = {"name": name, "message": "Hi {name}", "sender_name": "MyBrand", "group_id": str(group.pk)}
        campaign_id = api_client.post("/api/v1/campaigns/", body, format="json").json()["id"]
        assert api_client.post(f"/api/v1/campaigns/{campaign_id}/send/").status_code == 202
        campaigns.append(campaign_id)
    while campaign_batch(campaign_id=campaigns[0]) == 0:
        pass
    assert api_client.post(f"/api/v1/campaigns/{campaigns[1]}/cancel/").status_code == 200
    assert_exact(api_client, rich_account, date_from, date_to)
    usage_compact()
    assert_exact(api_client, rich_account, date_from, date_to)

    # The credits agree with the ledger: every message charged, every failed one refunded.
    totals = report(api_client, **{"from": date_from.isoformat(), "to": date_to.isoformat()})["totals"]
    ledger = Transaction.objects.filter(account=rich_account)
    assert totals["messages"]["failed"] == 4  # the rejection and the cancelled campaign's three
    assert totals["credits_refunded"] == sum(ledger.filter(type="refund").values_list("amount", flat=True))
    assert totals["credits_charged"] == -sum(ledger.filter(type="debit").values_list("amount", flat=True))
    by_campaign = {g["campaign_name"]: g for g in report(api_client, group_by="campaign")["groups"]}
    assert by_campaign["Cancelled"]["credits_spent"] == 0
    assert by_campaign["Done"]["messages"]["sent"] == 3
    assert by_campaign[None]["campaign_id"] is None


def test_a_deleted_campaigns_messages_leave_the_report(api_client, rich_account, today):
    campaign = Campaign.objects.create(account=rich_account, name="Gone", message="Hi", sender_name="MyBrand")
    message_id = send(api_client)["message_id"]
    Message.objects.filter(pk=message_id).update(campaign=campaign)
    usage_compact()
    assert report(api_client, group_by="campaign")["groups"][0]["campaign_name"] == "Gone"

    campaign.delete()  # its messages with it

    assert report(api_client, group_by="campaign")["groups"] == []
    assert report(api_client)["totals"]["messages"]["total"] == 0


def test_another_account_sees_none_of_it(api_client, other_client, rich_account, other_account, today):
    campaign = Campaign.objects.create(account=rich_account, name="Mine", message="Hi", sender_name="MyBrand")
    Message.objects.filter(pk=send(api_client)["message_id"]).update(campaign=campaign)
    SenderIdFactory(account=other_account, name="Theirs")
    send(other_client, sender="Theirs")

    for group_by in ("day", "sender", "campaign"):
        body = report(other_client, group_by=group_by)
        assert body["totals"]["messages"]["total"] == 1
        assert "Mine" not in str(body) and "MyBrand" not in str(body)
    assert [group["sender"] for group in report(api_client, group_by="sender")["groups"]] == ["MyBrand"]


def test_groups_by_sender_and_campaign_come_most_messages_first(api_client, rich_account):
    send(api_client, sender="Alerts")
    send(api_client)
    send(api_client)

    body = report(api_client, group_by="sender")

    assert [(g["sender"], g["messages"]["total"]) for g in body["groups"]] == [("MyBrand", 2), ("Alerts", 1)]
    assert report(api_client, group_by="campaign")["groups"][0] | {"messages": None} == {
        "campaign_id": None, "campaign_name": None, **counts([]), "messages": None,
        "segments": 3, "credits_charged": 3, "credits_spent": 3,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"from": "last week"}, {"from": ["Enter a date: 2026-11-24."]}),
        ({"to": "2026-11-24T10:00:00Z"}, {"to": ["Enter a date: 2026-11-24."]}),
        ({"to": "2026-02-30"}, {"to": ["Enter a date: 2026-11-24."]}),
        ({"from": "2026\x00-11-24"}, {"from": ["Enter a date: 2026-11-24."]}),
        ({"group_by": "week"}, {"group_by": ["Must be one of: day, sender, campaign."]}),
        ({"from": "2026-11-25", "to": "2026-11-24"}, {"to": ["Must not be before `from`."]}),
        ({"from": "2025-11-23", "to": "2026-11-24"}, {"to": ["The range is 367 days; at most 366."]}),
    ],
)
def test_bad_parameters_are_a_400_naming_them(api_client, params, fields):
    response = api_client.get(URL, params)

    assert response.status_code == 400
    name, messages = next(iter(fields.items()))
    assert response.json() == {"error": f"Invalid {name}: {messages[0]}", "code": "invalid", "fields": fields}


def test_366_days_are_allowed(api_client, rich_account):
    assert len(report(api_client, **{"from": "2025-11-24", "to": "2026-11-24"})["groups"]) == 366


def test_from_defaults_as_far_back_as_there_are_days(api_client):
    assert report(api_client, to="0001-01-05")["from"] == "0001-01-01"


def test_the_report_needs_a_key(anonymous_client):
    assert anonymous_client.get(URL).status_code == 401


def test_without_an_account_the_report_covers_every_account_for_operators(api_client, other_client, rich_account,
                                                                          other_account, today):  # fmt: skip
    send(api_client)
    SenderIdFactory(account=other_account, name="Theirs")
    send(other_client, sender="Theirs")

    query = UsageQuery(date_from=today, date_to=today, group_by="sender")
    assert {group["sender"] for group in usage_report(account_id=None, query=query)["groups"]} == {"MyBrand", "Theirs"}
