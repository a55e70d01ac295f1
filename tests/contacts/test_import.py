import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from contacts import importing
from contacts.errors import ImportConflict, ImportTooLarge
from contacts.models import Contact
from contacts.parsers import CsvParser
from contacts.services import contacts_import
from messaging.models import OptOut
from tests.factories import AccountFactory, ContactFactory, GroupFactory

from .helpers import IMPORT_URL, assert_error


def post_csv(client, text: str | bytes, **query):
    body = text.encode() if isinstance(text, str) else text
    url = IMPORT_URL + ("?" + "&".join(f"{key}={value}" for key, value in query.items()) if query else "")
    return client.post(url, body, content_type="text/csv")


def post_file(client, text: str | bytes, name: str = "contacts.csv", **fields):
    body = text.encode() if isinstance(text, str) else text
    return client.post(IMPORT_URL, {"file": SimpleUploadedFile(name, body, "text/csv"), **fields}, format="multipart")


def post_json(client, body, **query):
    url = IMPORT_URL + ("?" + "&".join(f"{key}={value}" for key, value in query.items()) if query else "")
    return client.post(url, body, format="json")


def result(response) -> dict:
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"created", "updated", "failed", "errors"}
    return body


def contacts_of(account) -> dict[str, tuple[str, str]]:
    return {c.phone: (c.first_name, c.last_name) for c in Contact.objects.filter(account=account)}


def numbers(count: int, start: int = 0) -> list[str]:
    return [f"077{n:07d}" for n in range(start, start + count)]


# --- CSV ------------------------------------------------------------------------------------------


def test_import_a_csv_body(api_client, account):
    response = post_csv(api_client, "phone,first_name,last_name\n0771111111,Tendai,Moyo\n+263 77 222 2222,Rudo,\n")

    assert result(response) == {"created": 2, "updated": 0, "failed": 0, "errors": []}
    assert contacts_of(account) == {"+263771111111": ("Tendai", "Moyo"), "+263772222222": ("Rudo", "")}


def test_import_a_multipart_file(api_client, account):
    response = post_file(api_client, "phone,first_name\n0771111111,Tendai\n")

    assert result(response)["created"] == 1
    assert contacts_of(account) == {"+263771111111": ("Tendai", "")}


def test_a_utf8_bom_is_ignored(api_client, account):
    response = post_file(api_client, "\ufeffphone,first_name\n0771111111,Tafadzwa\n".encode())

    assert result(response)["created"] == 1
    assert contacts_of(account) == {"+263771111111": ("Tafadzwa", "")}


def test_quoted_fields_with_commas_quotes_and_newlines(api_client, account):
    text = (
        'phone,first_name,last_name\r\n0771111111,"Moyo, Tendai","He said ""hi""\nthere"\r\n0772222222,Rudo,Ncube\r\n'
    )

    assert result(post_csv(api_client, text))["created"] == 2
    assert contacts_of(account) == {
        "+263771111111": ("Moyo, Tendai", 'He said "hi"\nthere'),
        "+263772222222": ("Rudo", "Ncube"),
    }


def test_columns_in_any_order_any_case_and_extra_columns_ignored(api_client, account):
    text = "Email, LAST NAME ,notes,Phone,first-name\nx@example.com,Moyo,vip,0771111111,Tendai\n"

    assert result(post_csv(api_client, text))["created"] == 1
    assert contacts_of(account) == {"+263771111111": ("Tendai", "Moyo")}


def test_a_phone_column_alone_is_enough(api_client, account):
    assert result(post_csv(api_client, "phone\n0771111111\n0772222222"))["created"] == 2
    assert contacts_of(account) == {"+263771111111": ("", ""), "+263772222222": ("", "")}


def test_bad_rows_are_reported_by_row_number_and_never_stop_the_good_ones(api_client, account):
    text = (
        "phone,first_name,last_name\n"
        "0771111111,Good,One\n"  # row 1
        "12345,Bad,Phone\n"  # row 2
        ",No,Phone\n"  # row 3
        "\n"  # row 4: blank, skipped
        f"0772222222,{'x' * 101},Long\n"  # row 5
        "0773333333\n"  # row 6: short row, names missing
        "0774444444,Nul\x00,Name\n"  # row 7
        "771234567,Excel,Dropped the zero\n"  # row 8
    )

    body = result(post_csv(api_client, text))

    assert body == {
        "created": 3,
        "updated": 0,
        "failed": 4,
        "errors": [
            {"row": 2, "error": "Invalid phone: Enter a valid phone number."},
            {"row": 3, "error": "Invalid phone: This field is required."},
            {"row": 5, "error": "Invalid first_name: Ensure this field has no more than 100 characters."},
            {"row": 7, "error": "Invalid first_name: Null and surrogate characters are not allowed."},
        ],
    }
    assert set(contacts_of(account)) == {"+263771111111", "+263773333333", "+263771234567"}


def test_row_numbers_count_records_not_lines(api_client):
    text = 'phone,first_name\n0771111111,"Two\nlines"\nbad,X\n'

    assert result(post_csv(api_client, text))["errors"] == [
        {"row": 2, "error": "Invalid phone: Enter a valid phone number."}
    ]


def test_only_the_first_100_errors_are_listed(api_client):
    text = "phone\n" + "bad\n" * 150 + "0771111111\n"

    body = result(post_csv(api_client, text))

    assert (body["created"], body["failed"], len(body["errors"])) == (1, 150, 100)
    assert body["errors"][-1]["row"] == 100


def test_a_phone_again_in_one_file_is_a_duplicate_row_and_the_first_row_is_imported(api_client, account):
    text = (
        "phone,first_name,last_name\n"
        "0771111111,First,Moyo\n"  # row 1
        "+263771111111,Second,\n"  # row 2: the same phone in another form
        "0772222222,Other,X\n"  # row 3
        f"0773333333,{'x' * 101},\n"  # row 4: failed, so row 5 is the first of its phone
        "0773333333,Rudo,\n"  # row 5
    )

    assert result(post_csv(api_client, text)) == {
        "created": 3,
        "updated": 0,
        "failed": 2,
        "errors": [
            {"row": 2, "error": "Duplicate phone: +263771111111 is already in row 1."},
            {"row": 4, "error": "Invalid first_name: Ensure this field has no more than 100 characters."},
        ],
    }
    assert contacts_of(account) == {
        "+263771111111": ("First", "Moyo"),
        "+263772222222": ("Other", "X"),
        "+263773333333": ("Rudo", ""),
    }


def test_duplicates_across_batches_are_duplicate_rows(api_client, account, monkeypatch):
    monkeypatch.setattr(importing, "BATCH_SIZE", 2)
    text = "phone,first_name\n0771111111,A\n0772222222,B\n0773333333,C\n0771111111,D\n0774444444,E\n0772222222,F\n"

    assert result(post_csv(api_client, text)) == {
        "created": 4,
        "updated": 0,
        "failed": 2,
        "errors": [
            {"row": 4, "error": "Duplicate phone: +263771111111 is already in row 1."},
            {"row": 6, "error": "Duplicate phone: +263772222222 is already in row 2."},
        ],
    }
    assert contacts_of(account)["+263771111111"] == ("A", "")


def test_a_duplicate_of_an_existing_contact_updates_it_once(api_client, account):
    ContactFactory(account=account, phone="+263771111111", first_name="Old", last_name="Moyo")

    body = result(post_csv(api_client, "phone,first_name\n0771111111,New\n0771111111,Newer\n"))

    assert body == {
        "created": 0,
        "updated": 1,
        "failed": 1,
        "errors": [{"row": 2, "error": "Duplicate phone: +263771111111 is already in row 1."}],
    }
    assert contacts_of(account) == {"+263771111111": ("New", "Moyo")}


def test_an_existing_phone_updates_names_and_counts_as_updated(api_client, account):
    kept = ContactFactory(account=account, phone="+263771111111", first_name="Old", last_name="Name", opted_out=True)
    ContactFactory(account=account, phone="+263772222222", first_name="Same", last_name="Same")

    text = "phone,first_name,last_name\n0771111111,New,\n0772222222,Same,Same\n0773333333,Fresh,One\n"
    body = result(post_csv(api_client, text))

    assert body == {"created": 1, "updated": 2, "failed": 0, "errors": []}
    kept.refresh_from_db()
    # An empty cell keeps the name; an import never changes opted_out.
    assert (kept.first_name, kept.last_name, kept.opted_out) == ("New", "Name", True)
    assert Contact.objects.filter(account=account).count() == 3


def test_a_file_without_name_columns_keeps_existing_names(api_client, account):
    ContactFactory(account=account, phone="+263771111111", first_name="Tendai", last_name="Moyo")

    assert result(post_csv(api_client, "phone\n0771111111\n"))["updated"] == 1
    assert contacts_of(account) == {"+263771111111": ("Tendai", "Moyo")}


def test_a_header_only_file_imports_nothing(api_client):
    assert result(post_csv(api_client, "phone,first_name\n")) == {"created": 0, "updated": 0, "failed": 0, "errors": []}


@pytest.mark.parametrize("post", [post_csv, post_file])
@pytest.mark.parametrize("text", ["", "\n\n  \n", "\ufeff"])
def test_an_empty_file_is_a_400(api_client, post, text):
    body = assert_error(post(api_client, text), 400, "invalid")

    assert list(body["fields"]) == ["file"]


def test_a_multipart_request_without_a_file_is_a_400(api_client):
    response = api_client.post(IMPORT_URL, {"group_id": "x"}, format="multipart")

    assert "file" in assert_error(response, 400, "invalid")["fields"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name,number\nTendai,0771111111\n", "header naming a phone column"),
        ("0771111111,Tendai\n0772222222,Rudo\n", "header naming a phone column"),
        ("phone;first_name\n0771111111;Tendai\n", "header naming a phone column"),
        ('{"contacts": [{"phone": "0771111111"}]}', "header naming a phone column"),
        ("phone,Phone\n0771111111,0772222222\n", "names the phone column twice"),
        ("phone,first_name\n0771111111,Ren\xe9e\n".encode("latin-1"), "not UTF-8"),
        (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xb8\x9c\xe1\xa0\xff\xfe", "not UTF-8"),
        ('phone\n0771111111\n"' + "x" * 200_000, "not valid CSV"),  # a field over csv's size limit
    ],
)
def test_a_file_that_is_not_a_csv_with_a_phone_column_is_a_400_and_imports_nothing(api_client, content, message):
    for post in (post_csv, post_file):
        body = assert_error(post(api_client, content), 400, "invalid")
        assert message in body["fields"]["file"][0]
    assert not Contact.objects.exists()


def test_other_content_types_are_a_415(api_client):
    response = api_client.post(IMPORT_URL, "phone\n0771111111\n", content_type="text/plain")

    assert_error(response, 415, "unsupported_media_type")
    assert not Contact.objects.exists()


# --- JSON -----------------------------------------------------------------------------------------


def test_import_json(api_client, account):
    body = {
        "contacts": [
            {"phone": "0771111111", "first_name": "Tendai", "last_name": "Moyo", "email": "ignored"},
            {"phone": "0772222222"},
            "not an object",
            {"phone": 772222222},
            {"phone": "0773333333", "first_name": None},
            {"phone": "0774444444", "last_name": ["x"]},
            {"first_name": "No phone"},
        ]
    }

    assert result(post_json(api_client, body)) == {
        "created": 2,
        "updated": 0,
        "failed": 5,
        "errors": [
            {"row": 3, "error": "Invalid row: Must be an object with a phone."},
            {"row": 4, "error": "Invalid phone: Must be a string."},
            {"row": 5, "error": "Invalid first_name: Must be a string."},
            {"row": 6, "error": "Invalid last_name: Must be a string."},
            {"row": 7, "error": "Invalid phone: This field is required."},
        ],
    }
    assert contacts_of(account) == {"+263771111111": ("Tendai", "Moyo"), "+263772222222": ("", "")}


def test_a_phone_again_in_json_is_a_duplicate_row(api_client, account):
    body = {"contacts": [{"phone": "0771111111", "first_name": "A"}, {"phone": "00263771111111", "first_name": "B"}]}

    assert result(post_json(api_client, body)) == {
        "created": 1,
        "updated": 0,
        "failed": 1,
        "errors": [{"row": 2, "error": "Duplicate phone: +263771111111 is already in row 1."}],
    }
    assert contacts_of(account) == {"+263771111111": ("A", "")}


def test_json_with_a_lone_surrogate_is_a_row_error(api_client, account):
    raw = '{"contacts": [{"phone": "0771111111", "first_name": "\\ud800"}, {"phone": "0772222222"}]}'

    body = result(api_client.post(IMPORT_URL, raw, content_type="application/json"))

    assert body["errors"] == [{"row": 1, "error": "Invalid first_name: Null and surrogate characters are not allowed."}]
    assert set(contacts_of(account)) == {"+263772222222"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "contacts"),
        ({"contacts": "0771111111"}, "contacts"),
        ({"contacts": {"phone": "0771111111"}}, "contacts"),
        ({"contacts": None}, "contacts"),
        ([{"phone": "0771111111"}], "non_field_errors"),
        ({"contacts": [], "group_id": 5}, "group_id"),
    ],
)
def test_json_of_the_wrong_shape_is_a_400(api_client, body, field):
    assert field in assert_error(post_json(api_client, body), 400, "invalid")["fields"]
    assert not Contact.objects.exists()


def test_malformed_json_is_a_400(api_client):
    response = api_client.post(IMPORT_URL, '{"contacts": [', content_type="application/json")

    assert_error(response, 400, "parse_error")


def test_an_empty_json_list_imports_nothing(api_client):
    assert result(post_json(api_client, {"contacts": []}))["created"] == 0


def test_json_import_is_not_held_to_the_2_mb_limit_of_other_requests(api_client, account, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = {"contacts": [{"phone": phone, "first_name": "Tendai"} for phone in numbers(100)]}
    assert len(json.dumps(body)) > 1000

    assert result(post_json(api_client, body))["created"] == 100


# --- Groups ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["query", "json", "form"])
def test_group_id_adds_every_imported_contact_to_the_group(api_client, account, how):
    group = GroupFactory(account=account)
    member = ContactFactory(account=account, phone="+263771111111", groups=[group])
    existing = ContactFactory(account=account, phone="+263772222222")
    rows = [{"phone": "0771111111"}, {"phone": "0772222222"}, {"phone": "0773333333"}]
    csv_text = "phone\n0771111111\n0772222222\n0773333333\n"

    if how == "query":
        response = post_csv(api_client, csv_text, group_id=group.pk)
    elif how == "json":
        response = post_json(api_client, {"contacts": rows, "group_id": str(group.pk)})
    else:
        response = post_file(api_client, csv_text, group_id=str(group.pk))

    assert result(response) == {"created": 1, "updated": 2, "failed": 0, "errors": []}
    assert set(group.contacts.values_list("phone", flat=True)) == {"+263771111111", "+263772222222", "+263773333333"}
    assert member.groups.count() == 1
    assert existing.groups.get() == group


def test_existing_contacts_are_updated_and_join_the_group_across_batches(api_client, account, monkeypatch):
    monkeypatch.setattr(importing, "BATCH_SIZE", 2)
    group = GroupFactory(account=account)
    member = ContactFactory(account=account, phone="+263771111111", first_name="Old", last_name="A", groups=[group])
    renamed = ContactFactory(account=account, phone="+263772222222", first_name="Old", last_name="B")
    same = ContactFactory(account=account, phone="+263773333333", first_name="Same", last_name="C")
    before = {contact.pk: contact.updated_at for contact in (member, renamed, same)}
    text = (
        "phone,first_name,last_name\n"
        "0774444444,New,D\n"  # batch 1: created
        "0771111111,First,\n"  # batch 1: a new first name, the last name kept
        "0772222222,,Renamed\n"  # batch 2: the first name kept, a new last name
        "0775555555,,\n"  # batch 2: created without names
        "0773333333,Same,C\n"  # batch 3: nothing changes
    )

    assert result(post_csv(api_client, text, group_id=group.pk)) == {
        "created": 2,
        "updated": 3,
        "failed": 0,
        "errors": [],
    }
    assert contacts_of(account) == {
        "+263771111111": ("First", "A"),
        "+263772222222": ("Old", "Renamed"),
        "+263773333333": ("Same", "C"),
        "+263774444444": ("New", "D"),
        "+263775555555": ("", ""),
    }
    assert group.contacts.count() == 5
    assert Contact.groups.through.objects.filter(contact=member).count() == 1
    for contact in (member, renamed, same):
        contact.refresh_from_db()
    # Only the contacts whose names changed were written.
    assert member.updated_at > before[member.pk]
    assert renamed.updated_at > before[renamed.pk]
    assert same.updated_at == before[same.pk]


def test_opted_out_numbers_stay_opted_out_and_the_opt_outs_are_unchanged(api_client, account, monkeypatch):
    """The contact's opted_out mirrors the account's opt-outs: a new contact of an opted-out number is opted
    out, an opted-out contact stays so, and an import neither adds nor removes an opt-out."""
    monkeypatch.setattr(importing, "BATCH_SIZE", 2)
    OptOut.objects.create(account=account, phone="+263771111111", source=OptOut.Source.KEYWORD)
    ContactFactory(account=account, phone="+263772222222", opted_out=True)
    OptOut.objects.create(account=account, phone="+263772222222", source=OptOut.Source.CONTACT)
    ContactFactory(account=account, phone="+263773333333")
    OptOut.objects.create(account=account, phone="+263774444444")  # not in the file

    text = "phone,first_name\n0771111111,Stop\n0772222222,Kept\n0773333333,In\n0775555555,New\n"
    assert result(post_csv(api_client, text))["created"] == 2

    opted_out = dict(Contact.objects.filter(account=account).values_list("phone", "opted_out"))
    assert opted_out == {
        "+263771111111": True,
        "+263772222222": True,
        "+263773333333": False,
        "+263775555555": False,
    }
    assert set(OptOut.objects.filter(account=account).values_list("phone", flat=True)) == {
        "+263771111111",
        "+263772222222",
        "+263774444444",
    }


@pytest.mark.parametrize("post", [post_csv, post_json])
def test_another_accounts_or_an_unknown_group_is_a_400_and_imports_nothing(api_client, other_account, post):
    theirs = GroupFactory(account=other_account)

    for group_id in (theirs.pk, "8d4e6f1c-0000-4000-8000-000000000000"):
        if post is post_csv:
            response = post_csv(api_client, "phone\n0771111111\n", group_id=group_id)
        else:
            response = post_json(api_client, {"contacts": [{"phone": "0771111111"}], "group_id": str(group_id)})
        body = assert_error(response, 400, "invalid")
        assert body["fields"] == {"group_id": [f"No such group in this account: {group_id}."]}
    assert not Contact.objects.exists()
    assert not theirs.contacts.exists()


def test_a_malformed_group_id_is_a_400(api_client):
    assert (
        "group_id"
        in assert_error(post_csv(api_client, "phone\n0771111111\n", group_id="nope"), 400, "invalid")["fields"]
    )
    assert not Contact.objects.exists()


# --- Limits ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("post", [post_csv, post_file])
def test_a_body_over_the_limit_is_a_413_and_imports_nothing(api_client, settings, post):
    settings.CONTACTS_IMPORT_MAX_BYTES = 1000
    text = "phone\n" + "\n".join(numbers(200))

    body = assert_error(post(api_client, text), 413, "request_too_large")

    assert body == {
        "error": "The import is larger than 1,000 bytes; split it into smaller files.",
        "code": "request_too_large",
    }
    assert not Contact.objects.exists()


def test_a_json_body_over_the_limit_is_a_413(api_client, settings):
    settings.CONTACTS_IMPORT_MAX_BYTES = 1000

    response = post_json(api_client, {"contacts": [{"phone": phone} for phone in numbers(100)]})

    assert_error(response, 413, "request_too_large")
    assert not Contact.objects.exists()


def test_a_body_longer_than_its_content_length_promised_is_cut_at_the_limit(settings):
    settings.CONTACTS_IMPORT_MAX_BYTES = 100_000

    with pytest.raises(ImportTooLarge):
        CsvParser().parse(io.BytesIO(b"x" * 100_001))
    assert CsvParser().parse(io.BytesIO(b"x" * 100_000)).read() == b"x" * 100_000


def test_more_than_100000_csv_rows_are_refused_before_anything_is_written(api_client, django_assert_max_num_queries):
    text = "phone\n" + "\n".join(numbers(100_001))

    api_client.get("/api/v1/billing/balance/")  # the key's lookup is cached from here on
    with django_assert_max_num_queries(3):  # no batch was written: the file is checked first
        response = post_csv(api_client, text)

    assert assert_error(response, 400, "invalid")["fields"] == {"file": ["More than 100,000 rows: split the file."]}
    assert not Contact.objects.exists()


def test_exactly_100000_rows_pass_the_check(monkeypatch):
    # The import itself is benchmarked (bench/contacts.py); here only the limit's edge.
    rows = importing.csv_rows(io.BytesIO(("phone\n" + "\n".join(numbers(100_000))).encode()))
    assert sum(1 for _ in rows) == 100_000


def test_more_than_100000_json_rows_are_refused(api_client):
    response = post_json(api_client, {"contacts": [{"phone": "0771111111"}] * 100_001})

    assert assert_error(response, 400, "invalid")["fields"] == {
        "contacts": ["More than 100,000 rows: split the import."]
    }
    assert not Contact.objects.exists()


def test_a_failure_half_way_leaves_nothing_imported(account, monkeypatch):
    """One transaction: a failure after two batches were written undoes them."""
    monkeypatch.setattr(importing, "BATCH_SIZE", 2)
    group = GroupFactory(account=account)
    written = []

    def rows():
        yield from importing.csv_rows(io.BytesIO(("phone\n" + "\n".join(numbers(5))).encode()))
        written.append(Contact.objects.filter(account=account, groups=group).count())
        raise IntegrityError("a concurrent change")

    with pytest.raises(ImportConflict):
        contacts_import(account_id=account.pk, rows=rows(), group_id=group.pk)

    assert written == [4]  # the first two batches were in the database
    assert not Contact.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_group_deleted_before_the_import_commits_is_a_conflict_and_imports_nothing():
    """The import is the whole transaction here (on PostgreSQL its foreign keys are checked as it goes)."""
    account = AccountFactory()
    gone = GroupFactory(account=account)
    gone_id = gone.pk
    gone.delete()

    with pytest.raises(ImportConflict):
        importing.import_rows(account_id=account.pk, rows=importing.csv_rows(io.BytesIO(b"phone\n0771111111\n")),
                              group_id=gone_id)  # fmt: skip

    assert not Contact.objects.exists()


# --- Isolation and queries ------------------------------------------------------------------------


def test_an_import_never_touches_another_accounts_contacts(api_client, other_client, account, other_account):
    theirs = ContactFactory(account=other_account, phone="+263771111111", first_name="Theirs")

    assert result(post_csv(api_client, "phone,first_name\n0771111111,Mine\n"))["created"] == 1
    theirs.refresh_from_db()
    assert theirs.first_name == "Theirs"
    assert contacts_of(account) == {"+263771111111": ("Mine", "")}
    assert result(post_csv(other_client, "phone\n0771111111\n")) == {
        "created": 0,
        "updated": 1,
        "failed": 0,
        "errors": [],
    }


def test_an_import_into_a_group_never_touches_another_accounts_contacts_or_groups(
    api_client, account, other_account, monkeypatch
):
    monkeypatch.setattr(importing, "BATCH_SIZE", 2)
    typed = ["0771111111", "0772222222", "0773333333", "0774444444", "0775555555"]
    mine = GroupFactory(account=account)
    theirs = GroupFactory(account=other_account)
    their_contacts = [
        ContactFactory(account=other_account, phone="+263" + phone[1:], first_name="Theirs", groups=[theirs])
        for phone in typed
    ]
    ContactFactory(account=account, phone="+263771111111", first_name="Mine")
    text = "phone,first_name,last_name\n" + "".join(f"{phone},New,Name\n" for phone in typed)

    body = result(post_csv(api_client, text, group_id=mine.pk))

    assert (body["created"], body["updated"]) == (4, 1)
    for contact in their_contacts:
        before = (contact.first_name, contact.last_name, contact.updated_at)
        contact.refresh_from_db()
        assert (contact.first_name, contact.last_name, contact.updated_at) == before
        assert list(contact.groups.all()) == [theirs]
    assert set(mine.contacts.values_list("account", flat=True)) == {account.pk}
    assert mine.contacts.count() == 5


def test_a_large_file_is_streamed_with_its_bad_rows_reported(api_client, account):
    """20,000 rows as a multipart upload, a bad phone every 1,000 rows and a repeated one every 5,000."""
    group = GroupFactory(account=account)
    lines = ["phone,first_name,last_name"]
    for n in range(1, 20_001):
        if n % 1000 == 0:
            lines.append(f"12{n},Bad,Phone")
        elif n % 5000 == 1 and n > 1:
            lines.append("0770000001,Again,Row")
        else:
            lines.append(f"077{n:07d},Name{n},Family")

    body = result(post_file(api_client, "\n".join(lines) + "\n", group_id=str(group.pk)))

    repeats = [5001, 10001, 15001]
    assert (body["created"], body["updated"], body["failed"]) == (20_000 - 20 - 3, 0, 23)
    failed_rows = sorted([*range(1000, 20_001, 1000), *repeats])
    errors = {error["row"]: error["error"] for error in body["errors"]}
    assert list(errors) == failed_rows
    assert errors[5001] == "Duplicate phone: +263770000001 is already in row 1."
    assert errors[20_000] == "Invalid phone: Enter a valid phone number."
    assert group.contacts.count() == 20_000 - 23
    assert Contact.objects.get(account=account, phone="+263770019999").first_name == "Name19999"


def test_import_needs_a_key(anonymous_client, db):
    assert_error(post_csv(anonymous_client, "phone\n0771111111\n"), 401, "not_authenticated")
    assert not Contact.objects.exists()


def import_queries(client, group, rows: int, start: int) -> int:
    text = "phone,first_name,last_name\n" + "\n".join(f"{phone},Tendai,Moyo" for phone in numbers(rows, start))
    with CaptureQueriesContext(connection) as queries:
        assert result(post_csv(client, text, group_id=group.pk))["created"] == rows
    return len(queries)


def test_import_queries_grow_with_batches_not_rows(api_client, account):
    group = GroupFactory(account=account)
    api_client.get("/api/v1/billing/balance/")  # the key's lookup is cached from here on

    small = import_queries(api_client, group, 50, start=0)  # one batch
    large = import_queries(api_client, group, 5000, start=1000)  # three batches of 2,000

    # A handful of queries per batch of 2,000 rows, not one per row.
    assert small <= 8, small
    assert large <= small + 2 * 3, (small, large)
    print(f"queries: {small} for 50 rows, {large} for 5,000 rows")
    assert Contact.objects.filter(account=account).count() == 5050
    assert group.contacts.count() == 5050
