import time
import uuid

from django.conf import settings
from django.db.models import QuerySet
from django.db.models.functions import Lower

from smsplatform.errors import NotFound

from .filters import MessageFilters
from .models import InboundMessage, Message, OptOut, SenderId, Tester

HISTORY_LENGTH = 100


# (account id, lower-case name) → (expiry, answer). Per process: a send asks on every request, and an
# approval, a rejection or a sandbox change may take SENDER_CACHE_SECONDS to reach every process.
_sender_cache: dict[tuple, tuple[float, tuple[str, bool] | None]] = {}
_SENDER_CACHE_MAX = 10_000


def sender_approved(*, account_id, name: str) -> tuple[str, bool] | None:
    """The approved sender ID matching `name` in any case, as registered, and whether the account is a
    sandbox (one query for both checks of a send); None when the account has no such approved sender.
    """
    key = (account_id, name.lower())
    now = time.monotonic()
    cached = _sender_cache.get(key)
    if cached is not None and cached[0] > now:
        return cached[1]
    answer = (
        SenderId.objects.annotate(lower_name=Lower("name"))
        .filter(account_id=account_id, lower_name=key[1], status=SenderId.Status.APPROVED)
        .values_list("name", "account__is_sandbox")
        .first()
    )
    if len(_sender_cache) >= _SENDER_CACHE_MAX:
        _sender_cache.clear()
    _sender_cache[key] = (now + settings.SENDER_CACHE_SECONDS, answer)
    return answer


def sender_cache_clear() -> None:
    """Forget this process's cached sender answers (after a review here; other processes wait them out)."""
    _sender_cache.clear()


def sender_list(*, account_id) -> QuerySet[SenderId]:
    return SenderId.objects.filter(account_id=account_id).order_by("-created_at")


def sender_names_approved(*, account_id) -> list[str]:
    """The names an account may send from, alphabetically (the dashboard's sender menus)."""
    approved = SenderId.objects.filter(account_id=account_id, status=SenderId.Status.APPROVED)
    return list(approved.order_by("name").values_list("name", flat=True))


def tester_list(*, account_id) -> QuerySet[Tester]:
    return Tester.objects.filter(account_id=account_id, verified_at__isnull=False).order_by("-created_at")


def tester_is_verified(*, account_id, phone: str) -> bool:
    return tester_list(account_id=account_id).filter(phone=phone).exists()


def message_history(*, account_id) -> QuerySet[Message]:
    """The account's last 100 messages, newest first, in one query."""
    return Message.objects.filter(account_id=account_id).order_by("-created_at", "-id")[:HISTORY_LENGTH]


def message_list(*, account_id, filters: MessageFilters) -> QuerySet[Message]:
    """The account's messages that pass `filters` (messaging.filters.message_filters_parse), newest first.

    `account_id` None means every account's: for operators in the dashboard only; the API always passes the
    key's account. A `filters.campaign_id` that is not a campaign of the account (unknown, another account's,
    not a UUID) raises NotFound, as `?group_id=` does for contacts: one query to check it.

    The queryset reads the (account, created_at) index in its order: page it, or stream it with
    `.iterator(chunk_size=…)` (messaging.export).
    """
    messages = Message.objects.all() if account_id is None else Message.objects.filter(account_id=account_id)
    if filters.campaign_id is not None:
        campaigns = Message.campaign.field.related_model.objects.all()  # campaigns sit above messaging
        if account_id is not None:
            campaigns = campaigns.filter(account_id=account_id)
        campaign_id = _uuid_or_none(filters.campaign_id)
        if campaign_id is None or not campaigns.filter(pk=campaign_id).exists():
            raise NotFound("Campaign not found.")
        messages = messages.filter(campaign_id=campaign_id)
    if filters.created_from is not None:
        messages = messages.filter(created_at__gte=filters.created_from)
    if filters.created_before is not None:
        messages = messages.filter(created_at__lt=filters.created_before)
    if filters.status is not None:
        messages = messages.filter(status=filters.status)
    if filters.sender is not None:
        messages = messages.filter(sender__iexact=filters.sender)
    if filters.phone is not None:
        messages = messages.filter(recipient=filters.phone)
    return messages.order_by("-created_at", "-id")


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None


def message_get(*, account_id, message_id) -> Message:
    message = Message.objects.filter(account_id=account_id, pk=message_id).first()
    if message is None:
        raise NotFound("Message not found.")
    return message


def opt_out_list(*, account_id, phone: str | None = None) -> QuerySet[OptOut]:
    """The account's opt-outs, newest first; `phone` (E.164) keeps that number's."""
    opt_outs = OptOut.objects.filter(account_id=account_id)
    if phone is not None:
        opt_outs = opt_outs.filter(phone=phone)
    return opt_outs.order_by("-created_at", "-id")


def opt_out_exists(*, account_id, phone: str) -> bool:
    """One indexed EXISTS: a send asks it on every request."""
    return OptOut.objects.filter(account_id=account_id, phone=phone).exists()


def inbox_list(
    *, account_id, number: str | None = None, sender: str | None = None, since=None, until=None
) -> QuerySet[InboundMessage]:
    """The account's inbound messages, newest first; each filter given narrows them."""
    messages = InboundMessage.objects.filter(account_id=account_id)
    if number is not None:
        messages = messages.filter(recipient=number)
    if sender is not None:
        messages = messages.filter(sender=sender)
    if since is not None:
        messages = messages.filter(received_at__gte=since)
    if until is not None:
        messages = messages.filter(received_at__lt=until)
    return messages.order_by("-received_at", "-id")
