"""Campaigns: create, send (reserve, then prepare the messages a chunk at a time), the batches that fan out,
pause, cancel, complete."""

import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, CharField, Count, Exists, F, Min, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Length
from django.db.models.lookups import In
from django.utils import timezone

from billing.services import credits_debit, credits_refund
from contacts.models import Contact, Group
from messaging.delivery import batch_lease, messages_fail, messages_submit
from messaging.errors import SenderNotApproved
from messaging.models import Message, OptOut
from messaging.segments import GSM7_BASIC_PATTERN, MAX_SEGMENTS, SegmentCount, segment_count
from messaging.selectors import sender_approved
from smsplatform.cache import REDIS_UNREACHABLE, redis_outage
from smsplatform.errors import Conflict, InsufficientCredits, InvalidInput
from webhooks.addresses import url_check

from .models import Campaign
from .personalise import Recipient, TemplateError, template_check, template_fields, template_render

logger = logging.getLogger(__name__)

CANCELLED_ERROR = "Campaign cancelled."
SENDER_WITHDRAWN = "Paused: the sender ID {name} is no longer approved."
CREDITS_RAN_OUT = "Paused: the credits ran out while preparing its messages; top up, then send it again."
TOO_LONG_ERROR = f"Too long for this recipient: more than {MAX_SEGMENTS} segments."
# The statuses in which a campaign's messages are prepared (written, queued).
PREPARING = (Campaign.Status.SCHEDULED, Campaign.Status.SENDING)
# A chain whose remaining messages are all with a gateway (the bind process) checks back this often,
# to complete the campaign soon after the last outcome is recorded.
IN_FLIGHT_POLL_SECONDS = 1.0


class IllegalTransition(Conflict):
    code = "invalid_state"

    def __init__(self, campaign: Campaign, action: str):
        super().__init__(f"A {campaign.status} campaign cannot be {action}.")


def _recipients(*, account_id, group_id) -> QuerySet[Contact]:
    """The group's members who have not opted out: the contact's flag, or the number's opt-out even if the flag
    somehow disagrees. Phones are unique per account, so this is also one per phone. Nobody once the group is
    deleted. The estimate reads this, and the preparation (_chunk_read) keeps the same members."""
    if group_id is None:
        return Contact.objects.none()
    opted_out = OptOut.objects.filter(account_id=OuterRef("account_id"), phone=OuterRef("phone"))
    contacts = Contact.objects.filter(account_id=account_id, groups=group_id, opted_out=False)
    return contacts.filter(~Exists(opted_out)).order_by()


@dataclass(frozen=True, slots=True)
class Estimate:
    recipients: int
    credits: int
    longest: int  # segments of the longest message
    longest_to: str  # a phone that would get it ("" without recipients)


def campaign_estimate(*, account_id, template: str, group_id, after=None) -> Estimate:
    """What the group's recipients (those whose contact id sorts after `after`, if given) would cost now, exactly,
    in one grouping query and without rendering each one's message.

    A message's segments depend on its encoding, its length and where its two-unit characters fall, not on which
    characters it holds otherwise. A placeholder's value of GSM-7 basic characters only is one septet, or one
    UCS-2 code unit, per character, so any two such values of one length count the same wherever they stand:
    recipients are grouped by the length of each value the template reads when it is basic, by the value itself
    when it is not (rare), and one message per group is rendered from the group's values (MIN of each, which is
    one of them).
    """
    recipients = _recipients(account_id=account_id, group_id=group_id)
    if after is not None:
        recipients = recipients.filter(id__gt=after)
    fields = template_fields(template)
    keys = {}
    for field in fields:
        keys[f"{field}_length"] = Length(field)
        keys[f"{field}_unless_basic"] = Case(
            When(**{f"{field}__regex": GSM7_BASIC_PATTERN}, then=Value("")), default=F(field), output_field=CharField()
        )
    samples = {f"sample_{field}": Min(field) for field in {"phone", *fields}}
    if keys:
        groups = recipients.annotate(**keys).values(*keys).annotate(count=Count("pk"), **samples)
    else:  # the same message for everyone
        groups = [recipients.aggregate(count=Count("pk"), **samples)]
    count = credits = longest = 0
    longest_to = ""
    for group in groups:
        if not group["count"]:
            continue
        sample = Recipient(
            first_name=group.get("sample_first_name", ""),
            last_name=group.get("sample_last_name", ""),
            phone=group["sample_phone"],
        )
        segments = segment_count(template_render(template, sample)).segments
        count, credits = count + group["count"], credits + group["count"] * segments
        if segments > longest:
            longest, longest_to = segments, sample.phone
    return Estimate(recipients=count, credits=credits, longest=longest, longest_to=longest_to)


def _group_for(*, account_id, template: str, group_id) -> Group:
    """The account's group a campaign with this template goes to; InvalidInput naming the template's fault or
    a group that is not the account's."""
    try:
        template_check(template)
    except TemplateError as exc:
        raise InvalidInput({"message": [str(exc)]}) from None
    group = Group.objects.filter(account_id=account_id, pk=group_id).first()
    if group is None:
        raise InvalidInput({"group_id": ["No such group in this account."]})
    return group


def campaign_preview(*, account_id, template: str, group_id) -> dict:
    """What the group's first recipient would get and what the whole group would cost now, without creating
    anything (the dashboard's preview). Errors as campaign_create's."""
    group = _group_for(account_id=account_id, template=template, group_id=group_id)
    estimate = campaign_estimate(account_id=account_id, template=template, group_id=group.pk)
    sample = None
    recipients = _recipients(account_id=account_id, group_id=group.pk)
    if first := recipients.values_list("phone", "first_name", "last_name").first():
        phone, first_name, last_name = first
        text, count = _personalised(template, phone, first_name, last_name)
        sample = {"phone": phone, "text": text, "encoding": count.encoding, "segments": count.segments}
    return {"recipients": estimate.recipients, "credits": estimate.credits, "sample": sample}


def campaign_create(
    *,
    account_id,
    name: str,
    message: str,
    sender_name: str,
    group_id,
    scheduled_at: datetime | None = None,
    callback_url: str = "",
) -> Campaign:
    group = _group_for(account_id=account_id, template=message, group_id=group_id)
    approved = sender_approved(account_id=account_id, name=sender_name)
    if approved is None:
        raise SenderNotApproved(sender_name)
    if callback_url:
        url_check(url=callback_url, field="callback_url")
    estimate = campaign_estimate(account_id=account_id, template=message, group_id=group.pk)
    return Campaign.objects.create(
        account_id=account_id,
        name=name,
        message=message,
        sender_name=approved[0],
        group=group,
        scheduled_at=scheduled_at,
        callback_url=callback_url,
        estimated_credits=estimate.credits,
        expected_recipients=estimate.recipients,
    )


def campaign_send(*, campaign: Campaign) -> Campaign:
    """draft → sending (or scheduled): reserve the estimated credits of every recipient in one ledger entry and
    prepare the first chunk of their messages here; tasks prepare the rest. paused → sending (or scheduled, when
    its credits ran out before its time): a preparation not finished reserves first what the rest would cost.

    Its sender ID must still be approved (403), no personalised message may exceed MAX_SEGMENTS (400) and the
    balance must cover the reservation (402); otherwise nothing changes.
    """
    resuming = campaign.status == Campaign.Status.PAUSED
    if campaign.status not in (Campaign.Status.PAUSED, Campaign.Status.DRAFT):
        raise IllegalTransition(campaign, "sent")
    if sender_approved(account_id=campaign.account_id, name=campaign.sender_name) is None:
        raise SenderNotApproved(campaign.sender_name)
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.status != campaign.status:
            raise IllegalTransition(locked, "resumed" if resuming else "sent")
        if locked.prepared_at is None:
            _reserve(campaign=locked)
        now = timezone.now()
        ahead = locked.started_at is None and locked.scheduled_at is not None and locked.scheduled_at > now
        locked.status = Campaign.Status.SCHEDULED if ahead else Campaign.Status.SENDING
        locked.status_reason = ""
        locked.started_at = locked.started_at or (None if ahead else now)
        locked.save(update_fields=["status", "status_reason", "started_at"])
        preparing = locked.prepared_at is None and _chunk_write(campaign=locked, chunk=_chunk_read(campaign=locked))

        def started():
            if preparing:
                campaign_prepare_dispatch(campaign_id=locked.pk)
            if locked.status == Campaign.Status.SENDING:
                campaign_dispatch(campaign_id=locked.pk)

        transaction.on_commit(started)
    return locked


def _reserve(*, campaign: Campaign) -> None:
    """Reserve, in one ledger entry, what the recipients its preparation has not reached would cost now, less what
    is still reserved; the campaign's row is locked by the caller."""
    estimate = campaign_estimate(
        account_id=campaign.account_id,
        template=campaign.message,
        group_id=campaign.group_id,
        after=campaign.prepared_through,
    )
    if estimate.longest > MAX_SEGMENTS:
        raise InvalidInput(
            {"message": [f"Too long for {estimate.longest_to}: {estimate.longest} segments; at most {MAX_SEGMENTS}."]}
        )
    written = 0 if campaign.status == Campaign.Status.DRAFT else campaign.estimated_credits - campaign.credits_reserved
    need = estimate.credits - campaign.credits_reserved
    if need > 0:
        # Raises InsufficientCredits (402), and the caller's transaction rolls back.
        credits_debit(
            account_id=campaign.account_id,
            amount=need,
            description=f"Campaign {campaign.name}: {need} credits reserved",
            reference=str(campaign.pk),
        )
        campaign.credits_reserved += need
    campaign.estimated_credits = written + campaign.credits_reserved
    campaign.expected_recipients = Message.objects.filter(campaign=campaign).count() + estimate.recipients
    campaign.save(update_fields=["credits_reserved", "estimated_credits", "expected_recipients"])


def campaign_prepare(*, campaign_id) -> bool:
    """Prepare the next chunk of a campaign's messages. The chunk is read and rendered first, then written in a
    transaction that holds the campaign's row lock (a cancel, a resume or another task waits for the write to end,
    then sees where it stopped) if the cursor is still where it was read from; if not, another task wrote it, and
    this one reads the next. Nothing once the campaign is paused, cancelled or prepared. Returns whether to run
    again."""
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if not _preparing(campaign):
        return False
    chunk = _chunk_read(campaign=campaign)
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if not _preparing(campaign):
            return False
        if campaign.prepared_through != chunk.after:
            return True
        return _chunk_write(campaign=campaign, chunk=chunk)


def _preparing(campaign: Campaign | None) -> bool:
    return campaign is not None and campaign.status in PREPARING and campaign.prepared_at is None


@dataclass(frozen=True, slots=True)
class _Chunk:
    after: uuid.UUID | None  # the cursor it was read from
    members: list  # the contact ids of the next CAMPAIGN_PREPARE_CHUNK members after it, in order
    messages: list[tuple]  # (id, contact id, phone, text, SegmentCount) of the recipients among them


class _AmongArray(In):
    """`IN (subquery)`, written `= ANY(ARRAY(subquery))` on PostgreSQL. The planner takes such an array for a few
    values and looks each up by the index; for the IN of a chunk's members it hashed them against a scan of the
    whole table, and for the join it scanned the primary key from its start up to the chunk's first member."""

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY(ARRAY{rhs})", (*lhs_params, *rhs_params)


def _chunk_read(*, campaign: Campaign) -> _Chunk:
    """The next chunk of the group's members after the campaign's cursor, in contact id order, with the messages of
    the recipients among them (as _recipients has them) rendered.

    One query, the members' contacts looked up by id, so that its cost is the chunk's wherever the cursor is and
    whatever the group's or the account's size (5-8 ms for 1,000 at 100,000 members, first chunk or last; the
    members merged with their contacts' rows read the contacts' primary key from its start, 160 ms for the last
    of 100). The recipients are picked in Python: a filter in SQL would cut the LIMIT short of the members."""
    members = Group.contacts.through.objects.filter(group_id=campaign.group_id)
    if campaign.prepared_through is not None:
        members = members.filter(contact_id__gt=campaign.prepared_through)
    members = members.order_by("contact_id").values("contact_id")[: settings.CAMPAIGN_PREPARE_CHUNK]
    opted_out = OptOut.objects.filter(account_id=OuterRef("account_id"), phone=OuterRef("phone"))
    rows = (
        Contact.objects.filter(_AmongArray(F("id"), members))
        .annotate(number_opted_out=Exists(opted_out))
        .order_by("id")
        .values_list("id", "account_id", "opted_out", "number_opted_out", "phone", "first_name", "last_name")
    )
    messages = [
        (uuid.uuid4(), contact_id, phone, *_personalised(campaign.message, phone, first_name, last_name))
        for contact_id, account_id, flagged, number_opted_out, phone, first_name, last_name in rows
        if account_id == campaign.account_id and not flagged and not number_opted_out
    ]
    return _Chunk(after=campaign.prepared_through, members=[row[0] for row in rows], messages=messages)


def _chunk_write(*, campaign: Campaign, chunk: _Chunk) -> bool:
    """Write the chunk's messages and move the cursor past its members, in the caller's transaction, which holds
    the campaign's row lock.

    Their credits come out of the reservation; what goes past it (the group grew or changed since it was sent) is
    debited with them, and when the balance cannot cover that the campaign is paused (CREDITS_RAN_OUT) and the
    chunk is not written. The last chunk refunds what is left of the reservation. Returns whether members are
    left to prepare.
    """
    cost = sum(count.segments for *_, count in chunk.messages)
    overflow = cost - campaign.credits_reserved
    campaign.last_chunk_at = timezone.now()
    if overflow > 0 and not _reserve_more(campaign=campaign, amount=overflow):
        campaign.status, campaign.status_reason = Campaign.Status.PAUSED, CREDITS_RAN_OUT
        campaign.save(update_fields=["status", "status_reason", "last_chunk_at"])
        logger.warning("Campaign %s paused: the credits ran out while preparing it", campaign.pk)
        return False
    _messages_insert(campaign=campaign, messages=chunk.messages)
    campaign.credits_reserved -= cost
    if chunk.members:
        campaign.prepared_through = chunk.members[-1]
    # A recipient whose message grew too long since it was sent (a new member, a longer name) gets it failed.
    if too_long := [message_id for message_id, *_, count in chunk.messages if count.segments > MAX_SEGMENTS]:
        messages_fail(message_ids=too_long, error=TOO_LONG_ERROR, error_code="campaign:too_long")
    done = len(chunk.members) < settings.CAMPAIGN_PREPARE_CHUNK
    if done:
        _reservation_refund(campaign=campaign, why="not needed")
        campaign.prepared_at = campaign.last_chunk_at
    campaign.save(
        update_fields=["credits_reserved", "estimated_credits", "prepared_through", "prepared_at", "last_chunk_at"]
    )
    return not done


def _reservation_refund(*, campaign: Campaign, why: str) -> None:
    """Refund what is still reserved for the campaign in one ledger entry; the caller holds its row lock."""
    if campaign.credits_reserved:
        credits_refund(
            account_id=campaign.account_id,
            amount=campaign.credits_reserved,
            description=f"Campaign {campaign.name}: {campaign.credits_reserved} reserved credits {why}",
            reference=str(campaign.pk),
        )
        campaign.estimated_credits -= campaign.credits_reserved
        campaign.credits_reserved = 0


def _reserve_more(*, campaign: Campaign, amount: int) -> bool:
    """Debit `amount` more for the campaign; False, changing nothing, when the balance cannot cover it."""
    try:
        with transaction.atomic():  # a savepoint: the refusal leaves the caller's transaction usable
            credits_debit(
                account_id=campaign.account_id,
                amount=amount,
                description=f"Campaign {campaign.name}: {amount} more credits reserved (its recipients changed)",
                reference=str(campaign.pk),
            )
    except InsufficientCredits:
        return False
    campaign.credits_reserved += amount
    campaign.estimated_credits += amount
    return True


def _personalised(template: str, phone: str, first_name: str, last_name: str) -> tuple[str, SegmentCount]:
    text = template_render(template, Recipient(first_name=first_name, last_name=last_name, phone=phone))
    return text, segment_count(text)


def _messages_insert(*, campaign: Campaign, messages: list[tuple]) -> None:
    """Insert a chunk's queued messages, (id, contact id, phone, text, SegmentCount) each, in one statement: COPY
    on PostgreSQL, executemany elsewhere. Measured on PostgreSQL for 1,000: bulk_create's Message instances and
    20,000 quoted parameters cost several times what the rows cost to write. The columns are the model's, valued
    as bulk_create would: those common to the chunk once, from one Message."""
    fields = Message._meta.concrete_fields
    common = Message(
        account_id=campaign.account_id,
        campaign_id=campaign.pk,
        sender=campaign.sender_name,
        callback_url=campaign.callback_url,
    )
    row = [field.get_db_prep_save(field.pre_save(common, add=True), connection) for field in fields]
    at = {field.name: index for index, field in enumerate(fields)}
    id_at, contact_at, recipient_at, text_at = at["id"], at["contact"], at["recipient"], at["text"]
    encoding_at, segments_at, credits_at = at["encoding"], at["segments"], at["credits"]
    uuid_value = partial(Message._meta.pk.get_db_prep_value, connection=connection)
    rows = []
    for message_id, contact_id, phone, text, count in messages:
        row[id_at], row[contact_at], row[recipient_at], row[text_at] = (
            uuid_value(message_id), uuid_value(contact_id), phone, text
        )  # fmt: skip
        row[encoding_at], row[segments_at], row[credits_at] = count.encoding, count.segments, count.segments
        rows.append(tuple(row))
    table = connection.ops.quote_name(Message._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for values in rows:
                    copy.write_row(values)
        elif rows:
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})", rows)


def _publish(task, campaign_id, times: int = 1) -> None:
    """Queue the task for the campaign. Without Redis nothing is queued, and beat's campaigns_sweep queues it
    once Redis is back."""
    with contextlib.suppress(REDIS_UNREACHABLE):  # logged once per outage, by smsplatform.cache
        for _ in range(times):
            redis_outage.guard_publish(partial(task.delay, str(campaign_id)))


def campaign_prepare_dispatch(*, campaign_id) -> None:
    """Hand the rest of a campaign's preparation to the workers: a chain of tasks, a chunk each."""
    from .tasks import campaign_prepare_next  # the task module imports this one

    _publish(campaign_prepare_next, campaign_id)


def campaign_dispatch(*, campaign_id) -> None:
    """Hand a sending campaign to the workers: a few batch chains that share its messages."""
    from .tasks import campaign_batch_send  # the task module imports this one

    _publish(campaign_batch_send, campaign_id, settings.CAMPAIGN_PARALLEL_BATCHES)


def campaign_pause(*, campaign: Campaign, reason: str = "") -> Campaign:
    if not Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.SENDING).update(
        status=Campaign.Status.PAUSED, status_reason=reason
    ):
        raise IllegalTransition(campaign, "paused")
    campaign.status, campaign.status_reason = Campaign.Status.PAUSED, reason
    return campaign


def _in_flight() -> Q:
    """Queued messages a batch has claimed and is submitting, or a gateway's bind process holds: leased, with
    no error of a failed try."""
    return Q(next_attempt_at__gt=timezone.now(), error="")


def campaign_cancel(*, campaign: Campaign) -> Campaign:
    """Stop for good and refund, in one ledger entry, every message not sent and not in flight, and in another
    what is still reserved for recipients its preparation has not reached (under the campaign's row lock, which
    each chunk of preparation holds: exactly once, and the next chunk finds it cancelled).

    Messages in flight at that moment (the batches being submitted, those the bind process holds) end as
    their gateway answers; one that fails is refunded on its own, and the bind process gives back those it
    had not submitted yet, which beat's sweep then refunds.
    """
    cancellable = [Campaign.Status.DRAFT, Campaign.Status.SCHEDULED, Campaign.Status.SENDING, Campaign.Status.PAUSED]
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.status not in cancellable:
            raise IllegalTransition(locked, "cancelled")
        locked.status, locked.finished_at = Campaign.Status.CANCELLED, timezone.now()
        _reservation_refund(campaign=locked, why="refunded, cancelled")
        locked.save(update_fields=["status", "finished_at", "credits_reserved", "estimated_credits"])
        _fail_and_refund(
            messages=Message.objects.filter(campaign=locked, status=Message.Status.QUEUED).exclude(_in_flight()),
            error=CANCELLED_ERROR,
        )
    return locked


def _fail_and_refund(*, messages, error: str) -> None:
    """Fail these queued messages of a campaign and refund their credits in one ledger entry."""
    messages_fail(message_ids=list(messages.values_list("id", flat=True)), error=error, error_code="campaign:cancelled")


def _due() -> Q:
    return Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=timezone.now())


def campaign_batch(*, campaign_id) -> float | None:
    """Send the campaign's next batch of due messages. Returns in how many seconds to run again, or None.

    Safe to run any number of times at once: rows are claimed with SELECT … FOR UPDATE
    SKIP LOCKED and leased, so no two batches submit one message; a batch whose worker
    dies leaves its lease to run out, and the rows are claimed again.
    """
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None or campaign.status != Campaign.Status.SENDING:
        return None  # paused or cancelled: stop within one batch
    if sender_approved(account_id=campaign.account_id, name=campaign.sender_name) is None:
        logger.warning("Campaign %s paused: its sender ID %s is no longer approved", campaign.pk, campaign.sender_name)
        with contextlib.suppress(IllegalTransition):  # paused or cancelled meanwhile: stopped all the same
            campaign_pause(campaign=campaign, reason=SENDER_WITHDRAWN.format(name=campaign.sender_name))
        return None
    messages = _claim(campaign=campaign)
    if messages:
        messages_submit(messages=messages, wait=False)
    _batch_heartbeat(campaign_id=campaign.pk)
    if campaign_complete_if_done(campaign_id=campaign.pk):
        return None
    if messages:
        return 0
    # Nothing due: more is being prepared, or what is left is leased (a batch or the bind process holds it) or
    # waiting out a backoff.
    queued = Message.objects.filter(campaign=campaign, status=Message.Status.QUEUED)
    if campaign.prepared_at is None or queued.filter(_in_flight()).exists():
        return IN_FLIGHT_POLL_SECONDS
    next_due = queued.order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first()
    return None if next_due is None else max((next_due - timezone.now()).total_seconds(), 0.5)


def _batch_heartbeat(*, campaign_id) -> None:
    """Tell campaigns_recover the batches are alive: last_batch_at, at most every tenth of CAMPAIGN_STALL_SECONDS.
    Not every batch: a preparation's chunk holds the campaign's row locked until it commits, and every batch
    updating the row waited for it (205 updates, 1.4 s of waiting in a 100,000-message run). A row whose
    last_batch_at is recent does not match, so the statement neither waits on the lock nor writes."""
    now = timezone.now()
    recent = now - timedelta(seconds=settings.CAMPAIGN_STALL_SECONDS / 10)
    Campaign.objects.filter(Q(last_batch_at__isnull=True) | Q(last_batch_at__lt=recent), pk=campaign_id).update(
        last_batch_at=now
    )


def _claim(*, campaign: Campaign) -> list[Message]:
    """The campaign's next due messages, each claimed for its next attempt and leased, in one statement (the
    ORM's would take a transaction of three and a read back). Rows another batch holds are skipped: FOR UPDATE
    SKIP LOCKED on PostgreSQL; SQLite has one writer at a time.

    In the order of the message_campaign_due index (on PostgreSQL never tried first), which the read follows
    and stops in: unordered, PostgreSQL scanned the table from its start, through every message sent already,
    for each batch."""
    table, now = Message._meta.db_table, timezone.now()
    lock = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    sql = (
        f"UPDATE {table} SET attempts = attempts + 1, next_attempt_at = %s, error = ''"
        f" WHERE id IN (SELECT id FROM {table} WHERE campaign_id = %s AND status = %s"
        " AND (next_attempt_at IS NULL OR next_attempt_at <= %s)"
        f" ORDER BY next_attempt_at DESC LIMIT %s{lock}) RETURNING *"
    )
    at = Message._meta.get_field("next_attempt_at")
    params = [
        at.get_db_prep_value(now + batch_lease(), connection),
        Message._meta.get_field("campaign").get_db_prep_value(campaign.pk, connection),
        Message.Status.QUEUED,
        at.get_db_prep_value(now, connection),
        settings.CAMPAIGN_BATCH_SIZE,
    ]
    return list(Message.objects.raw(sql, params))


def campaign_complete_if_done(*, campaign_id) -> bool:
    """sending → completed once every message is prepared and none is queued any more."""
    queued = Message.objects.filter(campaign=OuterRef("pk"), status=Message.Status.QUEUED)
    return bool(
        Campaign.objects.filter(pk=campaign_id, status=Campaign.Status.SENDING, prepared_at__isnull=False)
        .filter(~Exists(queued))
        .update(status=Campaign.Status.COMPLETED, finished_at=timezone.now())
    )


def campaigns_start_due() -> list:
    """scheduled → sending for campaigns whose time has come; returns their ids."""
    now = timezone.now()
    started = []
    for campaign_id in Campaign.objects.filter(status=Campaign.Status.SCHEDULED, scheduled_at__lte=now).values_list(
        "id", flat=True
    ):
        if Campaign.objects.filter(pk=campaign_id, status=Campaign.Status.SCHEDULED).update(
            status=Campaign.Status.SENDING, started_at=now
        ):
            campaign_dispatch(campaign_id=campaign_id)
            started.append(campaign_id)
    return started


def campaigns_recover() -> list:
    """Restart the preparations and the batches that stopped (a killed worker, a flushed broker), and settle
    cancelled campaigns whose in-flight messages were never answered. Returns the campaigns restarted."""
    stale = timezone.now() - timedelta(seconds=settings.CAMPAIGN_STALL_SECONDS)
    restarted = []
    for campaign_id in Campaign.objects.filter(
        Q(last_chunk_at__isnull=True) | Q(last_chunk_at__lt=stale), status__in=PREPARING, prepared_at__isnull=True
    ).values_list("id", flat=True):
        campaign_prepare_dispatch(campaign_id=campaign_id)
        restarted.append(campaign_id)
    for campaign in Campaign.objects.filter(status=Campaign.Status.SENDING).filter(
        Q(last_batch_at__isnull=True) | Q(last_batch_at__lt=stale)
    ):
        if not campaign_complete_if_done(campaign_id=campaign.pk):
            campaign_dispatch(campaign_id=campaign.pk)
            restarted.append(campaign.pk)
    for campaign in Campaign.objects.filter(status=Campaign.Status.CANCELLED).filter(
        Exists(Message.objects.filter(_due(), campaign=OuterRef("pk"), status=Message.Status.QUEUED))
    ):
        _fail_and_refund(
            messages=Message.objects.filter(_due(), campaign=campaign, status=Message.Status.QUEUED),
            error=CANCELLED_ERROR,
        )
    return restarted
