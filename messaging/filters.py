"""The filters of a list of messages, parsed once from a query string: the API's `GET /api/v1/sms/messages/`
and the dashboard's Messages page read the same parameters the same way.

    filters = message_filters_parse(request.GET)          # raises InvalidInput (a 400 naming each bad one)
    messages = message_list(account_id=..., filters=filters)  # messaging.selectors; NotFound for a foreign campaign
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from smsplatform.errors import InvalidInput

from .models import Message
from .phone import phone_normalize

PARAMETERS = ("from", "to", "status", "sender", "campaign", "phone")
STATUSES = [status.value for status in Message.Status]

DATE_OR_DATETIME = "Enter a date (2026-11-24) or a date and time (2026-11-24T14:16:30Z)."
# How much a `to` given to the minute, the second or a fraction of it takes in: all of that last unit.
_TIME_PRECISION = re.compile(r"[T ]\d\d:\d\d(?P<seconds>:\d\d(?P<fraction>[.,]\d+)?)?", re.IGNORECASE)
# `+02:00` in a query string that was not percent-encoded arrives as ` 02:00`: the `+` became a space.
_OFFSET_LOST_PLUS = re.compile(r"(T[\d:.,]+) (\d\d(:?\d\d)?)$", re.IGNORECASE)


@dataclass(frozen=True)
class MessageFilters:
    """What a list of messages is narrowed to; None (every field's default) narrows nothing.

    created_from:   created at or after this instant (aware).
    created_before: created strictly before this instant (aware): `to` parsed to the end of what it names.
    status:         one of Message.Status.
    sender:         the sender as registered, in any case.
    campaign_id:    a campaign id as given (a string): message_list checks it is one of the account's.
    phone:          the recipient in E.164.
    """

    created_from: datetime | None = None
    created_before: datetime | None = None
    status: str | None = None
    sender: str | None = None
    campaign_id: str | None = None
    phone: str | None = None


def message_filters_parse(params: Mapping[str, str]) -> MessageFilters:
    """MessageFilters from query parameters (a QueryDict or any mapping of str to str).

    `from`, `to`: an ISO 8601 date or date and time (without a zone: settings.TIME_ZONE, UTC). `from` is
    inclusive; so is `to`, to the end of what it names: the whole day of a date, the whole minute of
    `…T14:16`, the whole second of `…T14:16:30` (as the API writes times), the instant of a fraction.
    `status`: one of Message.Status. `sender`: any case. `campaign`: a campaign id. `phone`: the recipient as
    typed (`0771234567`, `771234567`, `+263771234567`, `263771234567`). An empty value narrows nothing; other
    parameters are ignored.

    Raises InvalidInput naming every bad parameter: {"from": [...], "phone": [...]}.
    """
    values = {name: params.get(name) or "" for name in PARAMETERS}
    errors: dict[str, list[str]] = {}
    parsed: dict = {}
    for name, value in values.items():
        if not value:
            continue
        if "\x00" in value:
            errors[name] = ["Null characters are not allowed."]
            continue
        if name in ("from", "to"):
            bounds = _instant_range(value)
            if bounds is None:
                errors[name] = [DATE_OR_DATETIME]
            elif name == "from":
                parsed["created_from"] = bounds[0]
            else:
                parsed["created_before"] = bounds[1]
        elif name == "status":
            if value not in STATUSES:
                errors[name] = [f"Must be one of: {', '.join(STATUSES)}."]
            else:
                parsed["status"] = value
        elif name == "phone":
            phone = phone_normalize(value)
            if phone is None:
                errors[name] = ["Enter a valid phone number."]
            else:
                parsed["phone"] = phone
        elif name == "sender":
            parsed["sender"] = value
        else:
            parsed["campaign_id"] = value
    if errors:
        raise InvalidInput(errors)
    filters = MessageFilters(**parsed)
    if filters.created_from and filters.created_before and filters.created_from >= filters.created_before:
        raise InvalidInput({"to": ["Must not be before `from`."]})
    return filters


def _instant_range(value: str) -> tuple[datetime, datetime] | None:
    """The first instant `value` names and the first one after it: a whole day for a date, a whole minute
    or second for a time given to the minute or second. None when it is neither a date nor a datetime."""
    value = value.strip()
    try:
        day = parse_date(value)
        if day is not None:
            start = timezone.make_aware(datetime.combine(day, time.min))
            return start, start + timedelta(days=1)
        moment = parse_datetime(_OFFSET_LOST_PLUS.sub(r"\1+\2", value))
        if moment is None:
            return None
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        precision = _TIME_PRECISION.search(value)
        if precision is None or precision["fraction"]:
            unit = timedelta(microseconds=1)
        elif precision["seconds"]:
            unit = timedelta(seconds=1)
        else:
            unit = timedelta(minutes=1)
        return moment, moment + unit
    except (ValueError, OverflowError):  # well formed, but no such day or time (2026-02-30, 25:00, past 9999)
        return None
