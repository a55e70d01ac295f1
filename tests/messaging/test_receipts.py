"""Delivery receipts: matched by (gateway, part id), one per part, applied once, kept when early."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from gateways.base import Receipt, ReceiptStatus, SubmitResult
from messaging.delivery import Outcome, outcomes_record, receipts_apply, unmatched_receipts_sweep
from messaging.models import Message, MessagePart, UnmatchedReceipt
from messaging.tasks import receipts_apply as receipts_apply_task
from tests.factories import MessageFactory

DELIVERED, UNDELIVERED, INTERIM = ReceiptStatus.DELIVERED, ReceiptStatus.UNDELIVERED, ReceiptStatus.INTERIM


def accept(message: Message, *part_ids: str, gateway: str = "smsc") -> None:
    outcomes_record([Outcome(str(message.pk), message.attempts, gateway, SubmitResult.accepted(*part_ids))])


def receipt(part_id: str, status=DELIVERED, gateway: str = "smsc", **fields) -> Receipt:
    return Receipt(gateway=gateway, part_id=part_id, status=status, **fields)


@pytest.fixture
def message(account) -> Message:
    return MessageFactory(account=account, attempts=1)


@pytest.mark.parametrize("status", [DELIVERED, UNDELIVERED])
def test_a_receipt_moves_a_sent_message_to_its_final_status(message, status):
    accept(message, "A1")

    assert receipts_apply([receipt("A1", status, error="Not delivered: EXPIRED", error_code="dlr:EXPIRED")]) == 1

    message.refresh_from_db()
    assert message.status == status
    assert message.delivered_at is not None
    if status == UNDELIVERED:
        assert (message.error, message.error_code) == ("Not delivered: EXPIRED", "dlr:EXPIRED")


def test_accepting_stores_one_part_per_gateway_id_with_the_status(message):
    accept(message, "A1", "A2", "A3")

    message.refresh_from_db()
    assert (message.status, message.gateway) == ("sent", "smsc")
    assert list(message.parts.order_by("number").values_list("number", "gateway_message_id", "status")) == [
        (1, "A1", "sent"), (2, "A2", "sent"), (3, "A3", "sent"),
    ]  # fmt: skip


def test_a_multipart_message_is_delivered_when_every_part_is(message):
    accept(message, "A1", "A2")

    receipts_apply([receipt("A1")])
    message.refresh_from_db()
    assert message.status == "sent"

    receipts_apply([receipt("A2")])
    message.refresh_from_db()
    assert message.status == "delivered"


def test_a_multipart_message_is_undelivered_as_soon_as_one_part_fails(message):
    accept(message, "A1", "A2")

    receipts_apply([receipt("A2", UNDELIVERED, error="Not delivered: UNDELIV (err 001)", error_code="dlr:UNDELIV:001")])

    message.refresh_from_db()
    assert (message.status, message.error_code) == ("undelivered", "dlr:UNDELIV:001")
    receipts_apply([receipt("A1")])  # the other part arriving later changes nothing
    message.refresh_from_db()
    assert message.status == "undelivered"


def test_a_repeated_receipt_changes_nothing(message):
    accept(message, "A1")
    receipts_apply([receipt("A1")])
    message.refresh_from_db()
    first = message.delivered_at

    assert receipts_apply([receipt("A1", UNDELIVERED)]) == 0

    message.refresh_from_db()
    assert (message.status, message.delivered_at) == ("delivered", first)
    assert not UnmatchedReceipt.objects.exists()


def test_an_interim_receipt_changes_nothing_and_is_not_kept(message):
    accept(message, "A1")

    assert receipts_apply([receipt("A1", INTERIM), receipt("nobody", INTERIM)]) == 0

    message.refresh_from_db()
    assert message.status == "sent"
    assert not UnmatchedReceipt.objects.exists()


def test_a_receipt_from_another_gateway_does_not_match(message):
    accept(message, "A1")

    receipts_apply([receipt("A1", gateway="other")])

    message.refresh_from_db()
    assert message.status == "sent"
    assert UnmatchedReceipt.objects.get().gateway == "other"


def test_a_receipt_that_comes_before_its_part_is_recorded_is_applied_then(message):
    receipts_apply([receipt("A1", UNDELIVERED, error_code="dlr:EXPIRED")])
    assert UnmatchedReceipt.objects.count() == 1

    accept(message, "A1")

    message.refresh_from_db()
    assert (message.status, message.error_code) == ("undelivered", "dlr:EXPIRED")
    assert not UnmatchedReceipt.objects.exists()


def test_the_sweep_applies_kept_receipts_whose_part_appeared_and_forgets_old_ones(message, settings):
    receipts_apply([receipt("A1"), receipt("stray")])
    # The part recorded by another process, which did not see the kept receipt.
    Message.objects.filter(pk=message.pk).update(status="sent")
    MessagePart.objects.create(message=message, gateway="smsc", gateway_message_id="A1", number=1)

    assert unmatched_receipts_sweep() == 1

    message.refresh_from_db()
    assert message.status == "delivered"
    assert list(UnmatchedReceipt.objects.values_list("gateway_message_id", flat=True)) == ["stray"]
    UnmatchedReceipt.objects.update(
        received_at=timezone.now() - timedelta(seconds=settings.SMS_RECEIPT_UNMATCHED_TTL + 1)
    )
    unmatched_receipts_sweep()
    assert not UnmatchedReceipt.objects.exists()


def test_receipts_in_one_batch_for_many_messages_are_applied_together(account, django_assert_max_num_queries):
    messages = [MessageFactory(account=account, attempts=1) for _ in range(20)]
    for number, message in enumerate(messages):
        accept(message, f"P{number}")

    with django_assert_max_num_queries(5):  # the parts, their update, undelivered, delivered (+ savepoint slack)
        assert receipts_apply([receipt(f"P{number}") for number in range(20)]) == 20

    assert set(Message.objects.values_list("status", flat=True)) == {"delivered"}


def test_a_batch_of_receipts_takes_as_many_statements_whatever_its_size(account, django_assert_max_num_queries):
    messages = [MessageFactory(account=account, attempts=1) for _ in range(60)]
    for number, message in enumerate(messages):
        accept(message, f"P{number}")
    statements = []
    for first, last in ((0, 10), (10, 60)):
        with django_assert_max_num_queries(10) as captured:
            assert receipts_apply([receipt(f"P{number}") for number in range(first, last)]) == last - first
        statements.append(len(captured))

    assert statements[0] == statements[1] == (2 if connection.vendor == "postgresql" else 3)  # SQLite: + the events
    assert set(Message.objects.values_list("status", flat=True)) == {"delivered"}


def test_the_same_batch_of_receipts_twice_changes_nothing_the_second_time(account):
    messages = [MessageFactory(account=account, attempts=1) for _ in range(30)]
    for number, message in enumerate(messages):
        accept(message, f"P{number}", f"Q{number}")
    batch = [receipt(f"P{number}") for number in range(30)] + [receipt(f"Q{number}") for number in range(15)]
    batch += [receipt(f"Q{number}", UNDELIVERED, error="Not delivered: EXPIRED", error_code="dlr:EXPIRED")
              for number in range(15, 30)]  # fmt: skip

    assert receipts_apply(batch) == 60
    first = dict(Message.objects.values_list("pk", "delivered_at"))
    assert receipts_apply(batch) == 0

    assert dict(Message.objects.values_list("pk", "delivered_at")) == first
    statuses = dict(Message.objects.values_list("pk", "status"))
    assert [statuses[message.pk] for message in messages] == ["delivered"] * 15 + ["undelivered"] * 15
    assert set(Message.objects.filter(status="undelivered").values_list("error_code", flat=True)) == {"dlr:EXPIRED"}
    assert not UnmatchedReceipt.objects.exists()


def test_a_receipt_sent_again_settles_a_message_its_first_copy_left_sent(message):
    accept(message, "A1")
    # The first copy changed the part, and the process died before it settled the message.
    MessagePart.objects.filter(gateway_message_id="A1").update(status="delivered")

    assert receipts_apply([receipt("A1")]) == 0

    message.refresh_from_db()
    assert message.status == "delivered"


def test_the_celery_task_takes_receipts_as_json(message):
    accept(message, "A1")

    receipts_apply_task.apply(args=[[{"gateway": "smsc", "part_id": "A1", "status": "delivered", "error": "",
                                      "error_code": ""}]])  # fmt: skip

    message.refresh_from_db()
    assert message.status == "delivered"


def test_the_fake_gateways_delivery_report_is_a_task_that_delivers_the_message(
    api_client, sender, gateway_mode, enqueued
):
    gateway_mode("accept", delivery_delay=2)
    message_id = api_client.post(
        "/api/v1/sms/send/", {"to": "0771234567", "sender": "MyBrand", "message": "Hi"}, format="json"
    ).json()["message_id"]
    part_id = MessagePart.objects.get(message_id=message_id).gateway_message_id

    [task] = enqueued
    assert (task.name, task.args) == (
        "messaging.tasks.receipts_apply",
        [[{"gateway": "default", "part_id": part_id, "status": "delivered", "error": "", "error_code": ""}]],
    )
    assert task.countdown == pytest.approx(2, abs=1)

    receipts_apply_task.apply(args=task.args)  # as a worker would, two seconds later

    assert Message.objects.get(pk=message_id).status == "delivered"


@pytest.mark.postgres
def test_a_receipt_changes_its_parts_beside_them_without_writing_their_indexes(account):
    """The parts' pages keep room for the version a receipt writes (messaging/0008), and no column a receipt
    changes is indexed: a part's update is HOT, so a batch of receipts writes almost none of the parts' indexes.
    Enough parts to fill several pages, written and changed in one batch each, as the bind process does."""
    count = 400
    messages = MessageFactory.create_batch(count, account=account, attempts=1)
    outcomes_record(
        [Outcome(str(m.pk), m.attempts, "smsc", SubmitResult.accepted(f"P{n}")) for n, m in enumerate(messages)]
    )

    updated_before, hot_before = _part_updates_of_this_transaction()

    assert receipts_apply([receipt(f"P{number}") for number in range(count)]) == count

    updated, hot = _part_updates_of_this_transaction()
    assert updated - updated_before == count
    assert hot - hot_before >= 0.9 * count


def _part_updates_of_this_transaction() -> tuple[int, int]:
    """Rows of the parts table updated so far by the open transaction (the test's), and how many of them HOT."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = %s",
            [MessagePart._meta.db_table],
        )
        return cursor.fetchone()
