from django.db.models import QuerySet
from django.db.models.functions import Lower

from smsplatform.errors import NotFound

from .models import Message, SenderId, Tester

HISTORY_LENGTH = 100


def sender_approved(*, account_id, name: str) -> tuple[str, bool] | None:
    """The approved sender ID matching `name` in any case, as registered, and whether the account is a
    sandbox (one query for both checks of a send); None when the account has no such approved sender.
    """
    return (
        SenderId.objects.annotate(lower_name=Lower("name"))
        .filter(account_id=account_id, lower_name=name.lower(), status=SenderId.Status.APPROVED)
        .values_list("name", "account__is_sandbox")
        .first()
    )


def sender_list(*, account_id) -> QuerySet[SenderId]:
    return SenderId.objects.filter(account_id=account_id).order_by("-created_at")


def tester_list(*, account_id) -> QuerySet[Tester]:
    return Tester.objects.filter(account_id=account_id, verified_at__isnull=False).order_by("-created_at")


def tester_is_verified(*, account_id, phone: str) -> bool:
    return tester_list(account_id=account_id).filter(phone=phone).exists()


def message_history(*, account_id) -> QuerySet[Message]:
    """The account's last 100 messages, newest first, in one query."""
    return Message.objects.filter(account_id=account_id).order_by("-created_at", "-id")[:HISTORY_LENGTH]


def message_get(*, account_id, message_id) -> Message:
    message = Message.objects.filter(account_id=account_id, pk=message_id).first()
    if message is None:
        raise NotFound("Message not found.")
    return message
