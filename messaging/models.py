import uuid

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower

# The GSM alphanumeric sender limit: 3 to 11 of letters, digits, space and - + _ &, at least one letter.
sender_name_validator = RegexValidator(
    r"^(?=.*[A-Za-z])[A-Za-z0-9 +\-_&]{3,11}\Z",
    message="Use 3 to 11 characters: letters, digits, spaces and - + _ &, with at least one letter.",
)


class SenderId(models.Model):
    """An alphanumeric sender name an account may send from once staff approve it."""

    class Status(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        REJECTED = "rejected"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="sender_ids")
    name = models.CharField(max_length=11, validators=[sender_name_validator])
    purpose = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "sender ID"
        constraints = [
            # "MyBrand" and "MYBRAND" look the same on a phone: one per account, whatever the case.
            models.UniqueConstraint(Lower("name"), "account", name="sender_id_unique_name_per_account"),
        ]

    def __str__(self) -> str:
        return self.name


class Tester(models.Model):
    """A phone number a sandbox account may send to, once verified by staff."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="testers")
    phone = models.CharField(max_length=16, help_text="E.164, e.g. +263771234567")
    verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint("account", "phone", name="tester_unique_phone_per_account")]

    def __str__(self) -> str:
        return self.phone


class OptOut(models.Model):
    """A number that asked not to hear from an account again (STOP, the API, an imported suppression list).

    Campaigns skip it and a single send to it is refused unless transactional, whether or not the number
    is one of the account's contacts; contacts with the number carry `opted_out` as a mirror of it.
    """

    class Source(models.TextChoices):
        API = "api"
        KEYWORD = "keyword"  # the phone texted STOP
        IMPORT = "import"
        CONTACT = "contact"  # a contact was marked opted_out

    id = models.BigAutoField(primary_key=True)
    # No index of its own: the unique (account, phone) and the (account, created_at) indexes lead with it.
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="opt_outs", db_index=False)
    phone = models.CharField(max_length=16, help_text="E.164, e.g. +263771234567")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.API)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "opt-out"
        constraints = [
            # One per number and account; also the index of a send's check and of `?phone=`.
            models.UniqueConstraint(fields=["account", "phone"], name="opt_out_unique_phone_per_account"),
        ]
        indexes = [
            # The list: an account's opt-outs, newest first.
            models.Index(fields=["account", "-created_at", "-id"], name="opt_out_account_created"),
        ]

    def __str__(self) -> str:
        return self.phone


class Message(models.Model):
    """One SMS to one recipient. Its status is a state machine:

        queued ──accepted (one gateway id per part)──▶ sent ──receipts──▶ delivered | undelivered
          │  ▲
          │  └── retry or unknown: tried again (on the next gateway of its route, or after a backoff)
          └──── rejected, or out of attempts ──▶ failed   (its credits refunded)

    A queued message handed to the bind process stays queued until the bind process
    records its outcome. Every change is a conditional UPDATE from the expected status
    (and, for a retry, the expected attempt), so a repeated task, hand-off or receipt
    changes nothing.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        SENT = "sent"
        DELIVERED = "delivered"
        UNDELIVERED = "undelivered"
        FAILED = "failed"

    CHANNEL = "sms"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of its own (each one costs every insert and status change): the indexes below lead with it.
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="messages", db_index=False)
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    # The group member a campaign message was made for; kept as null when the contact is deleted.
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    recipient = models.CharField(max_length=16)
    # An approved sender ID (11 characters at most), or the inbound number a reply to a phone goes from.
    sender = models.CharField(max_length=16)
    text = models.TextField()
    encoding = models.CharField(max_length=5)
    segments = models.PositiveSmallIntegerField()
    credits = models.PositiveIntegerField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    error = models.CharField(max_length=255, blank=True)
    # Machine-readable reason of the error: "smpp:ESME_RINVDSTADR", "dlr:EXPIRED:001", "twilio:21211".
    error_code = models.CharField(max_length=40, blank=True)
    # The gateway that took the message (sent), or that failed it last (queued for a retry).
    gateway = models.CharField(max_length=50, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # When a queued message is next due to be submitted; also a lease: nobody else submits it before then.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # Where this message's status events go instead of the account's webhook (its campaign's, for a campaign's).
    callback_url = models.URLField(max_length=2000, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # History: an account's newest messages.
            models.Index(fields=["account", "-created_at"], name="message_account_created"),
            # The dashboard's and the messages list's search by number: one recipient's messages, newest first.
            models.Index(fields=["account", "recipient", "-created_at"], name="message_account_recipient"),
            # The sweeper: queued messages sent on their own whose next attempt is overdue. Not a campaign's (their
            # batches find them by message_campaign_due): PostgreSQL read this index for a batch's statements on
            # "id among these and still queued", all of a 100,000-message campaign's entries for 500 rows.
            models.Index(
                fields=["next_attempt_at"],
                name="message_single_queued_due",
                condition=Q(status="queued", campaign__isnull=True),
            ),
            # A campaign's messages by status: its stats, its messages page; and its next batch, queued ones in the
            # order it claims them: never tried first (PostgreSQL sorts NULL first when descending), so a batch
            # stops at its last. Without an order PostgreSQL read the table from its start, every message sent
            # already first, for each batch.
            models.Index(
                F("campaign"),
                F("status"),
                F("next_attempt_at").desc(),
                name="message_campaign_due",
                condition=Q(campaign__isnull=False),
            ),
        ]
        constraints = [
            # A retried snapshot or batch can never make a second message for one recipient. Led by the contact,
            # it is also the index that finds a deleted contact's messages to set it null (the foreign key has none
            # of its own); partial, so that a single send, which has no contact, is not written into it.
            models.UniqueConstraint(
                fields=["contact", "campaign"],
                name="message_unique_per_contact_campaign",
                condition=Q(contact__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recipient} ({self.status})"


class MessagePart(models.Model):
    """One part of a sent message as its gateway knows it: the id that its delivery receipt names.

    A message is delivered when every part is, undelivered as soon as one part fails for good.
    """

    class Status(models.TextChoices):
        SENT = "sent"  # accepted, no final receipt yet
        DELIVERED = "delivered"
        UNDELIVERED = "undelivered"

    id = models.BigAutoField(primary_key=True)
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="parts")
    gateway = models.CharField(max_length=50)
    # Normalised per gateway (hex or decimal ids), as receipts are. Not unique: SMSCs reuse ids.
    gateway_message_id = models.CharField(max_length=100)
    number = models.PositiveSmallIntegerField()  # from 1
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SENT)
    error = models.CharField(max_length=255, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    receipt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # On PostgreSQL its pages are kept half free (fillfactor 50, migration 0008) so that a receipt's update,
        # which changes no indexed column, is HOT.
        indexes = [
            # Receipts find their part by the gateway's id. The id first: a batch's statement gives the list of
            # ids, and an index on the gateway first let PostgreSQL read every part of the gateway for it.
            models.Index(fields=["gateway_message_id", "gateway"], name="part_gateway_message_id"),
        ]

    def __str__(self) -> str:
        return f"{self.gateway}:{self.gateway_message_id}"


class UnmatchedReceipt(models.Model):
    """A receipt that named no known part: early (its part is recorded a moment later, and then it
    is applied) or stray (forgotten after SMS_RECEIPT_UNMATCHED_TTL)."""

    id = models.BigAutoField(primary_key=True)
    gateway = models.CharField(max_length=50)
    gateway_message_id = models.CharField(max_length=100)
    status = models.CharField(max_length=12)
    error = models.CharField(max_length=255, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["gateway", "gateway_message_id"], name="unmatched_receipt_gateway_id")]

    def __str__(self) -> str:
        return f"{self.gateway}:{self.gateway_message_id} {self.status}"


class InboundNumber(models.Model):
    """A long number or short code on which an account receives messages, assigned by operators.

    A number may be shared by several accounts, each with its own keyword (the first word of a message,
    in any case); a row without a keyword takes what matches no keyword of the number.
    """

    id = models.BigAutoField(primary_key=True)
    # E.164 for a long number (+263771000000), digits for a short code (33333).
    number = models.CharField(max_length=16)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="inbound_numbers")
    # Stored upper case; empty: the number's messages that name no keyword of it.
    keyword = models.CharField(max_length=20, blank=True)
    # The gateway whose messages to this number are this account's; empty: any gateway.
    gateway = models.CharField(max_length=50, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["number", "keyword"]
        constraints = [
            # One account per number and keyword (and one default account per number); also the lookup's index.
            models.UniqueConstraint(fields=["number", "keyword"], name="inbound_number_unique_keyword"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.keyword}".strip()


class InboundMessage(models.Model):
    """A message a phone sent to one of our numbers, whole (its parts reassembled), and the account it
    went to: null when no inbound number matched (operators see those in the dashboard)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(
        "accounts.Account", null=True, blank=True, on_delete=models.CASCADE, related_name="inbound_messages"
    )
    inbound_number = models.ForeignKey(
        InboundNumber, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    gateway = models.CharField(max_length=50)
    sender = models.CharField(max_length=32)  # the phone: E.164 when it is a valid number, else as the gateway wrote it
    recipient = models.CharField(max_length=32)  # our number or short code, as InboundNumber.number writes it
    text = models.TextField(blank=True)
    keyword = models.CharField(max_length=20, blank=True)  # the keyword that routed it, on a shared number
    parts = models.PositiveSmallIntegerField(default=1)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            # The inbox: an account's newest messages (and operators' unmatched ones, account null).
            models.Index(fields=["account", "-received_at"], name="inbound_account_received"),
        ]

    def __str__(self) -> str:
        return f"{self.sender} → {self.recipient}"


class InboundPart(models.Model):
    """A part of a long inbound message, kept until every part of it has arrived."""

    id = models.BigAutoField(primary_key=True)
    gateway = models.CharField(max_length=50)
    sender = models.CharField(max_length=32)
    recipient = models.CharField(max_length=32)
    reference = models.PositiveIntegerField()
    total = models.PositiveSmallIntegerField()
    number = models.PositiveSmallIntegerField()  # from 1
    text = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            # A part an SMSC delivers twice is kept once; also the index of the look for its siblings.
            models.UniqueConstraint(
                fields=["gateway", "sender", "recipient", "reference", "total", "number"], name="inbound_part_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sender} → {self.recipient} ({self.number}/{self.total})"


class IdempotencyKey(models.Model):
    """The first answer to a send made with an `Idempotency-Key` header, replayed for 24 hours."""

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    message = models.ForeignKey(Message, null=True, on_delete=models.CASCADE, related_name="+")
    response = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint("account", "key", name="idempotency_key_unique_per_account")]

    def __str__(self) -> str:
        return self.key
