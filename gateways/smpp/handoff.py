"""How web and Celery processes hand messages to the bind process, through Redis.

Per gateway alias, two streams read by the consumer group GROUP: `priority` (single sends, whose
request waits) before `bulk` (campaign batches). An entry names the message and its attempt; the
bind process reads the message from the database, so an entry made for an earlier attempt is stale
and skipped. An entry is acknowledged and deleted once its outcome is recorded: a bind process that
dies leaves its entries pending, and another claims them.

A request that waits for its outcome BLPOPs `reply_key(message id)`, which the bind process pushes
after recording. Each bind publishes its state under `bind_state_key` (a few seconds' TTL), which the
web side reads to know whether the gateway can take messages at all.
"""

import json
from dataclasses import dataclass

from ..base import SubmitResult, SubmitStatus

GROUP = "smppd"
PRIORITY, BULK = "priority", "bulk"
REPLY_TTL = 60  # seconds a reply waits for a request that timed out meanwhile
BIND_STATE_TTL = 5  # a bind process that stops publishing is unbound after this long


def stream_key(alias: str, lane: str) -> str:
    return f"smpp:{alias}:{lane}"


def reply_key(message_id: str) -> str:
    return f"smpp:reply:{message_id}"


def bind_state_key(alias: str, number: int) -> str:
    return f"smpp:{alias}:bind:{number}"


def lease_key(alias: str, number: int) -> str:
    return f"smpp:{alias}:lease:{number}"


def instance_key(instance: str) -> str:
    return f"smppd:instance:{instance}"


@dataclass(frozen=True, slots=True)
class Handoff:
    """One stream entry: a message handed over for one attempt."""

    stream: str
    entry_id: str
    message_id: str
    attempt: int
    reply: bool  # a request waits for the outcome

    @classmethod
    def from_entry(cls, stream: str, entry_id: str, fields: dict) -> "Handoff":
        return cls(stream, entry_id, fields["m"], int(fields["a"]), fields.get("r") == "1")


def entry_fields(*, message_id: str, attempt: int, reply: bool) -> dict[str, str]:
    return {"m": message_id, "a": str(attempt), "r": "1" if reply else "0"}


def reply_encode(result: SubmitResult) -> str:
    return json.dumps(
        {"status": result.status, "part_ids": result.part_ids, "error": result.error, "error_code": result.error_code}
    )


def reply_decode(raw: bytes | str) -> SubmitResult:
    """The outcome the bind process recorded, as the waiting request reads it."""
    reply = json.loads(raw)
    return SubmitResult(
        SubmitStatus(reply["status"]),
        part_ids=tuple(reply["part_ids"]),
        error=reply["error"],
        error_code=reply["error_code"],
        recorded=True,
    )
