"""CSV exports of messages, streamed: every row of a queryset, in constant memory, made safe for spreadsheets.

    messages = message_list(account_id=..., filters=message_filters_parse(request.GET))
    return messages_csv_response(messages=messages, filename=messages_csv_filename())

The API's `GET /api/v1/sms/messages/?format=csv` and the dashboard's export call these.
"""

import csv
import re
from collections.abc import Iterator
from datetime import UTC, datetime

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from .models import Message

# The header row, named as the API's JSON names them, and the Message field each column reads.
MESSAGE_CSV_COLUMNS = {
    "message_id": "id",
    "created_at": "created_at",
    "recipient": "recipient",
    "sender": "sender",
    "message": "text",
    "status": "status",
    "segments": "segments",
    "credits": "credits",
    "campaign_id": "campaign_id",
    "error": "error",
    "error_code": "error_code",
    "sent_at": "sent_at",
    "delivered_at": "delivered_at",
}
CHUNK_SIZE = 2000  # rows the database cursor fetches at a time (a server-side cursor on PostgreSQL)
ROWS_PER_WRITE = 500  # rows joined into one piece of the response: fewer, larger writes to the socket

# What a spreadsheet takes for the start of a formula (OWASP, "CSV Injection"): = + - @, tab, carriage return.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# An E.164 number (a recipient, or the inbound number a reply went from) is no formula, only digits.
_PHONE_NUMBER = re.compile(r"\+\d{1,15}")


def csv_safe(value: str) -> str:
    """The cell `value`, with a `'` in front when a spreadsheet would run it as a formula (OWASP's advice).

    Every text cell goes through it, whatever its column. An E.164 number (`+263771234567`) is left as it is:
    a `+` and digits cannot call anything, and a program reading the file gets the number as the API gives it.
    """
    if value.startswith(_FORMULA_START) and not _PHONE_NUMBER.fullmatch(value):
        return "'" + value
    return value


def _cell(value) -> str | int:
    if value is None:
        return ""
    if isinstance(value, datetime):
        # As the API writes times: UTC, to the second, with a Z.
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, int):
        return value
    return csv_safe(str(value))


class _Line:
    """A file-like object whose write() returns what it was given: csv.writer then makes one line at a time."""

    def write(self, value: str) -> str:
        return value


def messages_csv_rows(messages: QuerySet[Message]) -> Iterator[str]:
    """The header, then every message of `messages` as CSV (RFC 4180: comma-separated, quoted where needed,
    CRLF line ends), in pieces of ROWS_PER_WRITE lines. The queryset is read with `.iterator(chunk_size=…)`:
    memory stays constant however many rows it has; its order is kept."""
    writer = csv.writer(_Line())
    yield writer.writerow(list(MESSAGE_CSV_COLUMNS))
    lines = []
    for row in messages.values_list(*MESSAGE_CSV_COLUMNS.values()).iterator(chunk_size=CHUNK_SIZE):
        lines.append(writer.writerow([_cell(value) for value in row]))
        if len(lines) >= ROWS_PER_WRITE:
            yield "".join(lines)
            lines = []
    if lines:
        yield "".join(lines)


def messages_csv_filename(*, now: datetime | None = None) -> str:
    """`messages-20261124-141630.csv`: the time of the export, in UTC."""
    return f"messages-{(now or timezone.now()).astimezone(UTC):%Y%m%d-%H%M%S}.csv"


def messages_csv_response(*, messages: QuerySet[Message], filename: str) -> StreamingHttpResponse:
    """A download (`Content-Disposition: attachment`) of `messages` as CSV, streamed as the database yields
    them: one query, however many rows. `filename` is used as given (keep it ASCII, without quotes)."""
    response = StreamingHttpResponse(messages_csv_rows(messages), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
