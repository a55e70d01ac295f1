import uuid

from django.db import models
from django.db.models.functions import Lower

NAME_MAX_LENGTH = 100
# pg_trgm GIN indexes of contacts_contact, made on PostgreSQL only by migration 0002_search_indexes.
TRIGRAM_INDEXES = ("contact_first_name_trgm", "contact_last_name_trgm", "contact_phone_trgm")


class Group(models.Model):
    """A named set of an account's contacts: what a campaign is sent to."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="contact_groups")
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # "VIP" and "vip" would be two groups nobody can tell apart: one per account, whatever the case.
            models.UniqueConstraint(Lower("name"), "account", name="group_unique_name_per_account"),
        ]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    """A phone number (E.164) an account keeps, with a name for personalised messages.

    An opted-out contact stays listed and editable; campaigns skip it.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of its own: the unique (account, phone) and the (account, created_at) indexes lead with it.
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="contacts", db_index=False)
    phone = models.CharField(max_length=16, help_text="E.164, e.g. +263771234567")
    first_name = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    last_name = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    opted_out = models.BooleanField(default=False)
    groups = models.ManyToManyField(Group, related_name="contacts", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One contact per number and account. On PostgreSQL its index uses varchar_pattern_ops, so it also
            # serves the phone-prefix search (`phone LIKE '+263771%'`) whatever the database's collation.
            models.UniqueConstraint(
                fields=["account", "phone"],
                name="contact_unique_phone_per_account",
                opclasses=["uuid_ops", "varchar_pattern_ops"],
            ),
        ]
        indexes = [
            # The list: an account's contacts, newest first (the id breaks ties within one import).
            models.Index(fields=["account", "-created_at", "-id"], name="contact_account_newest"),
        ]
        # Name and phone substring search use pg_trgm GIN indexes, created on PostgreSQL only by migration
        # 0002_search_indexes (SQLite has no GIN).

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return f"{name} ({self.phone})" if name else self.phone


class ContactCountChange(models.Model):
    """+n or -n contacts of an account, written by triggers on contacts_contact (migration 0003) in the
    transaction that adds or deletes them: an account's contacts are the sum of its rows, exact at every
    moment, without counting 100,000 rows for each page of the list. Appended, never updated, so that nobody
    waits on an account's counter (an import holds its transaction for seconds); contact_counts_compact folds
    them. No foreign key: the rows of a deleted account sum to zero and are folded away."""

    id = models.BigAutoField(primary_key=True)
    account_id = models.UUIDField(db_index=True)
    contacts = models.IntegerField()

    def __str__(self) -> str:
        return f"{self.account_id}: {self.contacts:+d}"
