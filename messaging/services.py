"""Sending: the whole rule of `POST /api/v1/sms/send/` in one place, and a message's life after it."""

import hashlib
import json
import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from billing.services import credits_debit, credits_refund
from gateways.base import OutboundSms, SubmitResult, SubmitStatus
from gateways.handler import gateways
from gateways.router import gateway_for
from smsplatform.errors import InvalidInput

from .errors import IdempotencyKeyReused, SandboxRecipientNotAllowed, SenderExists, SenderNotApproved
from .models import IdempotencyKey, Message, SenderId, Tester
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
    *, account_id, to: str, sender: str, text: str, idempotency_key: str | None = None
) -> tuple[dict, bool]:
    """Send one SMS: validate, charge, record, submit. Returns the receipt and whether it is a replay.

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

    message = Message(
        account_id=account_id,
        recipient=recipient,
        sender=sender_name,
        text=text,
        encoding=count.encoding,
        segments=count.segments,
        credits=count.segments,
        attempts=1,
        next_attempt_at=timezone.now() + submit_lease(),
    )
    charge = {
        "account_id": account_id,
        "amount": count.segments,
        "description": f"SMS to {recipient}",
        "reference": str(message.id),
        "paid_rows": [message],
    }
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


def _request_hash(**fields) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _idempotency_ttl() -> timedelta:
    return timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL)


def _idempotency_replay(*, account_id, key: str, request_hash: str) -> dict:
    record = IdempotencyKey.objects.get(account_id=account_id, key=key)
    if record.request_hash != request_hash:
        raise IdempotencyKeyReused()
    return record.response


def outbound(message: Message) -> OutboundSms:
    return OutboundSms(
        message_id=str(message.id),
        recipient=message.recipient,
        sender=message.sender,
        text=message.text,
        encoding=message.encoding,
    )


def message_submit(*, message: Message) -> int | None:
    """One attempt at handing a queued message to its gateway, and its outcome recorded.

    Returns the account's balance after a refund when the message failed for good, else None.
    """
    alias = gateway_for(message.recipient)
    try:
        result = gateways[alias].send_messages([outbound(message)], timeout=settings.SMS_SUBMIT_TIMEOUT)[0]
    except Exception:
        logger.exception("Gateway %s raised while submitting message %s", alias, message.id)
        result = SubmitResult.retry("The gateway failed unexpectedly.")
    return message_record_outcome(message=message, gateway=alias, result=result)


def retry_delay(*, attempts: int) -> int:
    """Seconds before the next try of a message that failed for now `attempts` times: exponential, capped."""
    return min(settings.SMS_RETRY_BASE_DELAY * 2 ** (attempts - 1), settings.SMS_RETRY_MAX_DELAY)


def submit_lease() -> timedelta:
    """How long an attempt owns a queued message: nobody else submits it meanwhile."""
    return timedelta(seconds=settings.SMS_SUBMIT_TIMEOUT * 2 + 5)


def message_record_outcome(*, message: Message, gateway: str, result: SubmitResult) -> int | None:
    now = timezone.now()
    queued = Message.objects.filter(pk=message.pk, status=Message.Status.QUEUED)
    if result.status == SubmitStatus.ACCEPTED:
        if _message_mark_sent(
            message_id=message.pk, sent_at=now, gateway=gateway, gateway_message_id=result.gateway_message_id
        ):
            message.status, message.sent_at, message.error = Message.Status.SENT, now, ""
            message.gateway, message.gateway_message_id = gateway, result.gateway_message_id
        return None
    if result.status == SubmitStatus.REJECTED or message.attempts >= settings.SMS_SUBMIT_MAX_ATTEMPTS:
        return message_fail(message=message, error=result.error)
    delay = retry_delay(attempts=message.attempts)
    if queued.update(next_attempt_at=now + timedelta(seconds=delay), error=result.error[:255]):
        message.error = result.error[:255]
        from .tasks import message_retry  # the task module imports this one

        message_retry.apply_async(args=[str(message.pk)], countdown=delay)
    return None


_MARK_SENT_SQL = (
    f"UPDATE {Message._meta.db_table} SET status = %s, sent_at = %s, gateway = %s, gateway_message_id = %s,"
    " error = '', next_attempt_at = NULL WHERE id = %s AND status = %s"
)


def _message_mark_sent(*, message_id, sent_at, gateway: str, gateway_message_id: str) -> bool:
    """queued → sent, once. In SQL: every send runs it, and compiling the ORM's UPDATE costs twice the statement."""
    with connection.cursor() as cursor:
        cursor.execute(
            _MARK_SENT_SQL,
            [
                Message.Status.SENT,
                Message._meta.get_field("sent_at").get_db_prep_value(sent_at, connection),
                gateway,
                gateway_message_id,
                Message._meta.pk.get_db_prep_value(message_id, connection),
                Message.Status.QUEUED,
            ],
        )
        return cursor.rowcount == 1


def message_fail(*, message: Message, error: str) -> int | None:
    """Fail a queued message and refund its credits, once. Returns the balance after the refund."""
    with transaction.atomic():
        if not Message.objects.filter(pk=message.pk, status=Message.Status.QUEUED).update(
            status=Message.Status.FAILED, error=error[:255], next_attempt_at=None
        ):
            return None
        refund = credits_refund(
            account_id=message.account_id,
            amount=message.credits,
            description=f"Refund: SMS to {message.recipient} failed",
            reference=str(message.pk),
        )
    message.status, message.error = Message.Status.FAILED, error[:255]
    return refund.balance_after


def message_retry_due(*, message_id) -> None:
    """Submit a queued message whose next attempt is due, unless another attempt holds it."""
    now = timezone.now()
    # A task may arrive a moment before its countdown ends: a second's tolerance.
    claimed = Message.objects.filter(
        pk=message_id, status=Message.Status.QUEUED, next_attempt_at__lte=now + timedelta(seconds=1)
    ).update(attempts=F("attempts") + 1, next_attempt_at=now + submit_lease())
    if claimed:
        message_submit(message=Message.objects.get(pk=message_id))


def delivery_reports_apply(*, gateway: str, gateway_message_ids: list[str], status: str) -> list[str]:
    """Move sent messages to delivered or undelivered. Returns the ids that matched no message yet.

    A repeated report finds the message no longer `sent` and changes nothing.
    """
    final = {"delivered": Message.Status.DELIVERED, "undelivered": Message.Status.UNDELIVERED}[status]
    Message.objects.filter(
        gateway=gateway, gateway_message_id__in=gateway_message_ids, status=Message.Status.SENT
    ).update(status=final, delivered_at=timezone.now())
    known = set(
        Message.objects.filter(gateway=gateway, gateway_message_id__in=gateway_message_ids).values_list(
            "gateway_message_id", flat=True
        )
    )
    return [gateway_message_id for gateway_message_id in gateway_message_ids if gateway_message_id not in known]


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
