"""Recording gateway outcomes (one service for every caller) and the bind process's view of the database."""

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from campaigns.models import Campaign
from gateways.base import OutboundSms, SubmitResult
from gateways.checks import check_sms_gateways
from gateways.smpp.handoff import Handoff, entry_fields
from messaging.bindstore import DatabaseStore
from messaging.delivery import Outcome, outcomes_record
from messaging.models import Message
from tests.factories import GroupFactory, MessageFactory
from tests.test_postgresql_backend import backend_pid

SMPP = {
    "BACKEND": "gateways.backends.smpp.SmppGateway",
    "OPTIONS": {"host": "127.0.0.1", "port": 2775, "system_id": "platform", "password": "secret"},
}


@pytest.fixture
def message(account) -> Message:
    return MessageFactory(account=account, attempts=2, next_attempt_at=timezone.now() + timedelta(seconds=15))


def outcome(message: Message, result: SubmitResult, *, attempt: int | None = None, **fields) -> Outcome:
    return Outcome(str(message.pk), message.attempts if attempt is None else attempt, "smsc", result, **fields)


def test_an_outcome_for_an_earlier_attempt_changes_nothing(message):
    recorded = outcomes_record([outcome(message, SubmitResult.retry("Late", "smpp:ESME_RSYSERR"), attempt=1)])

    assert recorded == {}
    message.refresh_from_db()
    assert (message.status, message.error) == ("queued", "")


def test_a_retry_backs_off_and_a_retry_with_another_gateway_left_goes_at_once(account):
    backing_off, failing_over = MessageFactory(account=account, attempts=2), MessageFactory(account=account, attempts=2)
    started = timezone.now()

    outcomes_record([
        outcome(backing_off, SubmitResult.retry("Busy", "smpp:ESME_RSYSERR")),
        outcome(failing_over, SubmitResult.retry("Busy", "smpp:ESME_RSYSERR"), failover=True),
    ])  # fmt: skip

    backing_off.refresh_from_db()
    failing_over.refresh_from_db()
    assert round((backing_off.next_attempt_at - started).total_seconds()) == 20  # the second retry waits 20 s
    assert failing_over.next_attempt_at - started < timedelta(seconds=1)
    assert (failing_over.gateway, failing_over.error_code) == ("smsc", "smpp:ESME_RSYSERR")


def test_an_unknown_outcome_is_retried_like_a_failure_for_now_and_says_so(message):
    outcomes_record([outcome(message, SubmitResult.unknown("No answer from the SMSC: it may have been sent."))])

    message.refresh_from_db()
    assert (message.status, message.error_code) == ("queued", "gateway:unknown")


def test_a_pending_hand_off_and_an_outcome_the_bind_process_recorded_write_nothing(message, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert outcomes_record([
            outcome(message, SubmitResult.pending()),
            outcome(message, SubmitResult(SubmitResult.accepted("A").status, ("A",), recorded=True)),
        ]) == {}  # fmt: skip


@pytest.mark.postgres
def test_sent_and_its_part_ids_are_one_statement(message, django_assert_num_queries):
    with django_assert_num_queries(1):
        recorded = outcomes_record([outcome(message, SubmitResult.accepted("P1", "P2"))])

    assert recorded[str(message.pk)].status == "sent"
    assert list(message.parts.order_by("number").values_list("gateway_message_id", flat=True)) == ["P1", "P2"]


# The bind process's store


def handoff(message: Message, *, attempt: int | None = None) -> Handoff:
    return Handoff("stream", "1-0", str(message.pk), message.attempts if attempt is None else attempt, False)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # the bind process's statements run outside any transaction
def test_the_store_replaces_a_connection_older_than_its_maximum_age(account):
    """The bind process runs for weeks: its connections are renewed as the web's and the worker's are, and with them
    the plans of their prepared statements."""
    message = MessageFactory(account=account)
    store = DatabaseStore()
    assert [sms.message_id for sms in store.load([handoff(message)])] == [str(message.pk)]
    first = backend_pid(connection)
    store.load([handoff(message)])
    assert backend_pid(connection) == first  # young: kept

    connection.close_at = time.monotonic() - 1  # DB_CONN_MAX_AGE has passed

    assert [sms.message_id for sms in store.load([handoff(message)])] == [str(message.pk)]
    assert backend_pid(connection) != first


def test_the_store_loads_a_queued_message_in_the_attempt_it_was_handed_over_for(message):
    [sms] = DatabaseStore().load([handoff(message)])

    assert (sms.message_id, sms.attempt, sms.recipient, sms.text) == (str(message.pk), 2, message.recipient, "Hello!")


def test_the_store_skips_a_hand_off_of_an_earlier_attempt_and_a_message_no_longer_queued(account, message):
    sent = MessageFactory(account=account, status="sent", attempts=1)

    assert DatabaseStore().load([handoff(message, attempt=1), handoff(sent)]) == []


@pytest.mark.parametrize("status", ["paused", "cancelled"])
def test_the_store_gives_back_a_message_whose_campaign_stopped(account, status):
    campaign = Campaign.objects.create(
        account=account, name="Stopped", message="Hi", sender_name="MyBrand", group=GroupFactory(account=account),
        status=status,
    )  # fmt: skip
    leased = MessageFactory(
        account=account, campaign=campaign, attempts=1, next_attempt_at=timezone.now() + timedelta(seconds=300)
    )

    assert DatabaseStore().load([handoff(leased)]) == []

    leased.refresh_from_db()
    assert (leased.status, leased.next_attempt_at) == ("queued", None)  # due again: resumed or refunded


def test_the_store_sends_a_campaigns_messages_as_handed_over_while_it_sends_and_gives_back_the_others(account):
    group = GroupFactory(account=account)
    sending, paused = (
        Campaign.objects.create(account=account, name=status, message="Hi", sender_name="MyBrand", group=group,
                                status=status)
        for status in ("sending", "paused")
    )  # fmt: skip
    lease = timezone.now() + timedelta(seconds=300)
    kept, stopped = (MessageFactory(account=account, campaign=campaign, attempts=1, next_attempt_at=lease)
                     for campaign in (sending, paused))  # fmt: skip
    handed = [
        OutboundSms(str(message.pk), "+263771234567", "MyBrand", "As handed over", "GSM-7", 1, str(message.campaign_id))
        for message in (kept, stopped)
    ]

    assert DatabaseStore().sending(handed) == handed[:1]

    kept.refresh_from_db()
    stopped.refresh_from_db()
    assert kept.next_attempt_at == lease
    assert (stopped.status, stopped.next_attempt_at) == ("queued", None)  # due again: resumed or refunded


def test_a_hand_off_entry_carries_its_message_and_campaign():
    sms = OutboundSms("m1", "+263771234567", "MyBrand", "Mhoro 😀", "UCS-2", 3, "c1")

    fields = entry_fields(sms, reply=False, handed_at=time.time())
    handoff = Handoff.from_entry("smpp:x:bulk", "1-0", fields)

    assert (handoff.message_id, handoff.attempt, handoff.reply, handoff.sms) == ("m1", 3, False, sms)
    assert handoff.current(300) == sms
    assert Handoff.from_entry("s", "1-0", {**fields, "t": repr(time.time() - 151)}).current(300) is None


def test_the_store_records_a_retry_as_a_failover_only_when_the_route_has_another_gateway(settings, account):
    settings.SMS_GATEWAYS = {"default": SMPP, "twilio": SMPP}
    settings.SMS_ROUTES = {"+26377": ["default", "twilio"]}
    econet = MessageFactory(account=account, recipient="+263771234567", attempts=1)
    netone = MessageFactory(account=account, recipient="+263712345678", attempts=1)
    store = DatabaseStore()
    started = timezone.now()

    store.record([
        ("default", sms, SubmitResult.retry("Busy", "smpp:ESME_RSYSERR"))
        for sms in store.load([handoff(econet), handoff(netone)])
    ])  # fmt: skip

    econet.refresh_from_db()
    netone.refresh_from_db()
    assert econet.next_attempt_at - started < timedelta(seconds=1)
    assert round((netone.next_attempt_at - started).total_seconds()) == 10


def test_the_system_check_wants_redis_for_a_bind_process_gateway(settings):
    settings.SMS_GATEWAYS = {"default": SMPP}
    settings.REDIS_URL = ""

    assert [error.id for error in check_sms_gateways(None)] == ["gateways.E007"]


@pytest.mark.parametrize(
    ("options", "problem"),
    [({"window": 0}, "window"), ({"bind_mode": "both"}, "bind_mode"), ({"password": "nine-chars"}, "password"),
     ({"receipt_id_format": "base64"}, "receipt_id_format"), ({"tps": -1}, "tps"), ({"binds": 33}, "binds")],
)  # fmt: skip
def test_the_system_check_refuses_bad_smpp_options(settings, options, problem):
    settings.SMS_GATEWAYS = {"default": {**SMPP, "OPTIONS": {**SMPP["OPTIONS"], **options}}}

    errors = check_sms_gateways(None)

    assert errors[0].id == "gateways.E006"
    assert problem in errors[0].msg
