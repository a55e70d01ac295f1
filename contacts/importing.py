"""Bulk import: rows from a CSV file or a JSON list → contacts, a few queries per 2,000 rows.

A CSV file is read twice, as a stream, never held whole: a first pass checks it (UTF-8, CSV, a
phone column, at most MAX_ROWS rows), so a refused file costs no write; the second imports it.
Rows are checked and normalised in Python (`_batches`, whatever the database) and written in batches
of 2,000. On PostgreSQL a batch is one statement, sent without waiting for the previous one's answer
(`_pg_write`); elsewhere a batch is a few ORM statements (`_orm_write`).
"""

import csv
import io
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from messaging.phone import phone_normalize
from smsplatform.errors import InvalidInput

from .errors import ImportConflict
from .models import NAME_MAX_LENGTH, TRIGRAM_INDEXES, Contact

MAX_ROWS = 100_000
BATCH_SIZE = 2000
MAX_ERRORS = 100
# An import that creates this many contacts refreshes PostgreSQL's statistics when it commits.
REFRESH_STATISTICS_AFTER = 10_000
COLUMNS = ("phone", "first_name", "last_name")


class _Missing:
    """A column the file does not have, or a key a JSON row leaves out (JSON null is another thing: an error)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()

# NUL cannot be stored in PostgreSQL text; lone surrogates cannot be encoded (JSON may carry both).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_PHONE_MAX_LENGTH = 32  # as the API's PhoneNumberField


@dataclass(slots=True)
class ImportRow:
    """One row as given: `row` is its 1-based number among the data rows (the CSV header not counted)."""

    row: int
    phone: object = MISSING
    first_name: object = MISSING
    last_name: object = MISSING
    error: str = ""  # set when the row could not even be read as a row


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    failed: int = 0
    errors: list[dict] = field(default_factory=list)

    def fail(self, row: int, error: str) -> None:
        self.failed += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"row": row, "error": error})


# --- Sources --------------------------------------------------------------------------------------


def _column_key(name: str) -> str:
    """' First Name ' → 'first_name': header names in any case, with spaces or dashes."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _records(file: IO[bytes]) -> Iterator[list[str]]:
    """The file's CSV records, decoded as UTF-8 (a BOM is dropped); bad text or CSV is a 400."""
    file.seek(0)
    text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
    try:
        yield from csv.reader(text)
    except UnicodeDecodeError:
        raise InvalidInput({"file": ["The file is not UTF-8 text: save it as CSV UTF-8."]}) from None
    except csv.Error as exc:
        raise InvalidInput({"file": [f"The file is not valid CSV: {exc}."]}) from None
    finally:
        text.detach()  # leave the file open: it is read twice, and its owner closes it


def _is_blank(record: list[str]) -> bool:
    return not any(cell.strip() for cell in record)


def _csv_header(records: Iterator[list[str]]) -> dict[str, int]:
    """The position of each known column in the first non-blank record."""
    header = next((record for record in records if not _is_blank(record)), None)
    if header is None:
        raise InvalidInput({"file": ["The file is empty."]})
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        key = _column_key(name)
        if key in COLUMNS:
            if key in columns:
                raise InvalidInput({"file": [f"The header row names the {key} column twice."]})
            columns[key] = index
    if "phone" not in columns:
        raise InvalidInput(
            {
                "file": [
                    "The first row must be a header naming a phone column (and optionally first_name, "
                    "last_name), separated by commas."
                ]
            }
        )
    return columns


def csv_rows(file: IO[bytes]) -> Iterator[ImportRow]:
    """The rows of a seekable CSV file. Checks the whole file now (a 400 before anything is written);
    the rows are read again, lazily, as the import consumes them."""
    records = _records(file)
    columns = _csv_header(records)
    count = 0
    for record in records:
        if not _is_blank(record):
            count += 1
            if count > MAX_ROWS:
                records.close()
                raise InvalidInput({"file": [f"More than {MAX_ROWS:,} rows: split the file."]})
    return _csv_iter(file, columns)


def _csv_iter(file: IO[bytes], columns: dict[str, int]) -> Iterator[ImportRow]:
    records = _records(file)
    _csv_header(records)
    positions = [(name, columns.get(name)) for name in COLUMNS]
    # Blank records are skipped but keep their number, so numbers match the file's records.
    for number, record in enumerate(records, start=1):
        if _is_blank(record):
            continue
        width = len(record)
        values = [record[index] if index is not None and index < width else MISSING for _, index in positions]
        yield ImportRow(number, *values)


def json_rows(contacts: list) -> Iterator[ImportRow]:
    """The rows of `{"contacts": [...]}`: objects with `phone`, `first_name`, `last_name`."""
    if len(contacts) > MAX_ROWS:
        raise InvalidInput({"contacts": [f"More than {MAX_ROWS:,} rows: split the import."]})
    return _json_iter(contacts)


def _json_iter(contacts: list) -> Iterator[ImportRow]:
    for number, item in enumerate(contacts, start=1):
        if isinstance(item, dict):
            yield ImportRow(number, *(item.get(name, MISSING) for name in COLUMNS))
        else:
            yield ImportRow(number, error="Invalid row: Must be an object with a phone.")


# --- Rows → contacts ------------------------------------------------------------------------------


def _name(name: str, value) -> str | None:
    """A name to store; None when not given or empty (an import adds names, never erases one)."""
    if value is MISSING:
        return None
    if not isinstance(value, str):
        raise ValueError(f"Invalid {name}: Must be a string.")
    value = value.strip()
    if len(value) > NAME_MAX_LENGTH:
        raise ValueError(f"Invalid {name}: Ensure this field has no more than {NAME_MAX_LENGTH} characters.")
    if _UNSTORABLE.search(value):
        raise ValueError(f"Invalid {name}: Null and surrogate characters are not allowed.")
    return value or None


def _parse(row: ImportRow) -> tuple[str, str | None, str | None]:
    """(E.164 phone, first name, last name) of a row; ValueError says what is wrong with it."""
    if row.error:
        raise ValueError(row.error)
    phone = row.phone
    if phone is MISSING or (isinstance(phone, str) and not phone.strip()):
        raise ValueError("Invalid phone: This field is required.")
    if not isinstance(phone, str):
        raise ValueError("Invalid phone: Must be a string.")
    normalized = phone_normalize(phone) if len(phone) <= _PHONE_MAX_LENGTH else None
    if normalized is None:
        raise ValueError("Invalid phone: Enter a valid phone number.")
    return normalized, _name("first_name", row.first_name), _name("last_name", row.last_name)


def import_rows(*, account_id, rows: Iterator[ImportRow], group_id: uuid.UUID | None = None) -> ImportResult:
    """Create the rows' new phones, update the names of those the account has, add all to the group.

    One transaction: a refused or failed import leaves nothing behind. A phone that appears again
    (in any form) is imported from its first valid row; each later row is a failed row that names it.
    """
    result = ImportResult()
    write = _pg_write if connection.vendor == "postgresql" else _orm_write
    try:
        with transaction.atomic():
            write(account_id=account_id, batches=_batches(rows, result), group_id=group_id, result=result)
    except IntegrityError:
        # Another request deleted the group meanwhile (or, on SQLite, created one of these phones).
        raise ImportConflict() from None
    if result.created >= REFRESH_STATISTICS_AFTER and connection.vendor == "postgresql":
        transaction.on_commit(_refresh_statistics, robust=True)
    return result


def _batches(rows: Iterator[ImportRow], result: ImportResult) -> Iterator[dict[str, tuple]]:
    """The valid rows, each phone once, in batches of BATCH_SIZE: {phone: (first name, last name)} in file
    order. Failed rows go to `result` as they are met."""
    first_rows: dict[str, int] = {}  # phone → the row it was imported from, across batches
    batch: dict[str, tuple] = {}
    for row in rows:
        try:
            phone, first_name, last_name = _parse(row)
        except ValueError as error:
            result.fail(row.row, str(error))
            continue
        first_row = first_rows.setdefault(phone, row.row)
        if first_row != row.row:
            result.fail(row.row, f"Duplicate phone: {phone} is already in row {first_row}.")
            continue
        batch[phone] = (first_name, last_name)
        if len(batch) >= BATCH_SIZE:
            yield batch
            batch = {}
    if batch:
        yield batch


# --- PostgreSQL: one statement a batch, pipelined, then two for the contacts that existed -------

_contact = Contact._meta.db_table
_membership = Contact.groups.through._meta.db_table
# The phones the account had (also those a concurrent import has just inserted), kept for the end.
_EXISTING = "contacts_import_existing"

# A batch's new contacts are inserted, with a time per row as Django gives each row it creates (the file's
# last row is listed first), and join the group; the rows whose phone existed are set aside. No join with
# the account's contacts, whose size would decide its plan: the unique index finds the conflicts.
_PG_INSERT = f"""
    WITH given AS (
        SELECT *, clock_timestamp() AS at
        FROM unnest(%(phones)s::varchar[], %(first_names)s::varchar[], %(last_names)s::varchar[])
            AS given(phone, first_name, last_name)
    ), new AS (
        INSERT INTO {_contact} (id, account_id, phone, first_name, last_name, opted_out, created_at, updated_at)
        SELECT gen_random_uuid(), %(account)s, phone, coalesce(first_name, ''), coalesce(last_name, ''), false, at, at
        FROM given
        ON CONFLICT (account_id, phone) DO NOTHING
        RETURNING id, phone
    ){{members}}
    INSERT INTO {_EXISTING} SELECT phone, first_name, last_name FROM given WHERE phone NOT IN (SELECT phone FROM new)
"""
_PG_NEW_MEMBERS = f", members AS (INSERT INTO {_membership} (group_id, contact_id) SELECT %(group)s, id FROM new)"
# A name given replaces the stored one; a NULL (an empty cell, a missing column) keeps it.
_PG_UPDATE_NAMES = f"""
    UPDATE {_contact} AS contact
    SET first_name = coalesce(given.first_name, contact.first_name),
        last_name = coalesce(given.last_name, contact.last_name),
        updated_at = %(now)s
    FROM {_EXISTING} AS given
    WHERE contact.account_id = %(account)s AND contact.phone = given.phone
        AND (given.first_name <> contact.first_name OR given.last_name <> contact.last_name)
"""
_PG_EXISTING_MEMBERS = f"""
    INSERT INTO {_membership} (group_id, contact_id)
    SELECT %(group)s, contact.id FROM {_EXISTING} AS given
    JOIN {_contact} AS contact ON contact.account_id = %(account)s AND contact.phone = given.phone
    ON CONFLICT DO NOTHING
"""


def _pg_write(*, account_id, batches: Iterator[dict[str, tuple]], group_id, result: ImportResult) -> None:
    """The batches' statements are sent without waiting for their answers (psycopg's pipeline mode), so
    that PostgreSQL writes a batch while the next is parsed: the import takes about the longer of the two,
    not their sum. The contacts that existed are updated and join the group at the end, in one statement
    each (a hash join, whatever the account's size)."""
    insert = _PG_INSERT.format(members=_PG_NEW_MEMBERS if group_id is not None else "")
    params = {"account": account_id, "group": group_id, "now": timezone.now()}
    imported = 0
    with connection.cursor() as cursor:
        if not connection.savepoint_ids:  # the outermost atomic block
            # The import is the whole transaction: its foreign keys (Django makes them deferred) are checked
            # with each statement, while the next batch is parsed, instead of 300,000 checks at COMMIT.
            # Within a caller's transaction, the caller's deferral stays.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"CREATE TEMPORARY TABLE {_EXISTING} (phone varchar, first_name varchar, last_name varchar)")
        with connection.wrap_database_errors, connection.connection.pipeline():
            for batch in batches:
                firsts, lasts = zip(*batch.values(), strict=True)
                cursor.execute(
                    insert, params | {"phones": list(batch), "first_names": list(firsts), "last_names": list(lasts)}
                )
                imported += len(batch)
        cursor.execute(f"SELECT count(*) FROM {_EXISTING}")
        (result.updated,) = cursor.fetchone()
        if result.updated:
            cursor.execute(_PG_UPDATE_NAMES, params)
            if group_id is not None:
                cursor.execute(_PG_EXISTING_MEMBERS, params)
        cursor.execute(f"DROP TABLE {_EXISTING}")  # not left to a caller's longer transaction
    result.created = imported - result.updated


# --- Elsewhere (SQLite): the ORM, a few statements a batch ------------------------------------


def _orm_write(*, account_id, batches: Iterator[dict[str, tuple]], group_id, result: ImportResult) -> None:
    for batch in batches:
        existing = {
            contact.phone: contact
            for contact in Contact.objects.filter(account_id=account_id, phone__in=list(batch)).only(
                "id", "phone", "first_name", "last_name"
            )
        }
        new = [
            Contact(account_id=account_id, phone=phone, first_name=first_name or "", last_name=last_name or "")
            for phone, (first_name, last_name) in batch.items()
            if phone not in existing
        ]
        Contact.objects.bulk_create(new, batch_size=BATCH_SIZE)
        now = timezone.now()
        changed = []
        for phone, contact in existing.items():
            first_name, last_name = batch[phone]
            if (first_name and first_name != contact.first_name) or (last_name and last_name != contact.last_name):
                contact.first_name = first_name or contact.first_name
                contact.last_name = last_name or contact.last_name
                contact.updated_at = now  # bulk_update does not apply auto_now
                changed.append(contact)
        Contact.objects.bulk_update(changed, ["first_name", "last_name", "updated_at"], batch_size=BATCH_SIZE)
        result.created += len(new)
        result.updated += len(existing)
        if group_id is not None:
            membership = Contact.groups.through
            membership.objects.bulk_create(
                [membership(group_id=group_id, contact_id=contact.pk) for contact in [*new, *existing.values()]],
                ignore_conflicts=True,
                batch_size=BATCH_SIZE,
            )


def _refresh_statistics() -> None:
    """After a bulk load, what autovacuum would do a minute or more later (or never, where it is off).

    Planner statistics that still describe a far smaller table make the list, the search and the
    group filter pick plans that read every row; and the trigram indexes keep new entries in a
    pending list that every search reads through until it is merged. About 0.3 s for 100,000 rows.
    """
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {_contact}, {_membership}")
        for index in TRIGRAM_INDEXES:
            cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [index])
