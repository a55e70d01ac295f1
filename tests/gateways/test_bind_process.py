"""End to end over real sockets: the API, the bind process (`manage.py smppd`, a subprocess) on PostgreSQL and
Redis, and the fake SMSC on loopback (a thread of this process, so that tests can read what arrived)."""

import time
from collections import Counter

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext

from billing.services import credits_topup
from campaigns.models import Campaign
from campaigns.services import campaign_batch, campaigns_recover
from gateways.base import OutboundSms
from gateways.handler import gateways
from gateways.smpp.daemon import UNRECORDED_MAX
from gateways.smpp.handoff import BULK, Handoff, stream_key
from gateways.smpp.pdu import Status
from messaging.models import InboundMessage, InboundNumber, Message, OptOut
from messaging.services import message_retry_due
from tests.billing.test_concurrency import assert_ledger_matches
from tests.factories import ContactFactory, GroupFactory, balance
from tests.smppd import (
    bind_process,
    bind_states,
    fake_smsc,
    redis_forget,
    smpp_gateway,
    unique_alias,
)
from tests.worker import broker_drain, process_kill, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

FAKE = {"BACKEND": "gateways.backends.fake.FakeGateway", "OPTIONS": {"delivery_delay": None}}


@pytest.fixture
def smpp(settings, tmp_path):
    """start(smsc config…, gateway=options…): a fake SMSC, an SMPP gateway to it routed to by default, and a
    bind process holding its binds. Returns (alias, smsc, bind process)."""
    started = []

    def start(*, gateway: dict | None = None, route_also: list[str] = (), run_bind_process: bool = True, **smsc_config):
        alias = unique_alias()
        smsc_context = fake_smsc(**smsc_config)
        smsc = smsc_context.__enter__()
        started.append((alias, smsc_context))
        gateways = {alias: smpp_gateway(smsc.port, **(gateway or {})), "fallback": FAKE}
        settings.SMS_GATEWAYS = gateways
        settings.SMS_DEFAULT_GATEWAY = alias
        settings.SMS_ROUTES = {"+263": [alias, *route_also]}
        process = None
        if run_bind_process:
            process_context = bind_process(tmp_path, {alias: gateways[alias]})
            process = process_context.__enter__()
            started.append((alias, process_context))
        return alias, smsc, process

    yield start
    for alias, context in reversed(started):
        context.__exit__(None, None, None)
        redis_forget(alias)


def send(client, text="Hello over SMPP", to="0771234567"):
    return client.post("/api/v1/sms/send/", {"to": to, "sender": "MyBrand", "message": text}, format="json")


def send_reading_nothing_back(client, **fields) -> dict:
    """A send whose request reads neither the message nor the balance again once the bind process answered: its
    answer says what it recorded."""
    with CaptureQueriesContext(connection) as queries:
        body = send(client, **fields).json()
    selects = [query["sql"] for query in queries.captured_queries if query["sql"].startswith("SELECT")]
    read_back = [sql for sql in selects if '"messaging_message"' in sql or "sms_credits" in sql]
    assert read_back == []
    return body


def status_of(message_id) -> str:
    return Message.objects.values_list("status", flat=True).get(pk=message_id)


def test_a_send_answers_sent_with_the_smscs_id_and_its_receipt_delivers_it(api_client, sender, smpp):
    alias, smsc, _ = smpp()

    body = send_reading_nothing_back(api_client)

    assert body["status"] == "sent"
    [arrived] = smsc.messages()
    assert (arrived["source"], arrived["source_ton"], arrived["source_npi"]) == ("MyBrand", 5, 0)
    assert (arrived["destination"], arrived["dest_ton"], arrived["dest_npi"]) == ("263771234567", 1, 1)
    assert (arrived["text"], arrived["data_coding"], arrived["registered_delivery"]) == ("Hello over SMPP", 0, 1)
    message = Message.objects.get(pk=body["message_id"])
    assert message.gateway == alias
    # Normalised as the gateway's message_id_format says: hex → its decimal value.
    assert [part.gateway_message_id for part in message.parts.all()] == [str(int(arrived["part_ids"][0], 16))]
    wait_until(lambda: status_of(body["message_id"]) == "delivered", timeout=10)


@pytest.mark.parametrize(
    ("text", "data_coding", "segments"),
    [
        ("Braces {} and euro € cost two septets", 0, 1),
        ("Mhoro shamwari 😀", 8, 1),
        ("A long GSM-7 message. " * 16, 0, 3),  # 352 septets
        ("Zvakanaka 😀 " * 20, 8, 4),  # 260 UTF-16 units
        ("x" * 152 + "€" + "y" * 10, 0, 2),  # the escape pair would straddle the first boundary
    ],
)
def test_gsm7_ucs2_and_concatenated_messages_arrive_intact_and_every_part_is_receipted(
    api_client, sender, smpp, text, data_coding, segments
):
    _, smsc, _ = smpp()

    body = send(api_client, text).json()

    assert (body["status"], body["segments"]) == ("sent", segments)
    [arrived] = smsc.messages()
    assert (arrived["text"], arrived["data_coding"], arrived["parts"]) == (text, data_coding, segments)
    assert arrived["esm_class"] == (0x40 if segments > 1 else 0)
    assert Message.objects.get(pk=body["message_id"]).parts.count() == segments
    wait_until(lambda: status_of(body["message_id"]) == "delivered", timeout=10)


def test_receipts_with_decimal_ids_match_parts_answered_in_hex(api_client, sender, smpp):
    smpp(receipt_id_format="dec", gateway={"message_id_format": "hex", "receipt_id_format": "dec"})

    body = send(api_client, "Two parts: " + "z" * 200).json()

    wait_until(lambda: status_of(body["message_id"]) == "delivered", timeout=10)


def test_a_failed_receipt_of_one_part_makes_the_message_undelivered_with_its_reason(api_client, sender, smpp):
    smpp(receipt_status_by_prefix={"26377": "EXPIRED"})

    body = send(api_client).json()

    wait_until(lambda: status_of(body["message_id"]) == "undelivered", timeout=10)
    message = Message.objects.get(pk=body["message_id"])
    assert message.error_code.startswith("dlr:EXPIRED")
    assert "EXPIRED" in message.error


def test_a_permanent_refusal_fails_and_refunds_the_message_with_the_smpp_code(api_client, account, sender, smpp):
    smpp(reject_prefixes=["26377"])

    body = send_reading_nothing_back(api_client)

    assert (body["status"], body["sms_credits"]) == ("failed", 100)
    message = Message.objects.get(pk=body["message_id"])
    assert message.error_code == "smpp:ESME_RINVDSTADR"
    assert balance(account) == 100
    assert_ledger_matches(account.pk)


def test_a_temporary_error_leaves_the_message_queued_for_its_next_attempt(api_client, account, sender, smpp, enqueued):
    smpp(reject_prefixes=["26377"], reject_status=Status.ESME_RSYSERR)
    broker_drain()  # what earlier tests' bind processes left there

    body = send_reading_nothing_back(api_client)

    assert (body["status"], body["sms_credits"]) == ("queued", 99)
    message = Message.objects.get(pk=body["message_id"])
    assert (message.error_code, message.attempts) == ("smpp:ESME_RSYSERR", 1)
    assert message.next_attempt_at is not None
    # The bind process recorded the outcome and queued the retry on the platform's broker, for a worker.
    assert enqueued == []
    assert broker_drain() == [("messaging.tasks.message_retry", [body["message_id"]])]


def test_a_slow_smsc_answers_queued_in_time_and_the_outcome_is_recorded_when_it_comes(
    api_client, sender, smpp, settings
):
    settings.SMS_SUBMIT_TIMEOUT = 0.3
    smpp(response_delay=1.0)

    started = time.monotonic()
    body = send(api_client).json()

    assert time.monotonic() - started < 1.0
    assert body["status"] == "queued"
    wait_until(lambda: status_of(body["message_id"]) in ("sent", "delivered"), timeout=10)


def test_with_no_bind_up_a_message_fails_over_to_the_next_gateway_at_once(api_client, sender, smpp, outbox):
    smpp(route_also=["fallback"], run_bind_process=False)

    body = send(api_client).json()

    assert body["status"] == "sent"
    assert Message.objects.get(pk=body["message_id"]).gateway == "fallback"
    assert len(outbox) == 1


def test_a_message_from_a_phone_is_stored_and_acknowledged(smpp):
    alias, smsc, _ = smpp()

    assert smsc.inject_inbound("263771234567", "34567", "Is the shop open on Sunday? " * 12)  # 3 parts

    inbound = wait_until(lambda: InboundMessage.objects.first(), timeout=10)
    assert (inbound.gateway, inbound.sender, inbound.recipient, inbound.text, inbound.parts) == (
        alias,
        "+263771234567",
        "34567",
        "Is the shop open on Sunday? " * 12,
        3,
    )
    assert inbound.account_id is None  # 34567 is no account's number


def test_a_stop_over_smpp_opts_the_phone_out_and_the_confirmation_goes_back_over_the_bind(account, smpp):
    _, smsc, _ = smpp()
    InboundNumber.objects.create(number="34567", account=account)

    assert smsc.inject_inbound("263771234567", "34567", "STOP")

    wait_until(lambda: OptOut.objects.filter(account=account, phone="+263771234567").exists(), timeout=10)
    reply = wait_until(lambda: Message.objects.filter(recipient="+263771234567").first(), timeout=10)
    message_retry_due(message_id=reply.pk)  # what the worker does with the task published for it
    [arrived] = wait_until(smsc.messages, timeout=10)
    assert (arrived["source"], arrived["destination"], arrived["text"]) == (
        "34567",
        "263771234567",
        account.opt_out_reply,
    )
    wait_until(lambda: status_of(reply.pk) == "delivered", timeout=10)
    assert_ledger_matches(account.pk)


def test_health_reports_the_binds_and_their_window(api_client, smpp):
    alias, _, _ = smpp(gateway={"window": 25})

    gateway = api_client.get("/api/v1/health/").json()["gateways"][alias]

    assert gateway == {
        "available": True,
        "binds": {"configured": 1, "bound": 1},
        "window": {"size": 25, "in_use": 0},
        "tps": 0,
        "backlog": 0,
        "circuit": "closed",
    }


# Campaigns through the bind process


def test_a_batch_is_handed_over_whole_and_in_order_with_every_field(smpp):
    alias, _, _ = smpp(run_bind_process=False)
    messages = [
        OutboundSms(f"m{number}", f"+26377123456{number}", "MyBrand", f'Mhoro 😀 {number} \\ " ,', "UCS-2", 2, "c1")
        for number in range(3)
    ]

    gateways[alias]._hand_over(messages, deadline=time.monotonic() + 5, wait=False)

    client = redis.Redis.from_url(django_settings.REDIS_URL, decode_responses=True)
    stream = stream_key(alias, BULK)
    handoffs = [Handoff.from_entry(stream, entry_id, fields) for entry_id, fields in client.xrange(stream)]
    assert [(handoff.attempt, handoff.reply, handoff.sms) for handoff in handoffs] == [
        (2, False, sms) for sms in messages
    ]


def make_campaign(api_client, account, size: int) -> str:
    credits_topup(account_id=account.pk, amount=size)
    group = GroupFactory(account=account)
    for number in range(size):
        ContactFactory(account=account, phone=f"+26377{number:07d}", first_name=f"N{number}", groups=[group])
    campaign = api_client.post(
        "/api/v1/campaigns/",
        {"name": "Bulk", "message": "Hi {name}", "sender_name": "MyBrand", "group_id": str(group.pk)},
        format="json",
    ).json()
    assert api_client.post(f"/api/v1/campaigns/{campaign['id']}/send/").status_code == 202
    return campaign["id"]


def run_campaign(campaign_id: str, *, timeout: float = 60) -> None:
    """Run the campaign's batches here, as a worker would, until it completes."""
    deadline = time.monotonic() + timeout
    while Campaign.objects.get(pk=campaign_id).status != Campaign.Status.COMPLETED:
        assert time.monotonic() < deadline, Counter(Message.objects.values_list("status", flat=True))
        delay = campaign_batch(campaign_id=campaign_id)
        time.sleep(min(delay or 0.1, 0.2))


def arrivals_per_recipient(smsc) -> Counter:
    return Counter(message["destination"] for message in smsc.messages())


def assert_every_recipient_sent_once(campaign_id: str, size: int) -> None:
    per_contact = Message.objects.filter(campaign_id=campaign_id).values("contact").annotate(n=Count("id"))
    assert len(per_contact) == size
    assert {row["n"] for row in per_contact} == {1}
    assert set(Message.objects.filter(campaign_id=campaign_id).values_list("status", flat=True)) <= {
        "sent",
        "delivered",
    }


def test_a_campaign_is_handed_over_in_batches_and_every_message_is_delivered(api_client, account, sender, smpp):
    _, smsc, _ = smpp()
    campaign_id = make_campaign(api_client, account, 60)

    run_campaign(campaign_id)

    assert_every_recipient_sent_once(campaign_id, 60)
    assert sorted(arrivals_per_recipient(smsc).values()) == [1] * 60
    wait_until(lambda: not Message.objects.filter(campaign_id=campaign_id, status="sent").exists(), timeout=15)
    assert_ledger_matches(account.pk)


def test_throttling_slows_the_bind_down_instead_of_failing_messages(api_client, account, sender, smpp):
    _, smsc, _ = smpp(throttle_tps=25)
    campaign_id = make_campaign(api_client, account, 80)

    run_campaign(campaign_id)

    assert smsc.stats()["throttled"] > 0
    assert_every_recipient_sent_once(campaign_id, 80)
    assert sorted(arrivals_per_recipient(smsc).values()) == [1] * 80


def test_a_dropped_bind_reconnects_and_nothing_accepted_is_lost(api_client, account, sender, smpp, capsys):
    _, smsc, _ = smpp(drop_after=70, gateway={"window": 10})
    campaign_id = make_campaign(api_client, account, 150)

    run_campaign(campaign_id, timeout=120)

    assert_every_recipient_sent_once(campaign_id, 150)
    duplicates = sum(count - 1 for count in arrivals_per_recipient(smsc).values())
    with capsys.disabled():
        print(f"\nlinks dropped every 70 submits: {duplicates} sent twice")
    # Only what was in the window when a link dropped can have gone twice (two drops at most here).
    assert duplicates <= 2 * 10
    assert_ledger_matches(account.pk)


def test_killing_the_bind_process_mid_campaign_loses_nothing(
    api_client, account, sender, smpp, tmp_path, capsys, settings
):
    alias, smsc, first = smpp(response_delay=0.002, gateway={"window": 10})
    campaign_id = make_campaign(api_client, account, 600)
    deadline = time.monotonic() + 60
    while smsc.stats()["submit_sm"] < 150:
        assert time.monotonic() < deadline
        campaign_batch(campaign_id=campaign_id)
        time.sleep(0.02)

    process_kill(first)
    submitted_before = smsc.stats()["submit_sm"]
    with bind_process(tmp_path, {alias: settings.SMS_GATEWAYS[alias]}):
        run_campaign(campaign_id, timeout=120)

    assert_every_recipient_sent_once(campaign_id, 600)
    duplicates = sum(count - 1 for count in arrivals_per_recipient(smsc).values())
    with capsys.disabled():
        print(f"\nkilled after {submitted_before} submits: {duplicates} sent twice")
    # What a killed process had submitted but not yet recorded: its window and the outcomes awaiting the writer.
    assert duplicates <= 10 + UNRECORDED_MAX
    assert_ledger_matches(account.pk)


def test_a_second_bind_process_takes_the_binds_over_when_the_first_dies(api_client, sender, smpp, tmp_path, settings):
    alias, smsc, first = smpp()
    gateways = {alias: settings.SMS_GATEWAYS[alias]}
    with bind_process(tmp_path, gateways, instance="standby", wait_bound=False):
        time.sleep(2)
        [state] = bind_states(alias)
        assert state["instance"] != "standby"  # the first holds the bind; the standby waits
        assert smsc.stats()["binds"] == 1

        process_kill(first)
        killed = time.monotonic()
        wait_until(lambda: bind_states(alias)[0].get("instance") == "standby" and bind_states(alias)[0]["bound"],
                   timeout=20)  # fmt: skip
        took_over = time.monotonic() - killed

        assert send(api_client).json()["status"] == "sent"
    assert took_over < 10


def test_cancelling_a_campaign_stops_the_messages_the_bind_process_holds_and_refunds_them(
    api_client, account, sender, smpp
):
    _, smsc, _ = smpp(response_delay=0.02, gateway={"window": 1})  # about 50 a second
    campaign_id = make_campaign(api_client, account, 100)
    deadline = time.monotonic() + 30
    while smsc.stats()["submit_sm"] < 10:  # the whole campaign is handed over; a few are sent
        assert time.monotonic() < deadline
        campaign_batch(campaign_id=campaign_id)
        time.sleep(0.05)

    assert api_client.post(f"/api/v1/campaigns/{campaign_id}/cancel/").json()["status"] == "cancelled"
    wait_until(lambda: campaigns_recover() is not None and not Message.objects.filter(status="queued").exists(),
               timeout=30)  # fmt: skip

    submitted = smsc.stats()["submit_sm"]
    time.sleep(0.5)
    assert smsc.stats()["submit_sm"] == submitted  # nothing leaves any more
    statuses = Counter(Message.objects.filter(campaign_id=campaign_id).values_list("status", flat=True))
    assert statuses["sent"] + statuses["delivered"] == submitted
    assert statuses["failed"] == 100 - submitted > 50
    assert_ledger_matches(account.pk)
