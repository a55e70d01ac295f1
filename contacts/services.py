"""Contacts and groups: every write, each in one transaction."""

import uuid
from collections import Counter
from collections.abc import Iterable

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from messaging.models import OptOut
from messaging.selectors import opt_out_exists
from messaging.services import opt_out_add, opt_out_remove
from smsplatform.errors import InvalidInput

from .errors import ContactExists, GroupExists
from .importing import ImportResult, ImportRow, import_rows
from .models import Contact, ContactCountChange, Group
from .selectors import contact_ids_unknown, group_ids_unknown

# Named in an error, at most this many unknown ids (a client may send thousands).
_IDS_NAMED = 20


def _name_ids(ids: list) -> str:
    named = ", ".join(str(value) for value in ids[:_IDS_NAMED])
    return named + (f" and {len(ids) - _IDS_NAMED} more" if len(ids) > _IDS_NAMED else "")


def _check_group_ids(*, account_id, group_ids: list[uuid.UUID], field: str = "group_ids") -> None:
    """Another account's group, or none at all, is refused by name: never silently dropped or added."""
    unknown = group_ids_unknown(account_id=account_id, group_ids=group_ids)
    if unknown:
        raise InvalidInput({field: [f"No such group in this account: {_name_ids(unknown)}."]})


def _contact_exists(*, account_id, phone: str) -> ContactExists:
    existing = Contact.objects.filter(account_id=account_id, phone=phone).values_list("pk", flat=True).first()
    return ContactExists(phone=phone, contact_id=existing)


@transaction.atomic
def contact_create(
    *,
    account_id,
    phone: str,
    first_name: str = "",
    last_name: str = "",
    opted_out: bool = False,
    group_ids: list[uuid.UUID] | None = None,
) -> Contact:
    """A new contact (phone already E.164). A phone the account has is a 409 naming that contact.

    `opted_out` mirrors the account's opt-outs: true adds the number's, and a number already opted out
    makes an opted-out contact.
    """
    group_ids = list(dict.fromkeys(group_ids or []))
    opted_out = opted_out or opt_out_exists(account_id=account_id, phone=phone)
    _check_group_ids(account_id=account_id, group_ids=group_ids)
    contact = Contact(
        account_id=account_id, phone=phone, first_name=first_name, last_name=last_name, opted_out=opted_out
    )
    try:
        with transaction.atomic():
            contact.save(force_insert=True)
    except IntegrityError:
        raise _contact_exists(account_id=account_id, phone=phone) from None
    if group_ids:
        contact.groups.add(*group_ids)
    if opted_out:
        opt_out_add(account_id=account_id, phone=phone, source=OptOut.Source.CONTACT)
    return contact


@transaction.atomic
def contact_update(
    *,
    contact: Contact,
    phone: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    opted_out: bool | None = None,
    group_ids: list[uuid.UUID] | None = None,
) -> Contact:
    """Change the fields given (None: unchanged); `group_ids` replaces the contact's groups.

    `opted_out` given adds or removes the opt-out of the contact's number; not given, a new number brings
    its own opt-out state with it.
    """
    changes = {"phone": phone, "first_name": first_name, "last_name": last_name, "opted_out": opted_out}
    changes = {field: value for field, value in changes.items() if value is not None}
    if opted_out is None and phone is not None and phone != contact.phone:
        changes["opted_out"] = opt_out_exists(account_id=contact.account_id, phone=phone)
    if group_ids is not None:
        group_ids = list(dict.fromkeys(group_ids))
        _check_group_ids(account_id=contact.account_id, group_ids=group_ids)
    for field, value in changes.items():
        setattr(contact, field, value)
    try:
        with transaction.atomic():
            contact.save(update_fields=[*changes, "updated_at"])
    except IntegrityError:
        raise _contact_exists(account_id=contact.account_id, phone=contact.phone) from None
    if group_ids is not None:
        contact.groups.set(group_ids)
    if opted_out is not None:
        if opted_out:
            opt_out_add(account_id=contact.account_id, phone=contact.phone, source=OptOut.Source.CONTACT)
        else:
            opt_out_remove(account_id=contact.account_id, phone=contact.phone)
    return contact


def contact_delete(*, contact: Contact) -> None:
    contact.delete()  # its memberships go with it


def group_create(*, account_id, name: str, description: str = "") -> Group:
    try:
        with transaction.atomic():
            return Group.objects.create(account_id=account_id, name=name, description=description)
    except IntegrityError:
        raise GroupExists(name) from None


def group_update(*, group: Group, name: str | None = None, description: str | None = None) -> Group:
    changes = {field: value for field, value in {"name": name, "description": description}.items() if value is not None}
    if not changes:
        return group
    for field, value in changes.items():
        setattr(group, field, value)
    try:
        with transaction.atomic():
            group.save(update_fields=list(changes))
    except IntegrityError:
        raise GroupExists(group.name) from None
    return group


def group_delete(*, group: Group) -> None:
    group.delete()  # its memberships go with it; the contacts stay


def _check_contact_ids(*, account_id, contact_ids: list[uuid.UUID]) -> None:
    unknown = contact_ids_unknown(account_id=account_id, contact_ids=contact_ids)
    if unknown:
        raise InvalidInput({"contact_ids": [f"No such contact in this account: {_name_ids(unknown)}."]})


@transaction.atomic
def group_members_add(*, group: Group, contact_ids: list[uuid.UUID]) -> int:
    """Add the account's contacts to the group. Returns how many were not members yet.

    Any id that is not a contact of the group's account refuses the whole request: nothing changes.
    """
    contact_ids = list(dict.fromkeys(contact_ids))
    _check_contact_ids(account_id=group.account_id, contact_ids=contact_ids)
    membership = Contact.groups.through
    members = set(
        membership.objects.filter(group=group, contact_id__in=contact_ids).values_list("contact_id", flat=True)
    )
    new = [
        membership(group_id=group.pk, contact_id=contact_id) for contact_id in contact_ids if contact_id not in members
    ]
    # A concurrent request may add the same members: they are members either way.
    membership.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


@transaction.atomic
def group_members_remove(*, group: Group, contact_ids: list[uuid.UUID]) -> int:
    """Remove contacts from the group (the contacts stay). Returns how many were members."""
    contact_ids = list(dict.fromkeys(contact_ids))
    _check_contact_ids(account_id=group.account_id, contact_ids=contact_ids)
    removed, _ = Contact.groups.through.objects.filter(group=group, contact_id__in=contact_ids).delete()
    return removed


def contacts_import(*, account_id, rows: Iterable[ImportRow], group_id: uuid.UUID | None = None) -> ImportResult:
    """Create or update contacts from rows, in bulk and in one transaction; see `importing.import_rows`."""
    if group_id is not None:
        _check_group_ids(account_id=account_id, group_ids=[group_id], field="group_id")
    result = import_rows(account_id=account_id, rows=rows, group_id=group_id)
    # Imported numbers that had opted out are marked as such: one statement for the whole import.
    opted_out = OptOut.objects.filter(account_id=account_id, phone=OuterRef("phone"))
    Contact.objects.filter(Exists(opted_out), account_id=account_id, opted_out=False).update(
        opted_out=True, updated_at=timezone.now()
    )
    return result


def contact_counts_compact() -> int:
    """Fold the count changes of each account that has more than one into a row of their sum (none when it is
    zero: a deleted account's). Returns how many rows were folded.

    Each row is folded exactly once, whoever else runs (DELETE … RETURNING gives this call the rows it deleted,
    and a concurrent call waits for them and then skips them), and the list's count, one statement, sees every
    row before the fold or every row after it."""
    table = connection.ops.quote_name(ContactCountChange._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE account_id IN"
            f" (SELECT account_id FROM {table} GROUP BY account_id HAVING count(*) > 1) RETURNING account_id, contacts"
        )
        folded = cursor.fetchall()
        totals = Counter()
        for account_id, contacts in folded:
            totals[account_id] += contacts
        ContactCountChange.objects.bulk_create(
            ContactCountChange(account_id=account_id, contacts=contacts)
            for account_id, contacts in totals.items()
            if contacts
        )
    return len(folded)
