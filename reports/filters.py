"""The parameters of the usage report, parsed once from a query string (the API's and the dashboard's).

query = usage_query_parse(request.GET)           # raises InvalidInput (a 400 naming each bad one)
report = usage_report(account_id=..., query=query)  # reports.selectors
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_date

from smsplatform.errors import InvalidInput

GROUP_BY = ("day", "sender", "campaign")
DEFAULT_DAYS = 30  # `from` defaults to 29 days before `to`: 30 days with both ends
MAX_DAYS = 366


@dataclass(frozen=True)
class UsageQuery:
    """The days `date_from` to `date_to`, both included (UTC days), grouped by `group_by` (one of GROUP_BY)."""

    date_from: date
    date_to: date
    group_by: str = "day"

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1


def usage_query_parse(params: Mapping[str, str], *, today: date | None = None) -> UsageQuery:
    """A UsageQuery from query parameters: `from` and `to` ISO dates (`2026-11-24`), `to` by default today
    and `from` 29 days before `to`; `group_by` `day` (the default), `sender` or `campaign`. An empty value is
    the default; other parameters are ignored.

    Raises InvalidInput naming every bad parameter, `from` after `to`, or a range over MAX_DAYS days.
    """
    errors: dict[str, list[str]] = {}
    dates: dict[str, date] = {}
    for name in ("from", "to"):
        value = (params.get(name) or "").strip()
        if not value:
            continue
        try:
            parsed = parse_date(value) if "\x00" not in value else None
        except ValueError:  # well formed, but no such day (2026-02-30)
            parsed = None
        if parsed is None:
            errors[name] = ["Enter a date: 2026-11-24."]
        else:
            dates[name] = parsed
    group_by = params.get("group_by") or "day"
    if group_by not in GROUP_BY:
        errors["group_by"] = [f"Must be one of: {', '.join(GROUP_BY)}."]
    if errors:
        raise InvalidInput(errors)
    date_to = dates.get("to") or today or timezone.localdate()
    try:
        date_from = dates.get("from") or date_to - timedelta(days=DEFAULT_DAYS - 1)
    except OverflowError:  # `to` in year 1
        date_from = date.min
    query = UsageQuery(date_from=date_from, date_to=date_to, group_by=group_by)
    if date_from > date_to:
        raise InvalidInput({"to": ["Must not be before `from`."]})
    if query.days > MAX_DAYS:
        raise InvalidInput({"to": [f"The range is {query.days} days; at most {MAX_DAYS}."]})
    return query
