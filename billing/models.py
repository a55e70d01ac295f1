import uuid

from django.db import models


class Transaction(models.Model):
    """One row of the append-only credit ledger.

    An account's `sms_credits` always equals the sum of its rows' `amount`. Rows are
    never changed: a correction is a new row. On PostgreSQL a trigger refuses UPDATE
    and DELETE (migration 0002).
    """

    class Type(models.TextChoices):
        TOPUP = "topup"
        DEBIT = "debit"
        REFUND = "refund"
        ADJUSTMENT = "adjustment"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of its own: billing_tx_account_created leads with it (one index fewer for each send to write).
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.PROTECT, related_name="transactions", db_index=False
    )
    type = models.CharField(max_length=16, choices=Type.choices)
    amount = models.BigIntegerField(help_text="Signed: positive adds credits, negative spends them.")
    balance_after = models.BigIntegerField()
    description = models.CharField(max_length=255, blank=True)
    # What the row is for, e.g. a message or campaign id, so refunds can be traced to their debit.
    reference = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The account's ledger page, newest first.
            models.Index(fields=["account", "-created_at"], name="billing_tx_account_created"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.amount:+d} → {self.balance_after}"
