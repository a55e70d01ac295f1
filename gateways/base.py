"""The gateway interface, shaped like Django's e-mail backends.

A backend is a class with its options as keyword arguments, optional `open()` /
`close()` hooks and one required method, `send_messages()`, which submits a
batch and answers one `SubmitResult` per message, in order.
"""

from collections.abc import Sequence
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


class SubmitStatus(StrEnum):
    ACCEPTED = "accepted"  # the gateway took it; a delivery report will follow
    REJECTED = "rejected"  # refused for good: retrying cannot help
    RETRY = "retry"  # failed for now (timeout, connection refused, throttled): try again later


@dataclass(frozen=True, slots=True)
class SubmitResult:
    status: SubmitStatus
    gateway_message_id: str = ""
    error: str = ""

    @classmethod
    def accepted(cls, gateway_message_id: str) -> "SubmitResult":
        return cls(SubmitStatus.ACCEPTED, gateway_message_id=gateway_message_id)

    @classmethod
    def rejected(cls, error: str) -> "SubmitResult":
        return cls(SubmitStatus.REJECTED, error=error)

    @classmethod
    def retry(cls, error: str) -> "SubmitResult":
        return cls(SubmitStatus.RETRY, error=error)


class BaseGateway:
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

    def send_messages(self, messages: Sequence[OutboundSms], *, timeout: float) -> list[SubmitResult]:
        """Submit the messages within `timeout` seconds; one result per message, in order.

        Never raises for a message's own failure: a transient problem is `SubmitResult.retry`,
        a refusal `SubmitResult.rejected`.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement send_messages().")
