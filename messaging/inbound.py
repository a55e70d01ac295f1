"""Messages from phones: reassembled when long, matched to the account of the number (and keyword) they were
sent to, stored, acted on when they are STOP or START, and pushed to the account's webhook.

One place for every way in: the bind process's deliver_sm and an HTTP provider's inbound callback.
"""

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q

from accounts.models import Account
from gateways.base import InboundSms
from webhooks.outbox import webhook_inbound_events_create

from .models import InboundMessage, InboundNumber, InboundPart, OptOut
from .phone import phone_normalize
from .services import message_reply, opt_out_add, opt_out_remove

logger = logging.getLogger(__name__)

# The whole message, in any case (and with a full stop or an exclamation mark after it): "Stop" opts out,
# "Please don't stop" does not.
OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN_WORDS = frozenset({"START", "UNSTOP"})


@dataclass(frozen=True, slots=True)
class _Whole:
    """An inbound message with every part it has."""

    gateway: str
    sender: str
    recipient: str
    text: str
    parts: int = 1


def number_normalize(raw: str) -> str:
    """Our number as InboundNumber writes it: E.164 for a valid phone number, else its digits (a short code)."""
    return _e164(raw) or re.sub(r"\D", "", raw) or raw.strip()


def _e164(raw: str) -> str | None:
    """A number as typed, or as an SMSC writes an international one (263771234567, no "+"), in E.164."""
    return phone_normalize(raw) or phone_normalize(f"+{raw}")


def inbound_receive(*, messages: Sequence[InboundSms]) -> list[InboundMessage]:
    """Store what phones sent: each whole message once its last part is here, with the account it went to.

    Must be called outside a transaction: a part is committed on its own, so the last of several parts
    arriving at once in several processes sees the others.
    """
    stored = []
    for whole in _reassembled(messages):
        inbound = _routed(whole)
        with transaction.atomic():
            inbound.save(force_insert=True)
            if inbound.account_id is not None:
                webhook_inbound_events_create(inbound_ids=[inbound.pk])
                _command_apply(inbound)
        stored.append(inbound)
    return stored


def _reassembled(messages: Sequence[InboundSms]) -> list[_Whole]:
    whole = []
    for sms in messages:
        sender = _e164(sms.sender) or sms.sender[:32]
        recipient = number_normalize(sms.recipient)[:32]
        if sms.concat is None or not 1 <= sms.concat[2] <= sms.concat[1] or sms.concat[1] == 1:
            whole.append(_Whole(sms.gateway, sender, recipient, sms.text))
            continue
        reference, total, number = sms.concat
        siblings = InboundPart.objects.filter(
            gateway=sms.gateway, sender=sender, recipient=recipient, reference=reference, total=total
        )
        # A part delivered twice is kept once.
        InboundPart.objects.bulk_create(
            [
                InboundPart(
                    gateway=sms.gateway,
                    sender=sender,
                    recipient=recipient,
                    reference=reference,
                    total=total,
                    number=number,
                    text=sms.text,
                )
            ],
            ignore_conflicts=True,
        )
        parts = list(siblings.order_by("number").values_list("pk", "text"))
        if len(parts) < total:
            continue
        # Whoever deletes every part assembles the message: of two processes that both saw it complete, one.
        deleted, _ = InboundPart.objects.filter(pk__in=[pk for pk, _ in parts]).delete()
        if deleted == total:
            whole.append(_Whole(sms.gateway, sender, recipient, "".join(text for _, text in parts), total))
    return whole


def _routed(whole: _Whole) -> InboundMessage:
    """The message with the account of its number: the number's row whose keyword is the first word, else the
    number's row without a keyword; no account when neither exists."""
    numbers = {
        row.keyword: row
        for row in InboundNumber.objects.filter(Q(gateway="") | Q(gateway=whole.gateway), number=whole.recipient)
    }
    first_word = whole.text.split(maxsplit=1)[0].upper() if whole.text.strip() else ""
    keyword = first_word if first_word and first_word in numbers else ""
    number = numbers.get(keyword)
    if number is None:
        logger.info("Inbound message to %s (gateway %s) matches no inbound number", whole.recipient, whole.gateway)
    return InboundMessage(
        account_id=number.account_id if number else None,
        inbound_number=number,
        gateway=whole.gateway,
        sender=whole.sender,
        recipient=whole.recipient,
        text=whole.text,
        keyword=keyword,
        parts=whole.parts,
    )


def command_of(inbound: InboundMessage) -> str:
    """STOP, START (or a synonym) when that word is the whole message after its keyword, else ''."""
    words = inbound.text.split()[1 if inbound.keyword else 0 :]
    word = words[0].rstrip(".!").upper() if len(words) == 1 else ""
    return word if word in OPT_OUT_WORDS | OPT_IN_WORDS else ""


def _command_apply(inbound: InboundMessage) -> None:
    """A STOP opts the phone out of the account's messages, a START back in; a change is answered by one SMS
    from the number it was texted to (the account's reply text; none when that is empty)."""
    command = command_of(inbound)
    if not command:
        return
    phone = phone_normalize(inbound.sender)
    if phone is None:
        logger.info("%s from %s, which is no phone number: ignored", command, inbound.sender)
        return
    account = Account.objects.only("opt_out_reply", "opt_in_reply").get(pk=inbound.account_id)
    if command in OPT_OUT_WORDS:
        _, changed = opt_out_add(account_id=inbound.account_id, phone=phone, source=OptOut.Source.KEYWORD)
        reply = account.opt_out_reply
    else:
        changed = opt_out_remove(account_id=inbound.account_id, phone=phone)
        reply = account.opt_in_reply
    if changed and reply:
        message_reply(account_id=inbound.account_id, recipient=phone, sender=inbound.recipient[:16], text=reply)
