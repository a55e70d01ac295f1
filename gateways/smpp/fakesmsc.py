"""A fake SMSC: an asyncio SMPP 3.4 server for development, tests and benchmarks (`manage.py fakesmsc`).

It binds ESMEs, answers submit_sm with hex message ids, reassembles concatenated parts into whole messages
(kept for tests to read), and sends one delivery receipt per part after `receipt_delay`. Its config makes it
misbehave as real SMSCs do: throttling, rejections, slow answers, dropped links, silent enquire_link.

It is the far end of a throughput benchmark, so the hot path is lean: one asyncio.Protocol per connection,
TCP_NODELAY, the answers to one read written at once, no per-message logging, and receipts sent in batches on
a 10 ms tick rather than one timer each.

Everything runs on the server's event loop. The public methods (`stats`, `messages`, `reset`, `configure`,
`inject_inbound`, `drop_connections`) may be called from any thread: `run_in_thread` runs a server on its own
loop in a daemon thread, for tests.
"""

import asyncio
import dataclasses
import functools
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from smsplatform import gsm7

from . import pdu as smpp
from .pdu import CommandId, FrameBuffer, Pdu, PduError, Status, Tag
from .receipts import DELIVERED_STATE, FAILED_STATES, MESSAGE_STATES, message_text
from .text import GSM7, UCS2, sms_parts

SYSTEM_ID = "FAKESMSC"
RECEIPT_TICK = 0.01  # seconds between receipt batches
_STATE_CODES = {name: code for code, name in MESSAGE_STATES.items()}
_RECEIPT_ERROR = 1  # the err: of a failed receipt, also sent as a GSM network_error_code
_GSM_CHARS = frozenset(gsm7.BASIC_TABLE.replace(gsm7.ESCAPE, "")) | frozenset(gsm7.EXTENSION_TABLE)
_MAX_PARTIAL = 10_000  # incomplete concatenated messages kept; the oldest go first
_TRANSMITTERS = (CommandId.BIND_TRANSMITTER, CommandId.BIND_TRANSCEIVER)
_RECEIVERS = (CommandId.BIND_RECEIVER, CommandId.BIND_TRANSCEIVER)


@dataclass
class SmscConfig:
    host: str = "127.0.0.1"
    port: int = 2775  # 0: any free port (read FakeSmsc.port once started)
    system_id: str | None = None  # None: any system_id binds
    password: str | None = None  # None: any password binds
    receipt_delay: float | None = 1.0  # seconds after the submit; None: no receipts
    receipt_status: str = DELIVERED_STATE  # the stat: of every receipt...
    receipt_status_by_prefix: dict[str, str] = field(default_factory=dict)  # ...but by destination prefix
    receipt_id_format: str = "hex"  # the receipt's id: "hex" as answered, or "dec", the same number in decimal
    receipt_date_digits: int = 10  # YYMMDDhhmm, or 12: YYMMDDhhmmss
    throttle_tps: int = 0  # above this many submit_sm in the current second, ESME_RTHROTTLED; 0: never
    reject_share: float = 0.0  # this share of submits, drawn by a seeded RNG, answered reject_status
    reject_status: int = Status.ESME_RINVDSTADR
    reject_prefixes: list[str] = field(default_factory=list)  # destinations (digits, no "+") answered reject_status
    seed: int = 0  # of the reject_share draws: the same submits are rejected on every run
    response_delay: float = 0.0  # seconds before each submit_sm_resp; answers keep their order
    drop_after: int = 0  # every this many submit_sm in total, cut every connection, that submit unanswered
    answer_enquire_link: bool = True  # False: a dead link, as the client's link check sees it
    gsm7_packed: bool = False  # GSM-7 short_message is 7-bit packed (both ways)
    keep_messages: int = 10_000  # whole messages kept for messages(); older ones are forgotten

    def __post_init__(self):
        states = {self.receipt_status, *self.receipt_status_by_prefix.values()}
        if not states <= _STATE_CODES.keys():
            raise ValueError(f"Receipt states must be among {sorted(_STATE_CODES)}, not {sorted(states)}.")
        if self.receipt_id_format not in ("hex", "dec"):
            raise ValueError(f"receipt_id_format is 'hex' or 'dec', not {self.receipt_id_format!r}.")
        if self.receipt_date_digits not in (10, 12):
            raise ValueError(f"receipt_date_digits is 10 or 12, not {self.receipt_date_digits!r}.")
        if not 0 <= self.reject_share <= 1:
            raise ValueError(f"reject_share is a share from 0 to 1, not {self.reject_share!r}.")
        numbers = (self.throttle_tps, self.response_delay, self.drop_after, self.keep_messages, self.receipt_delay or 0)
        if min(numbers) < 0:
            raise ValueError("Delays, counts and rates cannot be negative.")


def _in_loop(method: Callable) -> Callable:
    """Runs the method on the server's event loop when called from another thread, and waits for its result."""

    @functools.wraps(method)
    def call(self: "FakeSmsc", *args, **kwargs):
        if self._loop is None or threading.get_ident() == self._loop_thread:
            return method(self, *args, **kwargs)

        async def run():
            return method(self, *args, **kwargs)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=10)

    return call


@dataclass(slots=True)
class _PendingReceipt:
    due: float  # event loop time
    system_id: str
    session: "_Session"  # the submitting connection, preferred when it can take receipts
    source: tuple[str, int, int]  # address, ton, npi: the submit's destination
    destination: tuple[str, int, int]  # the submit's source
    message_id: int
    state: str
    submitted: float  # wall clock
    text: str


class FakeSmsc:
    """The server. Methods marked @_in_loop are its thread-safe API; the others run on its loop only."""

    def __init__(self, config: SmscConfig | None = None):
        self.config = config or SmscConfig()
        self.port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._server: asyncio.Server | None = None
        self._sessions: set[_Session] = set()
        self._receipt_timer: asyncio.TimerHandle | None = None
        self._next_id = random.randrange(0x100000, 0x7FFFFFFF)  # a random start: ids differ between runs
        self._next_reference = 0
        self._clear()

    def _clear(self) -> None:
        self._stats = dict.fromkeys(
            ("binds", "submit_sm", "messages", "receipts_sent", "receipts_acked", "throttled", "rejected"), 0
        )
        self._messages: deque[dict] = deque(maxlen=self.config.keep_messages)
        self._partial: dict[tuple[str, str, int], dict] = {}
        self._receipts: deque[_PendingReceipt] = deque()
        self._backlog: deque[_PendingReceipt] = deque(maxlen=100_000)  # receipts no receiver was bound for
        self._rng = random.Random(self.config.seed)
        self._throttle_second, self._throttle_count = 0, 0
        self._submits_since_drop = 0

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._server = await self._loop.create_server(
            lambda: _Session(self), self.config.host, self.config.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self.drop_connections()
            await self._server.wait_closed()
        if self._receipt_timer is not None:
            self._receipt_timer.cancel()
        self._loop = None  # the snapshots stay readable from any thread once stopped

    @_in_loop
    def stats(self) -> dict[str, int]:
        return dict(self._stats)

    @_in_loop
    def messages(self) -> list[dict]:
        """The whole messages received, oldest first (at most `keep_messages`)."""
        return [dict(message) for message in self._messages]

    @_in_loop
    def reset(self) -> None:
        """Forget messages, statistics, pending receipts and parts; reseed the reject draws. Links stay up."""
        self._clear()

    @_in_loop
    def configure(self, **changes) -> None:
        """Change the behaviour at run time (not host or port); raises TypeError or ValueError for a bad change."""
        if {"host", "port"} & changes.keys():
            raise ValueError("host and port cannot change while running.")
        self.config = dataclasses.replace(self.config, **changes)
        if "seed" in changes:
            self._rng = random.Random(self.config.seed)
        if "keep_messages" in changes:
            self._messages = deque(self._messages, maxlen=self.config.keep_messages)

    @_in_loop
    def drop_connections(self) -> None:
        """Cut every client connection at once, as a network failure would: no unbind, unsent answers lost."""
        for session in list(self._sessions):
            session.transport.abort()

    @_in_loop
    def inject_inbound(self, source: str, destination: str, text: str) -> bool:
        """Send a mobile-originated message as deliver_sm (split with a UDH when long) to a bound receiver.

        False when no receiver or transceiver is bound.
        """
        session = next((session for session in self._sessions if session.bound in _RECEIVERS), None)
        if session is None:
            return False
        try:
            gsm7.encode(text)
            encoding = GSM7
        except ValueError:
            encoding = UCS2
        self._next_reference = (self._next_reference + 1) & 0xFF
        data_coding, parts = sms_parts(
            text, encoding, reference=self._next_reference, gsm7_packed=self.config.gsm7_packed
        )
        for part in parts or [b""]:
            session.send_deliver_sm(
                {
                    **_address_fields("source_addr", "source_addr", source),
                    **_address_fields("destination_addr", "dest_addr", destination),
                    "esm_class": smpp.ESM_UDHI if len(parts) > 1 else 0,
                    "data_coding": data_coding,
                    "short_message": part,
                }
            )
        session.flush()
        return True

    # -- submit_sm, on the hot path --

    def _submit_status(self, destination: str) -> int:
        """ESME_ROK, or the refusal this submit_sm gets (throttled, rejected); counts what it decides."""
        config = self.config
        if config.throttle_tps:
            second = int(time.monotonic())
            if second != self._throttle_second:
                self._throttle_second, self._throttle_count = second, 0
            if self._throttle_count >= config.throttle_tps:
                self._stats["throttled"] += 1
                return Status.ESME_RTHROTTLED
            self._throttle_count += 1
        number = destination.removeprefix("+")
        if any(number.startswith(prefix) for prefix in config.reject_prefixes) or (
            config.reject_share and self._rng.random() < config.reject_share
        ):
            self._stats["rejected"] += 1
            return config.reject_status
        return Status.ESME_ROK

    def _cut_due(self) -> bool:
        """Counts a submit_sm; True when it is the one `drop_after` cuts every connection at."""
        self._stats["submit_sm"] += 1
        if not self.config.drop_after:
            return False
        self._submits_since_drop += 1
        if self._submits_since_drop < self.config.drop_after:
            return False
        self._submits_since_drop = 0
        return True

    def _accept(self, session: "_Session", pdu: Pdu) -> str:
        """Takes a part: its message id (hex), its receipt scheduled, its message kept once whole."""
        self._next_id += 1
        message_id = self._next_id
        fields = pdu.fields
        text, concat = message_text(pdu, gsm7_packed=self.config.gsm7_packed)
        if concat is None or concat[1] == 1:
            self._complete(fields, {1: (text, message_id)})
        else:
            reference, total, sequence = concat
            key = (fields["source_addr"], fields["destination_addr"], reference)
            parts = self._partial.setdefault(key, {})
            parts[sequence] = (text, message_id)
            if len(parts) >= total:
                self._complete(fields, self._partial.pop(key))
            elif len(self._partial) > _MAX_PARTIAL:
                del self._partial[next(iter(self._partial))]
        self._schedule_receipt(session, fields, message_id, text)
        return f"{message_id:X}"

    def _complete(self, fields: dict, parts: dict[int, tuple[str, int]]) -> None:
        ordered = [parts[sequence] for sequence in sorted(parts)]
        self._stats["messages"] += 1
        self._messages.append(
            {
                "source": fields["source_addr"],
                "source_ton": fields["source_addr_ton"],
                "source_npi": fields["source_addr_npi"],
                "destination": fields["destination_addr"],
                "dest_ton": fields["dest_addr_ton"],
                "dest_npi": fields["dest_addr_npi"],
                "text": "".join(text for text, _ in ordered),
                "data_coding": fields["data_coding"],
                "esm_class": fields["esm_class"],
                "parts": len(ordered),
                "registered_delivery": fields["registered_delivery"],
                "part_ids": [f"{message_id:X}" for _, message_id in ordered],
            }
        )

    # -- receipts --

    def _schedule_receipt(self, session: "_Session", fields: dict, message_id: int, text: str) -> None:
        config = self.config
        wanted = fields["registered_delivery"] & 0x03  # 1: every final outcome, 2: failures only
        if config.receipt_delay is None or not wanted:
            return
        destination = fields["destination_addr"]
        state = _longest_prefix_value(config.receipt_status_by_prefix, destination.removeprefix("+"))
        state = state or config.receipt_status
        if wanted == 2 and state not in FAILED_STATES:
            return
        self._receipts.append(
            _PendingReceipt(
                due=self._loop.time() + config.receipt_delay,
                system_id=session.system_id,
                session=session,
                source=(destination, fields["dest_addr_ton"], fields["dest_addr_npi"]),
                destination=(fields["source_addr"], fields["source_addr_ton"], fields["source_addr_npi"]),
                message_id=message_id,
                state=state,
                submitted=time.time(),
                text=text[:20],
            )
        )
        if self._receipt_timer is None:
            self._receipt_timer = self._loop.call_later(max(config.receipt_delay, RECEIPT_TICK), self._send_receipts)

    def _send_receipts(self) -> None:
        self._receipt_timer = None
        now = self._loop.time()
        sent_on = set()
        while self._receipts and self._receipts[0].due <= now:
            receipt = self._receipts.popleft()
            session = self._receiver_for(receipt)
            if session is None:
                self._backlog.append(receipt)
                continue
            session.send_deliver_sm(*self._receipt_pdu_parts(receipt))
            sent_on.add(session)
        for session in sent_on:
            session.flush()
        if self._receipts:
            delay = max(self._receipts[0].due - now, RECEIPT_TICK)
            self._receipt_timer = self._loop.call_later(delay, self._send_receipts)

    def _receiver_for(self, receipt: _PendingReceipt) -> "_Session | None":
        if receipt.session.bound in _RECEIVERS and receipt.session in self._sessions:
            return receipt.session
        return next(
            (
                session
                for session in self._sessions
                if session.bound in _RECEIVERS and session.system_id == receipt.system_id
            ),
            None,
        )

    def _send_backlog(self, session: "_Session") -> None:
        """Receipts that found no receiver go to the next receiver of their system_id that binds."""
        kept = deque(maxlen=self._backlog.maxlen)
        for receipt in self._backlog:
            if receipt.system_id == session.system_id:
                session.send_deliver_sm(*self._receipt_pdu_parts(receipt))
            else:
                kept.append(receipt)
        self._backlog = kept

    def _receipt_pdu_parts(self, receipt: _PendingReceipt) -> tuple[dict, dict]:
        self._stats["receipts_sent"] += 1
        config = self.config
        receipt_id = f"{receipt.message_id:X}" if config.receipt_id_format == "hex" else str(receipt.message_id)
        date_format = "%y%m%d%H%M%S" if config.receipt_date_digits == 12 else "%y%m%d%H%M"
        submitted = time.strftime(date_format, time.gmtime(receipt.submitted))
        done = time.strftime(date_format, time.gmtime())
        delivered = receipt.state == DELIVERED_STATE
        error = _RECEIPT_ERROR if receipt.state in FAILED_STATES else 0
        snippet = "".join(char if char in _GSM_CHARS else "?" for char in receipt.text)
        text = (
            f"id:{receipt_id} sub:001 dlvrd:{'001' if delivered else '000'} submit date:{submitted} "
            f"done date:{done} stat:{receipt.state} err:{error:03d} text:{snippet}"
        )
        source, source_ton, source_npi = receipt.source
        destination, dest_ton, dest_npi = receipt.destination
        fields = {
            "source_addr_ton": source_ton,
            "source_addr_npi": source_npi,
            "source_addr": source,
            "dest_addr_ton": dest_ton,
            "dest_addr_npi": dest_npi,
            "destination_addr": destination,
            "esm_class": smpp.ESM_DELIVERY_RECEIPT,
            "short_message": gsm7.encode(text),
        }
        tlvs = {
            Tag.RECEIPTED_MESSAGE_ID: receipt_id.encode() + b"\0",
            Tag.MESSAGE_STATE: bytes((_STATE_CODES[receipt.state],)),
        }
        if error:
            tlvs[Tag.NETWORK_ERROR_CODE] = bytes((3, 0, error))  # 3: GSM
        return fields, tlvs


class _Session(asyncio.Protocol):
    """One client connection."""

    def __init__(self, smsc: FakeSmsc):
        self.smsc = smsc
        self.transport: asyncio.Transport | None = None
        self.frames = FrameBuffer()
        self.bound: int | None = None  # the bind command once bound
        self.system_id = ""
        self._sequence = 0
        self._out: list[bytes] = []
        self._delayed: deque[tuple[float, bytes]] = deque()  # submit_sm_resp waiting out response_delay
        self._delay_timer: asyncio.TimerHandle | None = None
        self._handlers = {
            CommandId.SUBMIT_SM: self._on_submit_sm,
            CommandId.DELIVER_SM_RESP: self._on_deliver_sm_resp,
            CommandId.ENQUIRE_LINK: self._on_enquire_link,
            CommandId.UNBIND: self._on_unbind,
            CommandId.BIND_TRANSMITTER: self._on_bind,
            CommandId.BIND_RECEIVER: self._on_bind,
            CommandId.BIND_TRANSCEIVER: self._on_bind,
        }

    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.smsc._sessions.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.smsc._sessions.discard(self)
        if self._delay_timer is not None:
            self._delay_timer.cancel()

    def data_received(self, data: bytes) -> None:
        try:
            frames = self.frames.feed(data)
        except PduError as error:  # the framing is lost: nothing after this can be read
            self._answer(Pdu(CommandId.GENERIC_NACK, error.sequence, error.status))
            self.close()
            return
        for frame in frames:
            try:
                pdu = smpp.decode(frame)
            except PduError as error:
                self._answer(Pdu(CommandId.GENERIC_NACK, error.sequence, error.status))
                continue
            handler = self._handlers.get(pdu.command_id)
            if handler is not None:
                handler(pdu)
            elif not pdu.command_id & smpp.RESP_BIT:  # an answer we do not wait for is ignored
                self._answer(Pdu(CommandId.GENERIC_NACK, pdu.sequence, Status.ESME_RINVCMDID))
            if self.transport.is_closing():
                return
        self.flush()

    def flush(self) -> None:
        if self._out:
            self.transport.write(b"".join(self._out))
            self._out.clear()

    def close(self) -> None:
        """Close after writing what is already answered."""
        self.flush()
        self.transport.close()

    def _answer(self, pdu: Pdu) -> None:
        self._out.append(smpp.encode(pdu))

    def send_deliver_sm(self, fields: dict, tlvs: dict | None = None) -> None:
        self._sequence = self._sequence % 0x7FFFFFFF + 1
        self._out.append(smpp.encode(Pdu(CommandId.DELIVER_SM, self._sequence, 0, fields, tlvs or {})))

    def _on_bind(self, pdu: Pdu) -> None:
        config = self.smsc.config
        system_id = pdu.fields["system_id"]
        if self.bound is not None:
            status = Status.ESME_RALYBND
        elif config.system_id is not None and system_id != config.system_id:
            status = Status.ESME_RINVSYSID
        elif config.password is not None and pdu.fields["password"] != config.password:
            status = Status.ESME_RINVPASWD
        else:
            status = Status.ESME_ROK
            self.bound, self.system_id = pdu.command_id, system_id
            self.smsc._stats["binds"] += 1
        self._answer(
            Pdu(
                pdu.command_id | smpp.RESP_BIT,
                pdu.sequence,
                status,
                {"system_id": SYSTEM_ID},
                {Tag.SC_INTERFACE_VERSION: b"\x34"},
            )
        )
        if status == Status.ESME_ROK and self.bound in _RECEIVERS:
            self.smsc._send_backlog(self)

    def _on_submit_sm(self, pdu: Pdu) -> None:
        if self.bound not in _TRANSMITTERS:
            self._answer(pdu.response(Status.ESME_RINVBNDSTS))
            return
        smsc = self.smsc
        if smsc._cut_due():
            for session in list(smsc._sessions):
                session.close()
            return
        status = smsc._submit_status(pdu.fields["destination_addr"])
        response = pdu.response(status, message_id=smsc._accept(self, pdu) if status == Status.ESME_ROK else "")
        delay = smsc.config.response_delay
        if delay or self._delayed:
            self._delayed.append((smsc._loop.time() + delay, smpp.encode(response)))
            if self._delay_timer is None:
                self._delay_timer = smsc._loop.call_at(self._delayed[0][0], self._send_delayed)
        else:
            self._answer(response)

    def _send_delayed(self) -> None:
        self._delay_timer = None
        now = self.smsc._loop.time()
        while self._delayed and self._delayed[0][0] <= now:
            self._out.append(self._delayed.popleft()[1])
        self.flush()
        if self._delayed:
            self._delay_timer = self.smsc._loop.call_at(self._delayed[0][0], self._send_delayed)

    def _on_deliver_sm_resp(self, pdu: Pdu) -> None:
        self.smsc._stats["receipts_acked"] += 1

    def _on_enquire_link(self, pdu: Pdu) -> None:
        if self.smsc.config.answer_enquire_link:
            self._answer(pdu.response())

    def _on_unbind(self, pdu: Pdu) -> None:
        if self.bound is None:
            self._answer(pdu.response(Status.ESME_RINVBNDSTS))
            return
        self._answer(pdu.response())
        self.close()


def _address_fields(name: str, prefix: str, address: str) -> dict[str, str | int]:
    """An address with its type: digits (with or without "+") international E.164, anything else alphanumeric."""
    number = address.removeprefix("+")
    if number.isdigit():
        return {name: number, f"{prefix}_ton": smpp.TON_INTERNATIONAL, f"{prefix}_npi": smpp.NPI_ISDN}
    return {name: address, f"{prefix}_ton": smpp.TON_ALPHANUMERIC, f"{prefix}_npi": smpp.NPI_UNKNOWN}


def _longest_prefix_value(by_prefix: dict[str, str], number: str) -> str | None:
    matches = [prefix for prefix in by_prefix if number.startswith(prefix)]
    return by_prefix[max(matches, key=len)] if matches else None


@contextmanager
def run_in_thread(config: SmscConfig | None = None) -> Iterator[FakeSmsc]:
    """A FakeSmsc listening on its own event loop in a daemon thread, stopped on exit; for tests."""
    smsc = FakeSmsc(config)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    failure: list[BaseException] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(smsc.start())
        except BaseException as error:  # handed to the caller's thread below
            failure.append(error)
            started.set()
            loop.close()
            return
        started.set()
        loop.run_forever()
        loop.run_until_complete(smsc.stop())
        loop.close()

    thread = threading.Thread(target=serve, name=f"fakesmsc-{id(smsc):x}", daemon=True)
    thread.start()
    started.wait()
    if failure:
        raise failure[0]
    try:
        yield smsc
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
