import uuid

from django.db import models


class Campaign(models.Model):
    """A personalised message to every member of a group who has not opted out.

    Its status is a state machine:

        draft ──send──▶ sending ──every recipient handled──▶ completed
          │   └─send (scheduled_at ahead)─▶ scheduled ──due──▶ sending
          │                                 sending ──pause──▶ paused ──send──▶ sending (or scheduled)
          │                      scheduled, sending ──credits ran out while preparing──▶ paused
          └─ draft, scheduled, sending, paused ──cancel──▶ cancelled

    Any other change is refused (409). A batch pauses a campaign whose sender ID is no longer
    approved, saying so in `status_reason`. `send` reserves the estimated credits of every recipient in
    one ledger entry; its messages are then prepared (written, queued) a chunk at a time in contact id
    order, by the request for the first chunk and by tasks for the rest, each chunk settling its cost
    against the reservation; the reservation's unused part is refunded when preparation ends, and
    `cancel` refunds it with the messages not sent. A campaign is not completed before it is prepared.
    """

    class Status(models.TextChoices):
        DRAFT = "draft"
        SCHEDULED = "scheduled"
        SENDING = "sending"
        PAUSED = "paused"
        COMPLETED = "completed"
        CANCELLED = "cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=100)
    message = models.TextField(help_text="The template: {name}, {first_name}, {last_name}, {phone}.")
    sender_name = models.CharField(max_length=11)
    # Kept when the group is deleted: the messages written stay, and a preparation not finished ends there.
    group = models.ForeignKey("contacts.Group", null=True, on_delete=models.SET_NULL, related_name="campaigns")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    # Why the platform itself changed the status (paused because its sender ID was withdrawn).
    status_reason = models.CharField(max_length=255, blank=True)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    # Where the status events of the campaign's messages go instead of the account's webhook.
    callback_url = models.URLField(max_length=2000, blank=True)
    estimated_credits = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When a batch last ran: a sending campaign quiet for long has lost its batches, and beat restarts it.
    last_batch_at = models.DateTimeField(null=True, blank=True)
    # Preparation. Recipients the estimate counted (at creation, then when sent): how many messages it is writing
    # (once prepared, its messages are the count).
    expected_recipients = models.PositiveIntegerField(default=0)
    # Credits reserved and not spent on a message yet; what is left of them is refunded when preparation ends.
    credits_reserved = models.PositiveIntegerField(default=0)
    # The last member of the group (contact id) preparation went past; null before its first chunk.
    prepared_through = models.UUIDField(null=True, blank=True)
    # When every recipient's message was written.
    prepared_at = models.DateTimeField(null=True, blank=True)
    # When a chunk was last written: a preparation quiet for long has lost its task, and beat restarts it.
    last_chunk_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["account", "-created_at"], name="campaign_account_created"),
            # Beat's look for scheduled campaigns that are due.
            models.Index(
                fields=["scheduled_at"], name="campaign_scheduled_due", condition=models.Q(status="scheduled")
            ),
        ]

    def __str__(self) -> str:
        return self.name
