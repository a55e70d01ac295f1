import uuid

from django.db import models
from django.db.models import Q


class WebhookEndpoint(models.Model):
    """An account's default webhook: where its events go, and the secret that signs them.

    Made on first use (GET or PUT /webhooks/, or the first delivery to a message's callback_url, which the
    account's secret signs too) with an empty `url`: no event goes to the account's URL until it sets one.
    """

    # Each event type, and the column that says whether the endpoint subscribes to it.
    EVENT_FIELDS = {"message.status": "message_status", "message.received": "message_received"}

    id = models.BigAutoField(primary_key=True)
    account = models.OneToOneField("accounts.Account", on_delete=models.CASCADE, related_name="webhook_endpoint")
    url = models.URLField(max_length=2000, blank=True)
    # whsec_ + base64 of 32 random bytes (Standard Webhooks). The previous one signs too until it expires.
    secret = models.CharField(max_length=100)
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # The event types it subscribes to, as columns: the outbox's INSERT … SELECT filters on them.
    message_status = models.BooleanField(default=True)
    message_received = models.BooleanField(default=True)
    # Set when the receiver answered 410 Gone: no event goes to the URL until the account PUTs one again.
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "webhook endpoint"

    def __str__(self) -> str:
        return self.url or "(no URL)"

    @property
    def events(self) -> list[str]:
        return [event for event, field in self.EVENT_FIELDS.items() if getattr(self, field)]


class WebhookDelivery(models.Model):
    """One event to one URL, written by the outbox in the transaction of the change it reports, and its
    delivery state: pending (due at `next_attempt_at`, which is also the lease of an attempt in flight) →
    succeeded, or failed once out of retries (or on 410 Gone). Its id is the event's `webhook-id`.

    What the event says is kept as it was then (the status and its error); the message's other fields never
    change, so the body is rebuilt the same, byte for byte, at every attempt.
    """

    class Type(models.TextChoices):
        MESSAGE_STATUS = "message.status"
        MESSAGE_RECEIVED = "message.received"

    class State(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+", db_index=False)
    # The account's endpoint when the URL is its: a 410 disables it. Null for a message's callback_url.
    endpoint = models.ForeignKey(
        WebhookEndpoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    type = models.CharField(max_length=20, choices=Type.choices)
    url = models.URLField(max_length=2000)
    # scheme://host[:port] of `url`: the unit of the in-flight limit, and of the dispatcher tasks.
    origin = models.CharField(max_length=300)
    message = models.ForeignKey(
        "messaging.Message", null=True, blank=True, on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    inbound = models.ForeignKey(
        "messaging.InboundMessage", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # The message's status, error and error code when the event happened.
    message_status = models.CharField(max_length=12, blank=True)
    error = models.CharField(max_length=255, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-created_at", "-id"]
        indexes = [
            # The list: an account's newest deliveries.
            models.Index(fields=["account", "-created_at"], name="webhook_delivery_account"),
            # The dispatcher's claim and the sweep: a host's pending deliveries by due time.
            models.Index(
                fields=["origin", "next_attempt_at"], name="webhook_delivery_due", condition=Q(state="pending")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} → {self.url}"

    @property
    def webhook_id(self) -> str:
        return f"msg_{self.id.hex}"


class WebhookAttempt(models.Model):
    """One POST of a delivery and what came back: the attempt log."""

    id = models.BigAutoField(primary_key=True)
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)  # null: no answer (timeout, refused…)
    duration_ms = models.PositiveIntegerField()
    error = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["attempted_at", "id"]

    def __str__(self) -> str:
        return f"{self.status_code or self.error}"
