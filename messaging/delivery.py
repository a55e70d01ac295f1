"""A charged message's way out: routed to its gateways with failover, its outcome recorded, its
receipts applied. One place for every caller: single sends, retries, campaign batches and the bind
process (`manage.py smppd`), which records the outcomes of the messages handed to it.
"""

import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from billing.services import credits_refund
from gateways.base import OutboundSms, Receipt, ReceiptStatus, SubmitResult, SubmitStatus
from gateways.circuit import circuit_failure, circuit_success
from gateways.handler import gateways
from gateways.router import usable_routes
from smsplatform.cache import REDIS_UNREACHABLE, redis_outage
from webhooks.outbox import STATUS_SOURCE_COLUMNS, kick_on_commit, status_events_sql, webhook_status_events_create

from .models import Message, MessagePart, UnmatchedReceipt

logger = logging.getLogger(__name__)

NO_ROUTE = SubmitResult.retry("No gateway is available for this number now.", "gateway:unavailable")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a gateway answered for one attempt at one message."""

    message_id: str
    attempt: int
    gateway: str
    result: SubmitResult
    # Another gateway of the message's route was not tried in this attempt: a retry goes to it at once.
    failover: bool = False


@dataclass(frozen=True, slots=True)
class Recorded:
    """A message's status after its outcome was recorded, and the balance after its refund, if it had one."""

    status: str
    balance: int | None = None


def outbound(message: Message) -> OutboundSms:
    return OutboundSms(
        message_id=str(message.pk),
        recipient=message.recipient,
        sender=message.sender,
        text=message.text,
        encoding=message.encoding,
        attempt=message.attempts,
        campaign_id=str(message.campaign_id or ""),
    )


def retry_delay(*, attempts: int) -> int:
    """Seconds before the next try of a message that failed for now `attempts` times: exponential, capped."""
    return min(settings.SMS_RETRY_BASE_DELAY * 2 ** (attempts - 1), settings.SMS_RETRY_MAX_DELAY)


def submit_lease() -> timedelta:
    """How long an attempt owns a queued message: nobody else submits it meanwhile."""
    return timedelta(seconds=settings.SMS_SUBMIT_TIMEOUT * 2 + 5)


def first_attempt_lease(recipient: str) -> timedelta:
    """The lease of a new message's first attempt: long enough for the bind process when its first gateway
    hands over there (no second statement to extend it), else the time of a submit."""
    route = usable_routes(recipient)
    if route and gateways[route[0]].bind_process:
        return timedelta(seconds=settings.SMS_HANDOFF_LEASE)
    return submit_lease()


def batch_lease() -> timedelta:
    """The lease a campaign batch claims its messages with: the hand-off's when every route starts at a
    bind-process gateway (nothing more is written before the hand-off), else a submit's (a message the batch
    then hands to a bind process is leased longer by the hand-off: _handoff_lease)."""
    first = {settings.SMS_DEFAULT_GATEWAY, *(aliases[0] for aliases in settings.SMS_ROUTES.values())}
    if all(gateways[alias].bind_process for alias in first):
        return timedelta(seconds=settings.SMS_HANDOFF_LEASE)
    return submit_lease()


# --- Statements over many rows ----------------------------------------------------------------------
# A batch is hundreds of rows. On PostgreSQL each list travels as one array parameter: the statement's text,
# its parsing on both sides and its plan stay the same whatever the count (a placeholder per value made the
# batch's statements tens of kilobytes). SQLite, which has no arrays, gets a placeholder per value.


def sql_in(column: str, values: Sequence, field) -> tuple[str, list]:
    """`column` is one of `values` (of the model field `field`), and its parameters."""
    prepped = [field.get_db_prep_value(value, connection) for value in values]
    if len(prepped) == 1:
        # Equality is an index lookup in any plan. A set's form (`= ANY(…)`, `IN (SELECT …)`) prepared while the
        # table was small gets a generic plan that scans the whole table, kept until the table's statistics change
        # (never, where autovacuum is off): a scan for each statement after it.
        return f"{column} = %s", prepped
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [prepped]
    return f"{column} IN ({', '.join(['%s'] * len(prepped))})", prepped


def sql_rows(columns: dict[str, str], rows: Sequence[tuple]) -> tuple[str, list]:
    """A relation of `rows` (at least one), with these columns (name → PostgreSQL type), and its parameters."""
    if connection.vendor == "postgresql":
        arrays = ", ".join(f"%s::{type_}[]" for type_ in columns.values())
        params = [list(column) for column in zip(*rows, strict=True)]
        return f"(SELECT * FROM unnest({arrays}) AS r ({', '.join(columns)}))", params
    names = ", ".join(f"column{number} AS {name}" for number, name in enumerate(columns, start=1))
    values = ", ".join([f"({', '.join(['%s'] * len(columns))})"] * len(rows))
    return f"(SELECT {names} FROM (VALUES {values}))", [value for row in rows for value in row]


# --- Submitting -------------------------------------------------------------------------------


def messages_submit(*, messages: Sequence[Message], wait: bool = True) -> tuple[list[Outcome], dict[str, Recorded]]:
    """One attempt at each message (claimed by the caller): the first usable gateway of its route, the
    next one when that answers `retry`, all within SMS_SUBMIT_TIMEOUT. Records the outcomes.

    With `wait=False` (campaign batches) a bind-process gateway takes the messages without waiting
    for the SMSC's answers. Returns the outcomes and what outcomes_record wrote.
    """
    deadline = time.monotonic() + settings.SMS_SUBMIT_TIMEOUT
    outcomes: list[Outcome] = []
    failed_over: dict = {}  # message id → the outcome of the gateway it failed over from
    trying = [(message, usable_routes(message.recipient, last_failed=message.gateway)) for message in messages]
    while trying:
        by_gateway = defaultdict(list)
        for message, route in trying:
            if route:
                by_gateway[route[0]].append((message, route[1:]))
            else:
                outcomes.append(failed_over.get(message.pk) or Outcome(str(message.pk), message.attempts, "", NO_ROUTE))
        trying = []
        for alias, batch in by_gateway.items():
            for (message, rest), result in zip(
                batch, _gateway_send(alias, batch, wait=wait, deadline=deadline), strict=True
            ):
                if result is None:
                    continue  # no longer this attempt's to send
                outcome = Outcome(str(message.pk), message.attempts, alias, result)
                if result.status == SubmitStatus.RETRY and rest and not result.recorded and time.monotonic() < deadline:
                    failed_over[message.pk] = outcome
                    trying.append((message, rest))
                else:
                    outcomes.append(outcome)
    return outcomes, outcomes_record(outcomes)


def _gateway_send(alias: str, batch: list, *, wait: bool, deadline: float) -> list[SubmitResult | None]:
    """The gateway's answer for each message of the batch (None: not ours to send any more)."""
    gateway = gateways[alias]
    messages = [message for message, _ in batch]
    if gateway.bind_process:
        # The bind process owns a message it was handed until it records the outcome: lease it that long.
        leased = _handoff_lease(messages)
        messages = [message for message in messages if message.pk in leased]
    try:
        sent = gateway.send_messages(
            [outbound(message) for message in messages], timeout=max(deadline - time.monotonic(), 0), wait=wait
        )
        if len(sent) != len(messages):
            raise ValueError(f"{len(sent)} results for {len(messages)} messages")
    except Exception:
        logger.exception("Gateway %s raised while submitting %d message(s)", alias, len(messages))
        sent = [SubmitResult.retry("The gateway failed unexpectedly.", "gateway:error")] * len(messages)
    for result in sent:
        if not result.recorded and result.status in (SubmitStatus.RETRY, SubmitStatus.UNKNOWN):
            circuit_failure(alias)
        elif result.status in (SubmitStatus.ACCEPTED, SubmitStatus.REJECTED):
            circuit_success(alias)
    results = dict(zip((message.pk for message in messages), sent, strict=True))
    return [results.get(message.pk) for message, _ in batch]


def _handoff_lease(messages: list[Message]) -> set:
    """Lease queued messages for SMS_HANDOFF_LEASE, each only while its attempt is still the current one.
    A message leased that long already (a new single send: first_attempt_lease) costs no statement."""
    now = timezone.now()
    lease = timedelta(seconds=settings.SMS_HANDOFF_LEASE)
    leased = {
        message.pk for message in messages if message.next_attempt_at and message.next_attempt_at - now > lease / 2
    }
    by_attempt = defaultdict(list)
    for message in messages:
        if message.pk not in leased:
            by_attempt[message.attempts].append(message.pk)
    return leased | {
        Message._meta.pk.to_python(row[0])
        for attempt, ids in by_attempt.items()
        for row in _queued_update(
            message_ids=ids, attempt=attempt, values={"next_attempt_at": now + lease}, returning="id"
        )
    }


def _queued_update(*, message_ids: Sequence, attempt: int | None, values: dict, returning: str) -> list[tuple]:
    """UPDATE the messages still queued (in that attempt, if given) and return `returning` of each row changed.

    In SQL for RETURNING: a refund, a retry task or a hand-off must follow exactly the rows this
    statement changed, whoever races it (the ORM's update() only counts them).
    """
    if not message_ids:
        return []
    fields = [Message._meta.get_field(name) for name in values]
    ids, ids_params = sql_in("id", message_ids, Message._meta.pk)
    sql = (
        f"UPDATE {Message._meta.db_table} SET {', '.join(f'{field.column} = %s' for field in fields)}"
        f" WHERE {ids} AND status = %s" + ("" if attempt is None else " AND attempts = %s") + f" RETURNING {returning}"
    )
    params = [field.get_db_prep_save(value, connection) for field, value in zip(fields, values.values(), strict=True)]
    params += ids_params
    params += [Message.Status.QUEUED] + ([] if attempt is None else [attempt])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


# --- Recording outcomes -------------------------------------------------------------------------


def outcomes_record(outcomes: Iterable[Outcome]) -> dict[str, Recorded]:
    """Record what gateways answered: accepted → sent with its part ids, rejected (or out of attempts)
    → failed and refunded, retry/unknown → queued for the next attempt. Each transition is conditional
    on the message still being queued — and, but for an acceptance, in that attempt: an SMSC that took
    the message took it, and its receipt must find the part — so a repeated outcome changes nothing.

    Outcomes the bind process recorded already and hand-offs (pending) are skipped.
    Returns, per message changed, its status and the balance after its refund.
    """
    now = timezone.now()
    accepted, failing, waiting = defaultdict(list), defaultdict(list), defaultdict(list)
    for outcome in outcomes:
        result = outcome.result
        if result.recorded or result.status == SubmitStatus.PENDING:
            continue
        if result.status == SubmitStatus.ACCEPTED:
            accepted[outcome.gateway].append(outcome)
        elif result.status == SubmitStatus.REJECTED or outcome.attempt >= settings.SMS_SUBMIT_MAX_ATTEMPTS:
            failing[result.error, result.error_code, outcome.attempt].append(outcome.message_id)
        else:
            delay = 0 if outcome.failover else retry_delay(attempts=outcome.attempt)
            waiting[outcome.attempt, outcome.gateway, result.error, result.error_code, delay].append(outcome.message_id)
    recorded: dict[str, Recorded] = {}
    for gateway, sent in accepted.items():
        recorded.update(
            dict.fromkeys(_messages_mark_sent(gateway=gateway, outcomes=sent, now=now), Recorded(Message.Status.SENT))
        )
    for (error, error_code, attempt), ids in failing.items():
        for message_id, balance in messages_fail(message_ids=ids, error=error, error_code=error_code, attempt=attempt):
            recorded[message_id] = Recorded(Message.Status.FAILED, balance)
    for (attempt, gateway, error, error_code, delay), ids in waiting.items():
        for message_id in _messages_wait(
            message_ids=ids, attempt=attempt, gateway=gateway, error=error, error_code=error_code, delay=delay
        ):
            recorded[message_id] = Recorded(Message.Status.QUEUED)
    return recorded


def _messages_mark_sent(*, gateway: str, outcomes: list[Outcome], now) -> list[str]:
    """queued → sent, and one part per gateway id, all or nothing; then any receipt that came early."""
    parts = [
        (outcome.message_id, part_id, number)
        for outcome in outcomes
        for number, part_id in enumerate(outcome.result.part_ids, start=1)
    ]
    if connection.vendor == "postgresql":
        sent, early = _mark_sent_in_one_statement(gateway=gateway, parts=parts, now=now)
    else:
        with transaction.atomic(savepoint=False):  # all or nothing anyway: no savepoint in a caller's transaction
            rows = _queued_update(
                message_ids=list({message_id for message_id, _, _ in parts}),
                attempt=None,
                values={"status": Message.Status.SENT, "sent_at": now, "gateway": gateway, "error": "",
                        "error_code": "", "next_attempt_at": None},
                returning="id",
            )  # fmt: skip
            sent = [str(Message._meta.pk.to_python(row[0])) for row in rows]
            MessagePart.objects.bulk_create(
                MessagePart(message_id=message_id, gateway=gateway, gateway_message_id=part_id, number=number)
                for message_id, part_id, number in parts
                if message_id in sent
            )
            webhook_status_events_create(message_ids=sent)
        early = UnmatchedReceipt.objects.filter(
            gateway=gateway, gateway_message_id__in=[part_id for _, part_id, _ in parts]
        ).exists()
    if early:
        unmatched_receipts_apply(gateway=gateway, part_ids=[part_id for _, part_id, _ in parts])
    return sent


def _mark_sent_in_one_statement(*, gateway: str, parts: list[tuple], now) -> tuple[list[str], bool]:
    """PostgreSQL: the status, the parts, the webhook events and the look for early receipts in one statement.

    One statement is atomic without a transaction's extra round trips, and a single send runs it on
    every request: the worker killed between "sent" and its gateway id (500 to 1,000 messages with no id
    seen before this) cannot happen, and it costs one round trip — also with the events, which a message
    with no callback_url of an account with no webhook does not have.
    """
    message, part, unmatched = Message._meta.db_table, MessagePart._meta.db_table, UnmatchedReceipt._meta.db_table
    rows, params = sql_rows({"message_id": "uuid", "gateway_message_id": "varchar", "number": "smallint"}, parts)
    events, events_params = status_events_sql(source="sent", now=now)
    message_ids = {message_id for message_id, _, _ in parts}
    if len(message_ids) == 1:
        # A single send's, by key (sql_in): the set's form, prepared while the table was small, scanned all of it.
        which, which_params = sql_in("id", message_ids, Message._meta.pk)
    else:
        which, which_params = "id IN (SELECT message_id FROM part)", []
    sql = (
        f"WITH part AS {rows},"
        f" sent AS (UPDATE {message} SET status = %s, sent_at = %s, gateway = %s, error = '', error_code = '',"
        f" next_attempt_at = NULL WHERE {which} AND status = %s"
        f" RETURNING {STATUS_SOURCE_COLUMNS}),"
        f" inserted AS (INSERT INTO {part} (message_id, gateway, gateway_message_id, number, status, error, error_code)"
        f" SELECT part.message_id, %s, part.gateway_message_id, part.number, %s, '', '' FROM part"
        f" JOIN sent ON sent.id = part.message_id),"
        f" events AS ({events})"
        f" SELECT sent.id, EXISTS (SELECT 1 FROM {unmatched} u WHERE u.gateway = %s"
        f" AND u.gateway_message_id IN (SELECT gateway_message_id FROM part)),"
        f" (SELECT array_agg(DISTINCT origin) FROM events) FROM sent"
    )
    params += [
        Message.Status.SENT,
        now,
        gateway,
        *which_params,
        Message.Status.QUEUED,
        gateway,
        MessagePart.Status.SENT,
    ]
    params += [*events_params, gateway]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    kick_on_commit({origin for row in rows[:1] for origin in row[2] or ()})
    return [str(message_id) for message_id, _, _ in rows], any(early for _, early, _ in rows)


def messages_fail(
    *, message_ids: Sequence, error: str, error_code: str = "", attempt: int | None = None
) -> list[tuple[str, int | None]]:
    """Fail these queued messages (in that attempt, if given) and refund them: one refund per message sent
    on its own, one per campaign for a campaign's. Returns (message id, balance after its own refund)."""
    to_python = Message._meta.pk.to_python
    failed, by_campaign = [], defaultdict(lambda: [0, 0, None])
    with transaction.atomic():
        rows = _queued_update(
            message_ids=message_ids,
            attempt=attempt,
            values={"status": Message.Status.FAILED, "error": error[:255], "error_code": error_code[:40],
                    "next_attempt_at": None},
            returning="id, account_id, campaign_id, credits, recipient",
        )  # fmt: skip
        for message_id, account_id, campaign_id, credits, recipient in rows:
            message_id = str(to_python(message_id))
            if campaign_id is None:
                refund = credits_refund(
                    account_id=account_id,
                    amount=credits,
                    description=f"Refund: SMS to {recipient} failed",
                    reference=message_id,
                )
                failed.append((message_id, refund.balance_after))
            else:
                campaign = by_campaign[str(to_python(campaign_id))]
                campaign[0], campaign[1], campaign[2] = campaign[0] + credits, campaign[1] + 1, account_id
                failed.append((message_id, None))
        for campaign_id, (credits, count, account_id) in by_campaign.items():
            credits_refund(
                account_id=account_id,
                amount=credits,
                description=f"Campaign refund: {count} message(s) not sent ({error[:120]})",
                reference=campaign_id,
            )
        webhook_status_events_create(message_ids=[message_id for message_id, _ in failed])
    return failed


def _messages_wait(*, message_ids: list, attempt: int, gateway: str, error: str, error_code: str, delay: int) -> list:
    """Queue messages for their next attempt in `delay` seconds; a message sent on its own gets a retry
    task, or the sweeper's attention for a long delay (a campaign's next batch picks up its own)."""
    from .tasks import message_retry  # the task module imports this one

    rows = _queued_update(
        message_ids=message_ids,
        attempt=attempt,
        values={"next_attempt_at": timezone.now() + timedelta(seconds=delay), "error": error[:255],
                "error_code": error_code[:40], "gateway": gateway},
        returning="id, campaign_id",
    )  # fmt: skip
    waiting = [str(Message._meta.pk.to_python(message_id)) for message_id, _ in rows]
    # Without Redis there is no retry task, but the next attempt is recorded (next_attempt_at): beat's
    # messages_sweep submits the message once Redis is back. (The outage is logged once, by smsplatform.cache.)
    with contextlib.suppress(REDIS_UNREACHABLE):
        for message_id, (_, campaign_id) in zip(waiting, rows, strict=True):
            # A retry due later than a task may wait in a worker (TASK_COUNTDOWN_MAX) would come early and do
            # nothing: it gets no task, and the sweeper submits it once overdue.
            if campaign_id is None and delay <= settings.TASK_COUNTDOWN_MAX:
                redis_outage.guard_publish(partial(message_retry.apply_async, args=[message_id], countdown=delay))
    return waiting


# --- Receipts ------------------------------------------------------------------------------------


def receipts_apply(receipts: Sequence[Receipt], *, keep_unmatched: bool = True) -> int:
    """Apply delivery receipts to their parts, then settle their messages: delivered when every part is,
    undelivered when one part fails for good. A receipt naming no known part is kept (it came before
    its part was recorded); a repeated one changes nothing. Returns how many parts changed.

    For any number of receipts: a statement for the parts per outcome (nearly always one: delivered), one
    for the messages, and, when some receipt changed no part, a look for its part."""
    latest: dict[tuple[str, str], Receipt] = {}
    for receipt in receipts:
        latest[receipt.gateway, receipt.part_id] = receipt  # the last word on a part wins
    by_outcome = defaultdict(list)
    for (gateway, part_id), receipt in latest.items():
        if receipt.status != ReceiptStatus.INTERIM:  # en route, accepted: nothing to change, nothing to keep
            by_outcome[gateway, receipt.status, receipt.error[:255], receipt.error_code[:40]].append(part_id)
    changed, settle, failed, now = 0, set(), set(), timezone.now()
    for (gateway, status, error, error_code), part_ids in by_outcome.items():
        values = {"status": status, "error": error, "error_code": error_code, "receipt_at": now}
        rows = _parts_update(gateway=gateway, part_ids=part_ids, values=values)
        named = set()  # the messages whose parts these receipts name
        unchanged = set(part_ids) - {part_id for _, part_id in rows}
        if unchanged:  # repeated, or early: is there a part?
            known = _parts_known(gateway=gateway, part_ids=unchanged)
            # Recorded since the update looked (by another connection): the receipt is for it.
            recorded = [part_id for _, part_id, part_status in known if part_status == MessagePart.Status.SENT]
            rows += _parts_update(gateway=gateway, part_ids=recorded, values=values) if recorded else []
            unknown = unchanged - {part_id for _, part_id, _ in known}
            if keep_unmatched and unknown:
                UnmatchedReceipt.objects.bulk_create(
                    UnmatchedReceipt(gateway=gateway, gateway_message_id=part_id, status=status, error=error,
                                     error_code=error_code)
                    for part_id in unknown
                )  # fmt: skip
            # A repeated receipt settles its message still: one whose first copy changed the part but not the
            # message (the process died between the two statements) is settled now.
            named.update(message_id for message_id, _, _ in known)
        changed += len(rows)
        named.update(message_id for message_id, _ in rows)
        settle |= named
        if status == ReceiptStatus.UNDELIVERED:
            failed |= named
    if settle:
        _messages_settle(message_ids=settle, failed=failed, now=now)
    return changed


def _parts_update(*, gateway: str, part_ids: Sequence[str], values: dict) -> list[tuple]:
    """The gateway's parts still waiting for their receipt (sent) among these take these values; returns
    (message id, part id) of each part changed."""
    part = MessagePart._meta.db_table
    fields = [MessagePart._meta.get_field(name) for name in values]
    ids, ids_params = sql_in("gateway_message_id", part_ids, MessagePart._meta.get_field("gateway_message_id"))
    sql = (
        f"UPDATE {part} SET {', '.join(f'{field.column} = %s' for field in fields)}"
        f" WHERE {ids} AND gateway = %s AND status = %s RETURNING message_id, gateway_message_id"
    )
    params = [field.get_db_prep_save(value, connection) for field, value in zip(fields, values.values(), strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *ids_params, gateway, MessagePart.Status.SENT])
        return cursor.fetchall()


def _parts_known(*, gateway: str, part_ids: set) -> list[tuple]:
    """(message id, part id, status) of the gateway's parts among these."""
    return list(
        MessagePart.objects.filter(gateway=gateway, gateway_message_id__in=part_ids).values_list(
            "message_id", "gateway_message_id", "status"
        )
    )


def _messages_settle(*, message_ids: set, failed: set, now) -> None:
    """sent → undelivered as soon as one part is (with the first failed part's error; only `failed` can be:
    messages a failing receipt named), then sent → delivered once every part is. Conditional UPDATEs, so that
    the webhook events go to exactly the messages they moved (a concurrent settle finds them no longer sent).

    Each message's parts are read by a subquery of its own, an index lookup whatever the planner believes of
    the parts (its statistics lag behind tables that change by the thousand a second during a campaign: joined,
    it read every sent part or message for each batch)."""
    message, part = Message._meta.db_table, MessagePart._meta.db_table
    delivered_at = Message._meta.get_field("delivered_at").get_db_prep_value(now, connection)
    if failed:
        first = (
            f"(SELECT p.{{column}} FROM {part} p WHERE p.message_id = {message}.id AND p.status = %s"
            " ORDER BY p.number LIMIT 1)"
        )
        ids, ids_params = sql_in("id", failed, Message._meta.pk)
        undelivered = MessagePart.Status.UNDELIVERED
        _messages_update_with_events(
            f"UPDATE {message} SET status = %s, delivered_at = %s, error = {first.format(column='error')},"
            f" error_code = {first.format(column='error_code')}"
            f" WHERE {ids} AND status = %s AND {first.format(column='id')} IS NOT NULL",
            [Message.Status.UNDELIVERED, delivered_at, undelivered, undelivered, *ids_params, Message.Status.SENT,
             undelivered],
            now=now,
        )  # fmt: skip
    ids, ids_params = sql_in("id", message_ids, Message._meta.pk)
    _messages_update_with_events(
        f"UPDATE {message} SET status = %s, delivered_at = %s WHERE {ids} AND status = %s AND"
        f" (SELECT 1 FROM {part} p WHERE p.message_id = {message}.id AND p.status <> %s LIMIT 1) IS NULL",
        [Message.Status.DELIVERED, delivered_at, *ids_params, Message.Status.SENT, MessagePart.Status.DELIVERED],
        now=now,
    )


def _messages_update_with_events(sql: str, params: list, *, now) -> list[str]:
    """Run an UPDATE of messages and write the `message.status` events of exactly the rows it changed; returns
    their ids. PostgreSQL: one statement, the events in a CTE over its RETURNING."""
    if connection.vendor == "postgresql":
        events, events_params = status_events_sql(source="changed", now=now)
        sql = (
            f"WITH changed AS ({sql} RETURNING {STATUS_SOURCE_COLUMNS}), events AS ({events})"
            " SELECT changed.id, (SELECT array_agg(DISTINCT origin) FROM events) FROM changed"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, *events_params])
            rows = cursor.fetchall()
        kick_on_commit({origin for row in rows[:1] for origin in row[1] or ()})
        return [str(message_id) for message_id, _ in rows]
    with transaction.atomic(savepoint=False):  # all or nothing anyway: no savepoint in a caller's transaction
        with connection.cursor() as cursor:
            cursor.execute(f"{sql} RETURNING id", params)
            changed = [str(Message._meta.pk.to_python(message_id)) for (message_id,) in cursor.fetchall()]
        webhook_status_events_create(message_ids=changed)
    return changed


def unmatched_receipts_apply(*, gateway: str, part_ids: Sequence[str]) -> int:
    """Apply the kept receipts naming these parts, now recorded, and forget them."""
    kept = list(UnmatchedReceipt.objects.filter(gateway=gateway, gateway_message_id__in=list(part_ids)))
    return _unmatched_apply(kept)


def unmatched_receipts_sweep() -> int:
    """Apply kept receipts whose part is known now (another process recorded it meanwhile), and forget
    those older than SMS_RECEIPT_UNMATCHED_TTL. Returns how many were applied."""
    expired = timezone.now() - timedelta(seconds=settings.SMS_RECEIPT_UNMATCHED_TTL)
    dropped, _ = UnmatchedReceipt.objects.filter(received_at__lt=expired).delete()
    if dropped:
        logger.warning("Forgot %d receipt(s) that matched no message part", dropped)
    matching = MessagePart.objects.filter(
        gateway=OuterRef("gateway"), gateway_message_id=OuterRef("gateway_message_id")
    )
    return _unmatched_apply(list(UnmatchedReceipt.objects.filter(Exists(matching)).order_by("pk")[:5000]))


def _unmatched_apply(kept: list[UnmatchedReceipt]) -> int:
    if not kept:
        return 0
    with transaction.atomic():
        changed = receipts_apply(
            [
                Receipt(gateway=row.gateway, part_id=row.gateway_message_id, status=ReceiptStatus(row.status),
                        error=row.error, error_code=row.error_code)
                for row in kept
            ],
            keep_unmatched=False,
        )  # fmt: skip
        UnmatchedReceipt.objects.filter(pk__in=[row.pk for row in kept]).delete()
    return changed
