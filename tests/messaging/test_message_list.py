"""GET /api/v1/sms/messages/: the account's messages, newest first, paginated, with filters."""

import uuid
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.models import Campaign
from messaging.filters import MessageFilters, message_filters_parse
from messaging.models import Message
from messaging.selectors import message_list
from reports.models import UsageChange
from reports.services import usage_compact
from smsplatform.errors import InvalidInput, NotFound
from tests.factories import AccountFactory, MessageFactory

URL = "/api/v1/sms/messages/"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def message(account, created_at: str = "2026-11-24T12:00:00+00:00", **fields) -> Message:
    """A message created at `created_at` (auto_now_add sets now: the time is set after)."""
    made = MessageFactory(account=account, **fields)
    Message.objects.filter(pk=made.pk).update(created_at=at(created_at))
    made.refresh_from_db()
    return made


def ids(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [item["message_id"] for item in response.json()["messages"]]


@pytest.fixture
def campaign(account, sender):
    return Campaign.objects.create(account=account, name="March Promo", message="Hi", sender_name="MyBrand")


def test_the_list_is_newest_first_paginated_with_the_history_fields(api_client, account):
    old = message(account, "2026-11-23T08:00:00+00:00", text="old")
    new = message(account, "2026-11-24T09:30:00+00:00", text="new", status="delivered")

    response = api_client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["next"], body["previous"]) == (2, None, None)
    assert [item["message_id"] for item in body["messages"]] == [str(new.pk), str(old.pk)]
    assert body["messages"][0] == {
        "message_id": str(new.pk), "channel": "sms", "recipient": new.recipient, "sender": "MyBrand",
        "message": "new", "status": "delivered", "segments": 1, "credits": 1, "campaign_id": None, "error": "",
        "error_code": "", "created_at": "2026-11-24T09:30:00Z", "sent_at": None, "delivered_at": None,
    }  # fmt: skip


def test_pages_follow_the_projects_pagination(api_client, account):
    for minute in range(5):
        message(account, f"2026-11-24T12:0{minute}:00+00:00")

    body = api_client.get(URL, {"page_size": 2, "page": 2}).json()

    assert body["count"] == 5
    assert len(body["messages"]) == 2
    assert "page=3" in body["next"] and "page_size=2" in body["next"]
    assert api_client.get(URL, {"page": 9}).status_code == 404
    assert api_client.get(URL, {"page": "abc"}).json()["fields"] == {"page": ["A valid integer is required."]}


def test_a_page_costs_two_queries_the_count_and_the_rows(api_client, account, django_assert_num_queries):
    for minute in range(3):
        message(account, f"2026-11-24T12:0{minute}:00+00:00")
    api_client.get("/api/v1/billing/balance/")  # the key's lookup is cached from here on

    with django_assert_num_queries(2):
        assert len(ids(api_client.get(URL))) == 3
    with django_assert_num_queries(2):
        assert len(ids(api_client.get(URL, {"status": "queued", "from": "2026-11-24", "sender": "mybrand"}))) == 3


def test_the_history_stays_as_it_was(api_client, account):
    message(account)

    body = api_client.get("/api/v1/sms/history/").json()

    assert list(body) == ["messages"]
    assert len(body["messages"]) == 1


def test_from_and_to_dates_take_in_whole_days(api_client, account):
    before = message(account, "2026-11-22T23:59:59.999999+00:00")
    first = message(account, "2026-11-23T00:00:00+00:00")
    last = message(account, "2026-11-24T23:59:59.999999+00:00")
    after = message(account, "2026-11-25T00:00:00+00:00")

    assert ids(api_client.get(URL, {"from": "2026-11-23", "to": "2026-11-24"})) == [str(last.pk), str(first.pk)]
    assert ids(api_client.get(URL, {"from": "2026-11-25"})) == [str(after.pk)]
    assert ids(api_client.get(URL, {"to": "2026-11-22"})) == [str(before.pk)]


def test_a_time_takes_in_the_whole_of_its_last_unit_as_the_api_writes_times(api_client, account):
    shown = message(account, "2026-11-24T14:16:30.700000+00:00")  # the API shows 2026-11-24T14:16:30Z
    message(account, "2026-11-24T14:16:31+00:00")

    assert ids(api_client.get(URL, {"to": "2026-11-24T14:16:30Z"})) == [str(shown.pk)]
    assert ids(api_client.get(URL, {"from": "2026-11-24T14:16:30Z", "to": "2026-11-24T14:16:30Z"})) == [str(shown.pk)]
    assert ids(api_client.get(URL, {"to": "2026-11-24T14:16:30.5Z"})) == []
    assert len(ids(api_client.get(URL, {"to": "2026-11-24T14:16"}))) == 2  # the minute: up to 14:16:59.999999
    assert ids(api_client.get(URL, {"to": "2026-11-24T14:15"})) == []
    # An offset, with its + lost to an unencoded query string; without a zone a time is UTC.
    assert ids(api_client.get(URL + "?to=2026-11-24T16:16:30+02:00")) == [str(shown.pk)]
    assert ids(api_client.get(URL, {"to": "2026-11-24T16:16:30+02:00"})) == [str(shown.pk)]
    assert ids(api_client.get(URL, {"to": "2026-11-24T14:16:30"})) == [str(shown.pk)]


def test_status_and_sender_filter(api_client, account):
    failed = message(account, status="failed", sender="MyBrand")
    message(account, status="sent", sender="MyBrand")
    other_sender = message(account, status="failed", sender="Other")

    assert ids(api_client.get(URL, {"status": "failed", "sender": "mybrand"})) == [str(failed.pk)]
    assert ids(api_client.get(URL, {"sender": "OTHER"})) == [str(other_sender.pk)]
    assert ids(api_client.get(URL, {"status": "failed", "sender": ""})) != []  # empty narrows nothing


@pytest.mark.parametrize("phone", ["0771234567", "771234567", "+263771234567", "263771234567", "+263 77 123 4567"])
def test_the_phone_matches_however_the_number_is_typed(api_client, account, phone):
    wanted = message(account, recipient="+263771234567")
    message(account, recipient="+263771234568")

    assert ids(api_client.get(URL, {"phone": phone})) == [str(wanted.pk)]


def test_the_campaign_filter_keeps_its_messages(api_client, account, campaign):
    mine = message(account, campaign=campaign)
    message(account)

    assert ids(api_client.get(URL, {"campaign": str(campaign.pk)})) == [str(mine.pk)]


def test_another_accounts_campaign_is_a_404_like_an_unknown_one(api_client, other_account):
    theirs = Campaign.objects.create(account=other_account, name="Theirs", message="Hi", sender_name="MyBrand")
    message(other_account, campaign=theirs)

    for value in (str(theirs.pk), str(uuid.uuid4()), "not-a-uuid"):
        response = api_client.get(URL, {"campaign": value})
        assert response.status_code == 404
        assert response.json() == {"error": "Campaign not found.", "code": "not_found"}


def test_another_accounts_messages_are_never_listed(api_client, other_client, account, other_account):
    mine = message(account, recipient="+263771234567")
    message(other_account, recipient="+263771234567")

    assert ids(api_client.get(URL)) == [str(mine.pk)]
    assert ids(api_client.get(URL, {"phone": "0771234567"})) == [str(mine.pk)]
    assert len(ids(other_client.get(URL))) == 1


def test_filters_combine(api_client, account, campaign):
    wanted = message(account, "2026-11-24T10:00:00+00:00", campaign=campaign, status="delivered")
    message(account, "2026-11-25T10:00:00+00:00", campaign=campaign, status="delivered")
    message(account, "2026-11-24T11:00:00+00:00", campaign=campaign, status="failed")

    params = {"campaign": str(campaign.pk), "status": "delivered", "to": "2026-11-24", "phone": wanted.recipient}
    assert ids(api_client.get(URL, params)) == [str(wanted.pk)]


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"from": "yesterday"}, {"from": ["Enter a date (2026-11-24) or a date and time (2026-11-24T14:16:30Z)."]}),
        ({"to": "2026-02-30"}, {"to": ["Enter a date (2026-11-24) or a date and time (2026-11-24T14:16:30Z)."]}),
        ({"to": "2026-11-24T25:00"}, {"to": ["Enter a date (2026-11-24) or a date and time (2026-11-24T14:16:30Z)."]}),
        ({"to": "9999-12-31"}, {"to": ["Enter a date (2026-11-24) or a date and time (2026-11-24T14:16:30Z)."]}),
        ({"status": "lost"}, {"status": ["Must be one of: queued, sent, delivered, undelivered, failed."]}),
        ({"status": "Failed"}, {"status": ["Must be one of: queued, sent, delivered, undelivered, failed."]}),
        ({"phone": "12345"}, {"phone": ["Enter a valid phone number."]}),
        ({"phone": "077123456x"}, {"phone": ["Enter a valid phone number."]}),
        ({"sender": "My\x00Brand"}, {"sender": ["Null characters are not allowed."]}),
        ({"from": "2026-11-25", "to": "2026-11-24"}, {"to": ["Must not be before `from`."]}),
        ({"format": "xml"}, {"format": ["Must be json or csv."]}),
    ],
)
def test_bad_parameters_are_a_400_naming_them(api_client, params, fields):
    response = api_client.get(URL, params)

    assert response.status_code == 400
    name, messages = next(iter(fields.items()))
    assert response.json() == {"error": f"Invalid {name}: {messages[0]}", "code": "invalid", "fields": fields}


def test_every_bad_parameter_is_named_at_once(api_client):
    body = api_client.get(URL, {"from": "x", "status": "y", "phone": "z"}).json()

    assert list(body["fields"]) == ["from", "status", "phone"]
    assert body["error"] == f"Invalid from: {body['fields']['from'][0]}"


def test_the_list_needs_a_key(anonymous_client):
    assert anonymous_client.get(URL).status_code == 401


# --- The functions the dashboard calls ------------------------------------------------------------


def test_parsing_gives_the_bounds_as_instants():
    filters = message_filters_parse({"from": "2026-11-23", "to": "2026-11-24", "phone": "0771234567", "page": "2"})

    assert filters == MessageFilters(
        created_from=at("2026-11-23T00:00:00+00:00"),
        created_before=at("2026-11-25T00:00:00+00:00"),
        phone="+263771234567",
    )
    assert message_filters_parse({}) == MessageFilters()
    with pytest.raises(InvalidInput) as error:
        message_filters_parse({"status": "nope"})
    assert list(error.value.fields) == ["status"]


def test_without_an_account_the_list_is_every_accounts_for_operators(account):
    other = AccountFactory()
    message(account)
    message(other)
    theirs = Campaign.objects.create(account=other, name="Theirs", message="Hi", sender_name="MyBrand")

    assert message_list(account_id=None, filters=MessageFilters()).count() == 2
    assert message_list(account_id=None, filters=MessageFilters(campaign_id=str(theirs.pk))).count() == 0
    with pytest.raises(NotFound):
        message_list(account_id=account.pk, filters=MessageFilters(campaign_id=str(theirs.pk)))


def test_the_list_of_a_whole_day_uses_the_bounds_given(account):
    now = timezone.now()
    message(account, now.isoformat())

    filters = MessageFilters(created_from=now - timedelta(seconds=1), created_before=now + timedelta(seconds=1))
    assert message_list(account_id=account.pk, filters=filters).count() == 1


# The count of a page comes from the usage rollup (reports) where its filters allow: one snapshot of the rollup
# and its pending changes instead of a COUNT(*) over the account's messages.
COUNTED_BY_THE_ROLLUP = [
    "",
    "status=delivered",
    "status=failed",
    "sender=mybrand",
    "from=2026-11-24",
    "to=2026-11-23",
    "from=2026-11-23&to=2026-11-24",
    "from=2026-11-24T00:00:00Z&to=2026-11-24T23:59",
    "from=2026-11-24T02:00:00%2B02:00",
    "status=sent&from=2026-11-24&to=2026-11-24&sender=MYBRAND",
    "status=queued&to=2026-11-22",
]
COUNTED_BY_THE_LIST = [
    "phone=0771234567",
    "from=2026-11-24T10:00",
    "to=2026-11-24T12:00:00Z",
    "status=sent&to=2026-11-24T09:30",
]


@pytest.fixture
def messages_over_two_days(account, other_account, campaign):
    sent = [
        message(account, "2026-11-23T08:00:00+00:00", status="delivered"),
        message(account, "2026-11-23T23:59:59.999999+00:00", status="sent", sender="Other"),
        message(account, "2026-11-24T00:00:00+00:00", status="sent", recipient="+263771234567"),
        message(account, "2026-11-24T09:30:00+00:00", status="failed", campaign=campaign),
        message(account, "2026-11-24T12:00:00+00:00", status="sent", campaign=campaign),
        message(account, "2026-11-25T00:00:00+00:00", status="queued"),
    ]
    message(other_account, "2026-11-24T09:30:00+00:00", status="sent")
    Message.objects.filter(pk=sent[0].pk).update(status="undelivered")  # counted again by the triggers
    Message.objects.filter(pk=sent[-1].pk).delete()
    return sent


def count_and_queries(api_client, query: str) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = api_client.get(f"{URL}?{query}")
    assert response.status_code == 200, response.json()
    return response.json()["count"], [q["sql"] for q in queries.captured_queries]


def counts_the_messages(sql: str) -> bool:
    return "COUNT(" in sql.upper() and '"messaging_message"' in sql.split("FROM", 1)[-1].split("WHERE", 1)[0]


@pytest.mark.parametrize("query", COUNTED_BY_THE_ROLLUP + COUNTED_BY_THE_LIST)
def test_the_count_is_exact_with_any_filters(api_client, account, messages_over_two_days, query):
    listed = message_list(account_id=account.pk, filters=message_filters_parse(QueryDict(query))).count()
    count, _ = count_and_queries(api_client, query + "&page_size=1")
    assert count == listed


@pytest.mark.parametrize("query", COUNTED_BY_THE_ROLLUP)
def test_the_count_of_whole_days_statuses_and_senders_reads_the_rollup_not_the_messages(
    api_client, messages_over_two_days, query
):
    _, queries = count_and_queries(api_client, query)
    assert not any(counts_the_messages(sql) for sql in queries)
    assert any("reports_dailyusage" in sql and "reports_usagechange" in sql for sql in queries)


@pytest.mark.parametrize("query", COUNTED_BY_THE_LIST)
def test_a_phone_or_a_time_within_a_day_is_counted_on_the_messages(api_client, messages_over_two_days, query):
    _, queries = count_and_queries(api_client, query)
    assert any(counts_the_messages(sql) for sql in queries)


def test_the_campaign_count_reads_the_rollup_too(api_client, messages_over_two_days, campaign):
    count, queries = count_and_queries(api_client, f"campaign={campaign.pk}")
    assert count == 2
    assert not any(counts_the_messages(sql) for sql in queries)


def test_the_count_is_the_same_before_and_after_the_changes_are_compacted(api_client, messages_over_two_days):
    before = [count_and_queries(api_client, query)[0] for query in COUNTED_BY_THE_ROLLUP]
    assert UsageChange.objects.exists()
    usage_compact()
    assert not UsageChange.objects.exists()
    assert [count_and_queries(api_client, query)[0] for query in COUNTED_BY_THE_ROLLUP] == before


def test_another_accounts_messages_are_not_in_the_count(other_client, messages_over_two_days):
    assert count_and_queries(other_client, "")[0] == 1
    assert count_and_queries(other_client, "from=2026-11-24&to=2026-11-24")[0] == 1
