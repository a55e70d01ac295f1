"""How web and Celery processes hand messages to the bind process, through Redis.

Per gateway alias, two streams read by the consumer group GROUP: `priority` (single sends, whose
request waits) before `bulk` (campaign batches). An entry names the message and its attempt, and
carries the message itself (and its campaign) with the time it was handed over: read for the first
time within half its lease, when nothing else can have claimed the message, it is sent as handed
over (a campaign's once the bind process saw the campaign still sending); read later, the message is
read from the database, so an entry made for an earlier attempt is stale and skipped. An entry is
acknowledged and deleted once its outcome is recorded: a bind process that dies leaves its entries
pending, and another claims them (and reads them again).

A request that waits for its outcome BLPOPs `reply_key(message id)`, which the bind process pushes
after recording. Each bind publishes its state under `bind_state_key` (a few seconds' TTL), which the
web side reads to know whether the gateway can take messages at all.
"""

import json
import time
from dataclasses import dataclass

from ..base import OutboundSms, SubmitResult, SubmitStatus

GROUP = "smppd"
PRIORITY, BULK = "priority", "bulk"
REPLY_TTL = 60  # seconds a reply waits for a request that timed out meanwhile
BIND_STATE_TTL = 5  # a bind process that stops publishing is unbound after this long
# What recording an outcome made of its message: its status, and the balance after its refund (None without one).
RecordedState = tuple[str, int | None]


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
    sms: OutboundSms | None = None  # the message as handed over
    handed_at: float = 0.0  # time.time() of the hand-off

    @classmethod
    def from_entry(cls, stream: str, entry_id: str, fields: dict) -> "Handoff":
        attempt = int(fields["a"])
        sms = (
            OutboundSms(fields["m"], *json.loads(fields["s"]), attempt=attempt, campaign_id=fields.get("c", ""))
            if "s" in fields
            else None
        )
        return cls(stream, entry_id, fields["m"], attempt, fields.get("r") == "1", sms, float(fields.get("t", 0)))

    def current(self, lease: float) -> OutboundSms | None:
        """The message as handed over, while nothing else can have claimed it (within half its lease)."""
        return self.sms if time.time() - self.handed_at < lease / 2 else None


def entry_fields(sms: OutboundSms, *, reply: bool, handed_at: float) -> dict[str, str]:
    """A hand-off entry, carrying the message; `reply`: a request waits for its outcome (a single send)."""
    fields = {
        "m": sms.message_id,
        "a": str(sms.attempt),
        "r": "1" if reply else "0",
        "s": json.dumps([sms.recipient, sms.sender, sms.text, sms.encoding]),
        "t": repr(handed_at),
    }
    if sms.campaign_id:
        fields["c"] = sms.campaign_id
    return fields


def reply_encode(result: SubmitResult, recorded: RecordedState | None) -> str:
    """The outcome, and what recording it made of the message (status, balance after a refund), if it changed it."""
    return json.dumps(
        {
            "status": result.status,
            "part_ids": result.part_ids,
            "error": result.error,
            "error_code": result.error_code,
            "recorded": recorded,
        }
    )


def reply_decode(raw: bytes | str) -> SubmitResult:
    """The outcome the bind process recorded, as the waiting request reads it. A reply without what the record
    made of the message (it changed nothing: another attempt's, or an older bind process) says only that."""
    reply = json.loads(raw)
    status, balance = reply.get("recorded") or ("", None)
    return SubmitResult(
        SubmitStatus(reply["status"]),
        part_ids=tuple(reply["part_ids"]),
        error=reply["error"],
        error_code=reply["error_code"],
        recorded=True,
        recorded_status=status,
        recorded_balance=balance,
    )
