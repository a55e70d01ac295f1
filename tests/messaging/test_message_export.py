"""GET /api/v1/sms/messages/?format=csv: every message the filters keep, streamed as CSV, safe in a spreadsheet."""

import csv
import io

import pytest
from django.http import StreamingHttpResponse

from messaging.export import MESSAGE_CSV_COLUMNS, csv_safe, messages_csv_rows
from messaging.models import Message
from tests.factories import MessageFactory

URL = "/api/v1/sms/messages/"
HEADER = list(MESSAGE_CSV_COLUMNS)


def rows(response) -> list[list[str]]:
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def many(account, count: int, **fields) -> None:
    Message.objects.bulk_create(
        Message(account=account, recipient=f"+26377{n:07d}", sender="MyBrand", text=f"Hello {n}", encoding="GSM-7",
                segments=1, credits=1, **fields)
        for n in range(count)
    )  # fmt: skip


def test_csv_is_a_streamed_download_of_every_matching_message_not_a_page(api_client, account):
    many(account, 120)

    response = api_client.get(URL, {"format": "csv", "page_size": 10, "page": 3})

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="messages-')
    assert response["Content-Disposition"].endswith('.csv"')
    lines = rows(response)
    assert lines[0] == HEADER
    assert len(lines) == 121


def test_accept_text_csv_asks_for_it_too(api_client, account):
    message = MessageFactory(account=account, text='Hi, "you"\nthere', status="delivered")

    lines = rows(api_client.get(URL, HTTP_ACCEPT="text/csv"))

    assert lines[0] == HEADER
    row = dict(zip(HEADER, lines[1], strict=True))
    assert row == {
        "message_id": str(message.pk), "created_at": message.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "recipient": message.recipient, "sender": "MyBrand", "message": 'Hi, "you"\nthere', "status": "delivered",
        "segments": "1", "credits": "1", "campaign_id": "", "error": "", "error_code": "", "sent_at": "",
        "delivered_at": "",
    }  # fmt: skip


def test_the_filters_apply_to_the_csv(api_client, account):
    many(account, 3, status="failed")
    many(account, 2, status="delivered")

    assert len(rows(api_client.get(URL, {"format": "csv", "status": "failed"}))) == 4


def test_the_csv_is_one_query_read_in_chunks(api_client, account, django_assert_num_queries):
    many(account, 2500)  # more than one chunk of the cursor
    api_client.get("/api/v1/billing/balance/")  # the key's lookup is cached from here on

    with django_assert_num_queries(1):
        response = api_client.get(URL, {"format": "csv"})
        pieces = list(response.streaming_content)

    assert len(pieces) > 5  # streamed in pieces, not built whole
    assert b"".join(pieces).count(b"\r\n") == 2501


def test_another_accounts_messages_are_not_exported(api_client, other_account):
    many(other_account, 3)

    assert rows(api_client.get(URL, {"format": "csv"})) == [HEADER]


def test_errors_are_json_also_when_csv_was_asked_for(api_client, anonymous_client):
    response = api_client.get(URL, {"format": "csv", "status": "lost"})

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["fields"] == {"status": ["Must be one of: queued, sent, delivered, undelivered, failed."]}
    unauthenticated = anonymous_client.get(URL, HTTP_ACCEPT="text/csv")
    assert (unauthenticated.status_code, unauthenticated.json()["code"]) == (401, "not_authenticated")


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("+263771234567", "+263771234567"),  # an E.164 number: digits only, left as it is
        ("+", "'+"),
        ("Hello = world", "Hello = world"),
        ("", ""),
    ],
)
def test_cells_a_spreadsheet_would_run_start_with_a_quote(value, safe):
    assert csv_safe(value) == safe


def test_every_text_column_is_neutralised_and_numbers_are_kept(account):
    MessageFactory(
        account=account, text="=1+1", sender="+263772000111", error="-ERR", error_code="@x", recipient="+263771234567"
    )

    lines = list(csv.reader(io.StringIO("".join(messages_csv_rows(Message.objects.all())))))
    line = dict(zip(HEADER, lines[1], strict=True))

    assert (line["message"], line["error"], line["error_code"]) == ("'=1+1", "'-ERR", "'@x")
    assert (line["recipient"], line["sender"]) == ("+263771234567", "+263772000111")


def test_options_and_wrong_methods_answer_json_when_csv_is_asked_for(api_client):
    assert api_client.options(URL, HTTP_ACCEPT="text/csv")["Content-Type"] == "application/json"
    response = api_client.post(URL + "?format=csv")
    assert (response.status_code, response["Content-Type"]) == (405, "application/json")
