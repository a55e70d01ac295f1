from django.db import models


class UsageCounts(models.Model):
    """Messages of one account created on one day (UTC), from one sender, of one campaign (or none), now in one
    status: how many, their segments and their credits. Counts are signed in a change (-1 for the status a
    message left); account and campaign are plain ids, without a constraint, so that deleting a campaign's
    messages (which writes their negative changes) never waits on these rows."""

    account = models.ForeignKey(
        "accounts.Account", on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    day = models.DateField()
    sender = models.CharField(max_length=16)
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    status = models.CharField(max_length=12)
    messages = models.BigIntegerField()
    segments = models.BigIntegerField()
    credits = models.BigIntegerField()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.day} {self.sender} {self.status}: {self.messages:+d}"


class DailyUsage(UsageCounts):
    """The rollup: `usage_compact` folds the changes into it. Several rows may share a key (two compactions
    never need to agree on one row): a report adds them up."""

    id = models.BigAutoField(primary_key=True)

    class Meta:
        verbose_name = "daily usage"
        verbose_name_plural = "daily usage"
        indexes = [
            # The report: an account's days in a range.
            models.Index(fields=["account", "day"], name="usage_account_day"),
            # A campaign's counts (campaigns.selectors.campaign_stats).
            models.Index(fields=["campaign"], name="usage_campaign", condition=models.Q(campaign__isnull=False)),
        ]


class UsageChange(UsageCounts):
    """What changed in messaging_message since the last compaction, written by its triggers in the same
    transaction as the change (reports/triggers.py): an insert counts +1, a status change -1 for the old
    status and +1 for the new one, a delete -1. Only appended to, then deleted by the compaction."""

    id = models.BigAutoField(primary_key=True)

    class Meta:
        indexes = [
            # The report reads an account's changes in its range, beside the rollup.
            models.Index(fields=["account", "day"], name="usage_change_account_day"),
            models.Index(fields=["campaign"], name="usage_change_campaign", condition=models.Q(campaign__isnull=False)),
        ]
