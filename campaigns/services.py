"""Campaigns: create, send (reserve and snapshot), the batches that fan out, pause, cancel, complete."""

import contextlib
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from billing.services import credits_debit
from contacts.models import Contact, Group
from messaging.delivery import batch_lease, messages_fail, messages_submit
from messaging.errors import SenderNotApproved
from messaging.models import Message, OptOut
from messaging.segments import MAX_SEGMENTS, segment_count
from messaging.selectors import sender_approved
from smsplatform.cache import REDIS_UNREACHABLE, redis_outage
from smsplatform.errors import Conflict, InvalidInput
from webhooks.addresses import url_check

from .models import Campaign
from .personalise import Recipient, TemplateError, template_check, template_render

logger = logging.getLogger(__name__)

SNAPSHOT_CHUNK = 5000
CANCELLED_ERROR = "Campaign cancelled."
SENDER_WITHDRAWN = "Paused: the sender ID {name} is no longer approved."
# A chain whose remaining messages are all with a gateway (the bind process) checks back this often,
# to complete the campaign soon after the last outcome is recorded.
IN_FLIGHT_POLL_SECONDS = 1.0


class IllegalTransition(Conflict):
    code = "invalid_state"

    def __init__(self, campaign: Campaign, action: str):
        super().__init__(f"A {campaign.status} campaign cannot be {action}.")


def _recipients(*, group_id) -> Iterator[tuple]:
    """(contact id, phone, first name, last name) of every member who has not opted out, streamed.

    Opted out: the contact's flag, or the number's opt-out even if the flag somehow disagrees. Phones are
    unique per account, so this is also one per phone. The estimate and the snapshot both read this.
    """
    opted_out = OptOut.objects.filter(account_id=OuterRef("account_id"), phone=OuterRef("phone"))
    return (
        Contact.objects.filter(~Exists(opted_out), groups=group_id, opted_out=False)
        .order_by()
        .values_list("id", "phone", "first_name", "last_name")
        .iterator(chunk_size=SNAPSHOT_CHUNK)
    )


def _personalised(template: str, phone: str, first_name: str, last_name: str) -> tuple[str, object]:
    text = template_render(template, Recipient(first_name=first_name, last_name=last_name, phone=phone))
    return text, segment_count(text)


def campaign_estimate(*, template: str, group_id) -> int:
    """Credits the group's current members would cost, each message rendered for its recipient."""
    return sum(
        _personalised(template, phone, first, last)[1].segments
        for _, phone, first, last in _recipients(group_id=group_id)
    )


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
    sample, recipients, credits = None, 0, 0
    for _, phone, first_name, last_name in _recipients(group_id=group.pk):
        text, count = _personalised(template, phone, first_name, last_name)
        if sample is None:
            sample = {"phone": phone, "text": text, "encoding": count.encoding, "segments": count.segments}
        recipients += 1
        credits += count.segments
    return {"recipients": recipients, "credits": credits, "sample": sample}


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
    return Campaign.objects.create(
        account_id=account_id,
        name=name,
        message=message,
        sender_name=approved[0],
        group=group,
        scheduled_at=scheduled_at,
        callback_url=callback_url,
        estimated_credits=campaign_estimate(template=message, group_id=group.pk),
    )


def campaign_send(*, campaign: Campaign) -> Campaign:
    """draft → sending (or scheduled): reserve every recipient's credits and snapshot them; paused → sending.

    Either way its sender ID must still be approved (403 otherwise).
    """
    if campaign.status not in (Campaign.Status.PAUSED, Campaign.Status.DRAFT):
        raise IllegalTransition(campaign, "sent")
    if sender_approved(account_id=campaign.account_id, name=campaign.sender_name) is None:
        raise SenderNotApproved(campaign.sender_name)
    if campaign.status == Campaign.Status.PAUSED:
        if not Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.PAUSED).update(
            status=Campaign.Status.SENDING, status_reason=""
        ):
            raise IllegalTransition(campaign, "resumed")
        campaign.status, campaign.status_reason = Campaign.Status.SENDING, ""
        transaction.on_commit(lambda: campaign_dispatch(campaign_id=campaign.pk))
        return campaign
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.status != Campaign.Status.DRAFT:
            raise IllegalTransition(locked, "sent")
        reserved = _snapshot(campaign=locked)
        now = timezone.now()
        scheduled = locked.scheduled_at is not None and locked.scheduled_at > now
        locked.status = Campaign.Status.SCHEDULED if scheduled else Campaign.Status.SENDING
        locked.started_at = None if scheduled else now
        locked.estimated_credits = reserved
        locked.save(update_fields=["status", "started_at", "estimated_credits"])
        if reserved:
            # Last, so the account's row is locked only for the end of this transaction. Raises
            # InsufficientCredits (402) and rolls the snapshot back.
            credits_debit(
                account_id=locked.account_id,
                amount=reserved,
                description=f"Campaign {locked.name}: {reserved} credits reserved",
                reference=str(locked.pk),
            )
        if locked.status == Campaign.Status.SENDING:
            transaction.on_commit(lambda: campaign_dispatch(campaign_id=locked.pk))
    return locked


def _snapshot(*, campaign: Campaign) -> int:
    """One queued message per recipient, in bulk; returns their total credits."""
    total, chunk = 0, []
    for contact_id, phone, first_name, last_name in _recipients(group_id=campaign.group_id):
        text, count = _personalised(campaign.message, phone, first_name, last_name)
        if count.segments > MAX_SEGMENTS:
            raise InvalidInput(
                {"message": [f"Too long for {phone}: {count.segments} segments; at most {MAX_SEGMENTS}."]}
            )
        total += count.segments
        chunk.append(
            Message(
                account_id=campaign.account_id,
                campaign_id=campaign.pk,
                contact_id=contact_id,
                recipient=phone,
                sender=campaign.sender_name,
                text=text,
                encoding=count.encoding,
                segments=count.segments,
                credits=count.segments,
                callback_url=campaign.callback_url,
            )
        )
        if len(chunk) == SNAPSHOT_CHUNK:
            Message.objects.bulk_create(chunk)
            chunk = []
    Message.objects.bulk_create(chunk)
    return total


def campaign_dispatch(*, campaign_id) -> None:
    """Hand a sending campaign to the workers: a few batch chains that share its messages.

    Without Redis it stays `sending` with no batch, and beat's campaigns_sweep dispatches it once Redis is back.
    """
    from .tasks import campaign_batch_send  # the task module imports this one

    with contextlib.suppress(REDIS_UNREACHABLE):  # logged once per outage, by smsplatform.cache
        for _ in range(settings.CAMPAIGN_PARALLEL_BATCHES):
            redis_outage.guard_publish(partial(campaign_batch_send.delay, str(campaign_id)))


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
    """Stop for good and refund, in one ledger entry, every message not sent and not in flight.

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
        locked.save(update_fields=["status", "finished_at"])
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
    Campaign.objects.filter(pk=campaign.pk).update(last_batch_at=timezone.now())
    if campaign_complete_if_done(campaign_id=campaign.pk):
        return None
    if messages:
        return 0
    # Nothing due: what is left is leased (a batch or the bind process holds it) or waiting out a backoff.
    queued = Message.objects.filter(campaign=campaign, status=Message.Status.QUEUED)
    if queued.filter(_in_flight()).exists():
        return IN_FLIGHT_POLL_SECONDS
    next_due = queued.order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first()
    return None if next_due is None else max((next_due - timezone.now()).total_seconds(), 0.5)


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
    """sending → completed once no message is queued any more."""
    queued = Message.objects.filter(campaign=OuterRef("pk"), status=Message.Status.QUEUED)
    return bool(
        Campaign.objects.filter(pk=campaign_id, status=Campaign.Status.SENDING)
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
    """Restart sending campaigns whose batches stopped (a killed worker, a flushed broker), and settle
    cancelled ones whose in-flight messages were never answered. Returns the campaigns restarted."""
    stale = timezone.now() - timedelta(seconds=settings.CAMPAIGN_STALL_SECONDS)
    restarted = []
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
