"""The gateway interface, shaped like Django's e-mail backends.

A backend is a class with its options as keyword arguments, optional `open()` /
`close()` hooks and one required method, `send_messages()`, which submits a
batch and answers one `SubmitResult` per message, in order.

Stateless backends (the fake, HTTP providers) submit from whichever process calls
them. Backends with `bind_process = True` (SMPP) hold connections that live in one
long-running process (`manage.py smppd`): their `send_messages()` hands the messages
over to it, and it records the outcomes.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class OutboundSms:
    """What a gateway needs of a message, detached from the database."""

    message_id: str
    recipient: str  # E.164
    sender: str
    text: str
    encoding: str  # "GSM-7" or "UCS-2"
    # The message's attempt number: a hand-off made for an earlier attempt is stale and skipped.
    attempt: int = 1
    # Its campaign, if any: the bind process gives back a campaign's messages once it pauses or stops.
    campaign_id: str = ""


class SubmitStatus(StrEnum):
    ACCEPTED = "accepted"  # the gateway took it: one id per part, each matched by its delivery receipt
    REJECTED = "rejected"  # refused for good: retrying cannot help
    RETRY = "retry"  # failed for now (timeout before sending, connection refused, throttled): try again
    UNKNOWN = "unknown"  # submitted, but no answer came: it may or may not have been sent
    PENDING = "pending"  # handed to the bind process, which records the outcome when it arrives


@dataclass(frozen=True, slots=True)
class SubmitResult:
    status: SubmitStatus
    part_ids: tuple[str, ...] = ()  # the gateway's id of each part, in order (accepted only)
    error: str = ""
    error_code: str = ""  # machine-readable: "smpp:ESME_RINVDSTADR", "twilio:21211", "gateway:timeout"
    # True when the bind process has recorded this outcome already: the caller only reads it.
    recorded: bool = False
    # What that record made of the message (its status; the balance after its refund, if it had one), when the
    # bind process said: the request that waited for it mirrors this instead of reading the message again.
    recorded_status: str = ""
    recorded_balance: int | None = None

    @classmethod
    def accepted(cls, *part_ids: str) -> "SubmitResult":
        if not part_ids:
            raise ValueError("An accepted message has the gateway's id of at least one part.")
        return cls(SubmitStatus.ACCEPTED, part_ids=tuple(part_ids))

    @classmethod
    def rejected(cls, error: str, code: str = "") -> "SubmitResult":
        return cls(SubmitStatus.REJECTED, error=error, error_code=code)

    @classmethod
    def retry(cls, error: str, code: str = "") -> "SubmitResult":
        return cls(SubmitStatus.RETRY, error=error, error_code=code)

    @classmethod
    def unknown(cls, error: str, code: str = "gateway:unknown") -> "SubmitResult":
        return cls(SubmitStatus.UNKNOWN, error=error, error_code=code)

    @classmethod
    def pending(cls) -> "SubmitResult":
        return cls(SubmitStatus.PENDING)


class ReceiptStatus(StrEnum):
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"  # final: expired, rejected, undeliverable, deleted
    INTERIM = "interim"  # en route, accepted, unknown: changes nothing


@dataclass(frozen=True, slots=True)
class Receipt:
    """A delivery receipt for one part, as its gateway reported it (the id normalised per gateway)."""

    gateway: str
    part_id: str
    status: ReceiptStatus
    error: str = ""
    error_code: str = ""


@dataclass(frozen=True, slots=True)
class InboundSms:
    """A message a phone sent to one of our numbers (an SMPP deliver_sm that is not a receipt)."""

    gateway: str
    sender: str  # the phone, as the gateway wrote it
    recipient: str  # our number or short code
    text: str
    # Concatenation (reference, total parts, this part's number, from 1) when this is one part of several.
    concat: tuple[int, int, int] | None = None


class CallbackRefused(Exception):
    """A status callback that is not the gateway's (bad signature) or that the backend does not take."""


class BaseGateway:
    # Connections live in the bind process (`manage.py smppd`), not in web or Celery processes.
    bind_process = False

    def __init__(self, *, alias: str, **options):
        if options:
            raise TypeError(f"{type(self).__name__} got unknown options: {', '.join(sorted(options))}")
        self.alias = alias

    def open(self) -> None:
        """Open a connection (a bind, a session); a no-op for stateless backends."""

    def close(self) -> None:
        """Close what open() opened."""

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc_info):
        self.close()

    def send_messages(
        self, messages: Sequence[OutboundSms], *, timeout: float, wait: bool = True
    ) -> list[SubmitResult]:
        """Submit the messages within `timeout` seconds; one result per message, in order.

        Never raises for a message's own failure: a transient problem is `SubmitResult.retry`,
        a refusal `SubmitResult.rejected`. With `wait=False` (campaign batches) a bind-process
        backend hands the messages over and answers `pending` without waiting for outcomes.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement send_messages().")

    def state(self) -> dict:
        """What the health endpoint reports of this gateway; `available` False means it cannot take messages now."""
        return {"available": True}

    def status_callback(self, *, url: str, params: Mapping[str, str], headers: Mapping[str, str]) -> list[Receipt]:
        """The receipts of a status callback the provider POSTed to us; raises CallbackRefused when not genuine."""
        raise CallbackRefused(f"The {type(self).__name__} gateway takes no status callbacks.")

    def inbound_callback(self, *, url: str, params: Mapping[str, str], headers: Mapping[str, str]) -> list[InboundSms]:
        """The messages of an inbound callback the provider POSTed to us; raises CallbackRefused when not genuine."""
        raise CallbackRefused(f"The {type(self).__name__} gateway takes no inbound callbacks.")
