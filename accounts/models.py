import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q


class Account(models.Model):
    """The tenant: every API key, message, contact and ledger row belongs to one account."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)
    # Changed only by billing.services, in the same transaction as a ledger row.
    sms_credits = models.BigIntegerField(default=0, editable=False)
    is_sandbox = models.BooleanField(
        default=False, help_text="A sandbox account may send only to its verified tester numbers."
    )
    # The one SMS that answers a STOP (or a START) texted to one of the account's inbound numbers; empty: none.
    opt_out_reply = models.CharField(
        max_length=320,
        blank=True,
        default="You will receive no more messages from us. Reply START to receive them again.",
    )
    opt_in_reply = models.CharField(
        max_length=320, blank=True, default="You will receive our messages again. Reply STOP to stop them."
    )
    low_credits_threshold = models.PositiveIntegerField(
        default=100, help_text="The dashboard warns when the balance falls below this many credits."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(sms_credits__gte=0), name="account_sms_credits_not_negative"),
        ]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A dashboard user. Staff users with an account manage only that account in the admin."""

    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.PROTECT, related_name="users")


class ApiKey(models.Model):
    """An API key. Only the SHA-256 of the secret is stored; the secret is shown once, at creation."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    # The first characters of the secret, enough to recognise a key in a list.
    prefix = models.CharField(max_length=16, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    # DRF's request.user is the key itself: API clients are keys, not dashboard users.
    is_authenticated = True

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name or 'API key'} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
