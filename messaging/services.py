"""Sending: the whole rule of `POST /api/v1/sms/send/` in one place, and a message's life after it."""

import contextlib
import hashlib
import json
import logging
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from billing.selectors import balance_get
from billing.services import Precondition, credits_debit
from contacts.importing import MAX_ERRORS
from contacts.models import Contact
from smsplatform.cache import REDIS_UNREACHABLE, redis_outage
from smsplatform.errors import InsufficientCredits, InvalidInput
from webhooks.addresses import url_check

from .delivery import Recorded, first_attempt_lease, messages_submit, submit_lease
from .errors import (
    IdempotencyKeyReused,
    RecipientOptedOut,
    SandboxRecipientNotAllowed,
    SenderExists,
    SenderNotApproved,
)
from .models import IdempotencyKey, Message, OptOut, SenderId, Tester
from .phone import phone_normalize
from .segments import MAX_SEGMENTS, segment_count
from .selectors import sender_approved, sender_cache_clear, tester_is_verified

logger = logging.getLogger(__name__)


def send_receipt(*, message: Message, to: str, sms_credits: int) -> dict:
    """The answer to a send, as API.md shows it; also what an Idempotency-Key replays."""
    return {
        "message_id": str(message.id),
        "channel": Message.CHANNEL,
        "status": message.status,
        "to": to,
        "sender": message.sender,
        "sms_credits": sms_credits,
        "recipient": message.recipient,
        "segments": message.segments,
        "credits_used": message.credits,
    }


def message_send(
    *,
    account_id,
    to: str,
    sender: str,
    text: str,
    transactional: bool = False,
    callback_url: str = "",
    idempotency_key: str | None = None,
) -> tuple[dict, bool]:
    """Send one SMS: validate, charge, record, submit. Returns the receipt and whether it is a replay.

    An opted-out recipient is refused unless the message is `transactional` (an OTP, a receipt).
    `callback_url` receives the message's status events instead of the account's webhook.

    Must be called outside a transaction: the charge and the message commit before the
    gateway is called, so a message the API accepted is never lost.
    """
    recipient = phone_normalize(to)
    if recipient is None:
        raise InvalidInput({"to": ["Enter a valid phone number."]})
    count = segment_count(text)
    if count.segments == 0:
        raise InvalidInput({"message": ["This field may not be blank."]})
    if count.segments > MAX_SEGMENTS:
        raise InvalidInput(
            {"message": [f"Too long: {count.segments} segments ({count.encoding}); at most {MAX_SEGMENTS}."]}
        )
    approved = sender_approved(account_id=account_id, name=sender)
    if approved is None:
        raise SenderNotApproved(sender)
    sender_name, is_sandbox = approved
    if is_sandbox and not tester_is_verified(account_id=account_id, phone=recipient):
        raise SandboxRecipientNotAllowed()
    if callback_url:
        url_check(url=callback_url, field="callback_url")

    message = _message_new(
        account_id=account_id,
        recipient=recipient,
        sender=sender_name,
        text=text,
        count=count,
        callback_url=callback_url,
        first_attempt_lease=first_attempt_lease(recipient),
    )
    # The opt-out is checked by the charge's own statement: a refused send costs nothing and writes nothing.
    charge = _charge(message, precondition=None if transactional else _not_opted_out(account_id, recipient))
    if idempotency_key is None:
        # The debit, its ledger row and the message, all or nothing (one statement on PostgreSQL).
        debit = credits_debit(**charge)
        record = None
    else:
        request_hash = _request_hash(to=to, sender=sender, text=text)
        IdempotencyKey.objects.filter(
            account_id=account_id, key=idempotency_key, created_at__lt=timezone.now() - _idempotency_ttl()
        ).delete()
        try:
            with transaction.atomic():
                # First, so that a concurrent request with the same key waits here for this one to
                # commit, then fails on the unique constraint and replays, never charging twice.
                record = IdempotencyKey.objects.create(
                    account_id=account_id, key=idempotency_key, request_hash=request_hash
                )
                debit = credits_debit(**charge)
                record.message = message
                record.response = send_receipt(message=message, to=to, sms_credits=debit.balance_after)
                record.save(update_fields=["message", "response"])
        except IntegrityError:
            return _idempotency_replay(account_id=account_id, key=idempotency_key, request_hash=request_hash), True

    refunded_balance = message_submit(message=message)
    receipt = send_receipt(
        message=message, to=to, sms_credits=debit.balance_after if refunded_balance is None else refunded_balance
    )
    if record is not None:
        IdempotencyKey.objects.filter(pk=record.pk).update(response=receipt)
    return receipt, False


def message_reply(*, account_id, recipient: str, sender: str, text: str) -> Message | None:
    """The platform's own answer to a phone (the confirmation of a STOP), from the number it texted: charged
    as any message, but no sender ID or opt-out applies. Submitted by a task after commit, never by the
    caller (the bind process stores inbound messages and must not wait on its own answer).

    None when the balance cannot pay for it: the phone gets no answer, and that is logged.
    """
    count = segment_count(text)
    message = _message_new(account_id=account_id, recipient=recipient, sender=sender, text=text, count=count)
    try:
        credits_debit(**_charge(message))
    except InsufficientCredits:
        logger.warning("No credits for the reply to %s of account %s: not sent", recipient, account_id)
        return None
    transaction.on_commit(partial(message_queue, message_id=str(message.pk)))
    return message


def message_queue(*, message_id: str) -> None:
    """Have a worker submit a queued message now; without a broker, beat's messages_sweep does it later."""
    from .tasks import message_retry  # the task module imports this one

    with contextlib.suppress(REDIS_UNREACHABLE):
        redis_outage.guard_publish(partial(message_retry.delay, message_id))


def _message_new(
    *, account_id, recipient: str, sender: str, text: str, count, callback_url: str = "", first_attempt_lease=None
) -> Message:
    """A message to be charged: with `first_attempt_lease` its first attempt starts now (the caller submits
    it), without it it is due at once for whoever submits it."""
    return Message(
        account_id=account_id,
        recipient=recipient,
        sender=sender,
        text=text,
        encoding=count.encoding,
        segments=count.segments,
        credits=count.segments,
        callback_url=callback_url,
        attempts=0 if first_attempt_lease is None else 1,
        next_attempt_at=timezone.now() + (first_attempt_lease or timedelta(0)),
    )


def _charge(message: Message, precondition: Precondition | None = None) -> dict:
    """The debit of a new message, inserted with it."""
    return {
        "account_id": message.account_id,
        "amount": message.credits,
        "description": f"SMS to {message.recipient}",
        "reference": str(message.id),
        "paid_rows": [message],
        "precondition": precondition,
    }


def _not_opted_out(account_id, phone: str) -> Precondition:
    """The rule that `phone` has not opted out of the account's messages, as the charge's statement checks it."""
    quote = connection.ops.quote_name
    return Precondition(
        sql=f"NOT EXISTS (SELECT 1 FROM {quote(OptOut._meta.db_table)} WHERE account_id = %s AND phone = %s)",
        params=[OptOut._meta.get_field("account").get_db_prep_value(account_id, connection), phone],
        error=partial(RecipientOptedOut, phone),
    )


def _request_hash(**fields) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _idempotency_ttl() -> timedelta:
    return timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL)


def _idempotency_replay(*, account_id, key: str, request_hash: str) -> dict:
    record = IdempotencyKey.objects.get(account_id=account_id, key=key)
    if record.request_hash != request_hash:
        raise IdempotencyKeyReused()
    return record.response


def message_submit(*, message: Message) -> int | None:
    """One attempt at a claimed queued message, its outcome recorded and mirrored on `message`.

    Returns the account's balance after a refund when the message failed for good, else None.
    """
    outcomes, recorded = messages_submit(messages=[message])
    if not outcomes:
        return None  # another attempt owns it now
    outcome = outcomes[0]
    state = recorded.get(str(message.pk))
    if state is None and outcome.result.recorded_status:  # the bind process recorded it, and said what it wrote
        state = Recorded(outcome.result.recorded_status, outcome.result.recorded_balance)
    if state is not None:
        message.status, message.gateway = state.status, outcome.gateway
        message.error, message.error_code = outcome.result.error[:255], outcome.result.error_code[:40]
        if state.status == Message.Status.SENT:
            message.sent_at, message.error, message.error_code = timezone.now(), "", ""
        return state.balance
    if outcome.result.recorded:  # the bind process recorded it, and did not say what it wrote: read it
        message.refresh_from_db(fields=["status", "error", "error_code", "gateway", "sent_at"])
        if message.status == Message.Status.FAILED:
            return balance_get(account_id=message.account_id)
    return None


def message_retry_due(*, message_id) -> None:
    """Submit a queued message whose next attempt is due, unless another attempt holds it."""
    now = timezone.now()
    # A task may arrive a moment before its countdown ends: a second's tolerance.
    claimed = Message.objects.filter(
        pk=message_id, status=Message.Status.QUEUED, next_attempt_at__lte=now + timedelta(seconds=1)
    ).update(attempts=F("attempts") + 1, next_attempt_at=now + submit_lease())
    if claimed:
        message_submit(message=Message.objects.get(pk=message_id))


def sender_create(*, account_id, name: str, purpose: str = "") -> SenderId:
    try:
        with transaction.atomic():
            return SenderId.objects.create(account_id=account_id, name=name, purpose=purpose)
    except IntegrityError:
        raise SenderExists(name) from None


def sender_add_approved(*, account_id, name: str) -> SenderId:
    """A sender ID that staff vouch for (createaccount --sender, the demo account): approved at once."""
    sender = SenderId.objects.filter(account_id=account_id, name__iexact=name).first() or sender_create(
        account_id=account_id, name=name
    )
    if sender.status != SenderId.Status.APPROVED:
        sender_review(sender=sender, approve=True)
    return sender


def tester_add(*, account_id, phone: str, verified: bool = True) -> Tester:
    """Add a tester number (E.164), verified at once when staff vouch for it."""
    tester, _ = Tester.objects.get_or_create(account_id=account_id, phone=phone)
    if verified and tester.verified_at is None:
        tester.verified_at = timezone.now()
        tester.save(update_fields=["verified_at"])
    return tester


def sender_review(*, sender: SenderId, approve: bool, reason: str = "") -> SenderId:
    sender.status = SenderId.Status.APPROVED if approve else SenderId.Status.REJECTED
    sender.rejection_reason = "" if approve else reason
    sender.reviewed_at = timezone.now()
    sender.save(update_fields=["status", "rejection_reason", "reviewed_at"])
    sender_cache_clear()
    return sender


@transaction.atomic
def opt_out_add(*, account_id, phone: str, source: str = OptOut.Source.API) -> tuple[OptOut, bool]:
    """Opt a number (E.164) out of the account's messages, and mark its contact. Returns the opt-out and
    whether it is new; adding one that exists changes nothing (its first source and time stay)."""
    opt_out, created = OptOut.objects.get_or_create(account_id=account_id, phone=phone, defaults={"source": source})
    _contact_mark(account_id=account_id, phone=phone, opted_out=True)
    return opt_out, created


@transaction.atomic
def opt_out_remove(*, account_id, phone: str) -> bool:
    """The number may be messaged again and its contact is no longer marked. Returns whether it was opted out."""
    deleted, _ = OptOut.objects.filter(account_id=account_id, phone=phone).delete()
    if deleted:
        _contact_mark(account_id=account_id, phone=phone, opted_out=False)
    return bool(deleted)


def _contact_mark(*, account_id, phone: str, opted_out: bool) -> None:
    Contact.objects.filter(account_id=account_id, phone=phone).exclude(opted_out=opted_out).update(
        opted_out=opted_out, updated_at=timezone.now()
    )


IMPORT_CHUNK = 2000


def opt_outs_import(*, account_id, phones: list) -> dict:
    """Opt out a suppression list in bulk (numbers as typed); invalid ones are reported by position, from 1."""
    valid, errors = {}, []
    for row, raw in enumerate(phones, start=1):
        phone = phone_normalize(raw) if isinstance(raw, str) else None
        if phone is None:
            errors.append({"row": row, "error": f"Invalid phone: {str(raw)[:40]!r} is not a valid number."})
        else:
            valid[phone] = None
    existing = 0
    phones = list(valid)
    with transaction.atomic():
        # In chunks: SQLite takes so many parameters in one statement and no more.
        for start in range(0, len(phones), IMPORT_CHUNK):
            chunk = phones[start : start + IMPORT_CHUNK]
            known = set(OptOut.objects.filter(account_id=account_id, phone__in=chunk).values_list("phone", flat=True))
            existing += len(known)
            OptOut.objects.bulk_create(
                [
                    OptOut(account_id=account_id, phone=phone, source=OptOut.Source.IMPORT)
                    for phone in chunk
                    if phone not in known
                ],
                ignore_conflicts=True,
            )
            Contact.objects.filter(account_id=account_id, phone__in=chunk, opted_out=False).update(
                opted_out=True, updated_at=timezone.now()
            )
    return {
        "added": len(phones) - existing,
        "existing": existing,
        "failed": len(errors),
        "errors": errors[:MAX_ERRORS],  # as many as a contacts import shows
    }
