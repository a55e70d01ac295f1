"""Bulk import: rows from a CSV file or a JSON list → contacts, a few queries per 2,000 rows.

A CSV file is read twice, as a stream, never held whole: a first pass checks it (UTF-8, CSV, a
phone column, at most MAX_ROWS rows), so a refused file costs no write; the second imports it.
Rows are normalised in Python and written in batches of 2,000. On PostgreSQL a batch is one INSERT
… ON CONFLICT DO NOTHING RETURNING (the new contacts), one SELECT of those that existed, one UPDATE
of the names that changed and one INSERT of group memberships; elsewhere the SELECT comes first and
the new contacts are a bulk_create.
"""

import csv
import io
import json
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
    try:
        with transaction.atomic():
            result = _import(account_id=account_id, rows=rows, group_id=group_id)
    except IntegrityError:
        # Another request deleted the group meanwhile (or, on SQLite, created one of these phones).
        raise ImportConflict() from None
    if result.created >= REFRESH_STATISTICS_AFTER and connection.vendor == "postgresql":
        transaction.on_commit(_refresh_statistics, robust=True)
    return result


def _import(*, account_id, rows: Iterator[ImportRow], group_id) -> ImportResult:
    result = ImportResult()
    first_rows: dict[str, int] = {}  # phone → the row it was imported from, across batches
    batch: dict[str, tuple] = {}  # phone → (first name, last name), in file order
    for row in rows:
        try:
            phone, first_name, last_name = _parse(row)
        except ValueError as error:
            result.fail(row.row, str(error))
            continue
        first_row = first_rows.get(phone)
        if first_row is not None:
            result.fail(row.row, f"Duplicate phone: {phone} is already in row {first_row}.")
            continue
        first_rows[phone] = row.row
        batch[phone] = (first_name, last_name)
        if len(batch) >= BATCH_SIZE:
            _write(account_id=account_id, batch=batch, group_id=group_id, result=result)
            batch = {}
    if batch:
        _write(account_id=account_id, batch=batch, group_id=group_id, result=result)
    return result


def _write(*, account_id, batch: dict[str, tuple], group_id, result: ImportResult) -> None:
    new_ids, existing = _insert_new(account_id=account_id, batch=batch)
    now = timezone.now()
    changed = []
    for phone, contact in existing.items():
        first_name, last_name = batch[phone]
        if (first_name and first_name != contact.first_name) or (last_name and last_name != contact.last_name):
            contact.first_name = first_name or contact.first_name
            contact.last_name = last_name or contact.last_name
            contact.updated_at = now  # bulk_update does not apply auto_now
            changed.append(contact)
    if changed:
        Contact.objects.bulk_update(changed, ["first_name", "last_name", "updated_at"], batch_size=BATCH_SIZE)
    result.created += len(new_ids)
    result.updated += len(batch) - len(new_ids)
    if group_id is not None:
        _add_members(group_id=group_id, contact_ids=[*new_ids.values(), *(c.pk for c in existing.values())])


def _existing(*, account_id, phones: list[str]) -> dict[str, Contact]:
    contacts = Contact.objects.filter(account_id=account_id, phone__in=phones)
    return {contact.phone: contact for contact in contacts.only("id", "phone", "first_name", "last_name")}


def _insert_new(*, account_id, batch: dict[str, tuple]) -> tuple[dict[str, uuid.UUID], dict[str, Contact]]:
    """Insert the batch's phones that the account does not have yet.

    Returns the new contacts' ids and the existing contacts, both by phone.
    """
    if connection.vendor == "postgresql":
        new_ids = _pg_insert_new(account_id=account_id, batch=batch)
        rest = [phone for phone in batch if phone not in new_ids]
        return new_ids, _existing(account_id=account_id, phones=rest) if rest else {}
    existing = _existing(account_id=account_id, phones=list(batch))
    new = [
        Contact(account_id=account_id, phone=phone, first_name=first_name or "", last_name=last_name or "")
        for phone, (first_name, last_name) in batch.items()
        if phone not in existing
    ]
    Contact.objects.bulk_create(new, batch_size=BATCH_SIZE)
    return {contact.phone: contact.pk for contact in new}, existing


_contact = Contact._meta.db_table
_membership = Contact.groups.through._meta.db_table

# One statement per batch, its rows as one JSON parameter: Django's bulk_create spends more time building
# 2,000 model instances and their parameters than PostgreSQL spends inserting them. A phone that exists
# (also one a concurrent request has just inserted) is skipped, and RETURNING tells which were new.
_PG_INSERT_NEW = f"""
    INSERT INTO {_contact} (id, account_id, phone, first_name, last_name, opted_out, created_at, updated_at)
    SELECT gen_random_uuid(), %s, phone, first_name, last_name, false, at, at
    FROM (  -- a time per row, as Django gives each row it creates: the file's last row is listed first
        SELECT *, clock_timestamp() AS at
        FROM json_to_recordset(%s) AS row(phone varchar, first_name varchar, last_name varchar)
    ) AS rows
    ON CONFLICT (account_id, phone) DO NOTHING
    RETURNING phone, id
"""
_PG_ADD_MEMBERS = f"""
    INSERT INTO {_membership} (group_id, contact_id)
    SELECT %s, contact_id::uuid FROM json_array_elements_text(%s) AS contact_id
    ON CONFLICT DO NOTHING
"""


def _pg_insert_new(*, account_id, batch: dict[str, tuple]) -> dict[str, uuid.UUID]:
    rows = [
        {"phone": phone, "first_name": first_name or "", "last_name": last_name or ""}
        for phone, (first_name, last_name) in batch.items()
    ]
    with connection.cursor() as cursor:
        cursor.execute(_PG_INSERT_NEW, [account_id, json.dumps(rows)])
        return dict(cursor.fetchall())


def _add_members(*, group_id, contact_ids: list) -> None:
    """Add the contacts to the group; those already members stay as they are."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_PG_ADD_MEMBERS, [group_id, json.dumps([str(contact_id) for contact_id in contact_ids])])
        return
    membership = Contact.groups.through
    membership.objects.bulk_create(
        [membership(group_id=group_id, contact_id=contact_id) for contact_id in contact_ids],
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
