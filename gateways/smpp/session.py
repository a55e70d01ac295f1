"""One bind to an SMSC, as an ESME: asyncio, TCP_NODELAY, a window of outstanding submit_sm, a TPS pace,
back-off when the SMSC throttles, enquire_link on a quiet link, and the PDUs the SMSC sends us.

    session = await SmppSession.open(config, on_deliver=handle)
    response = await (await session.submit(pdu))  # the first await is flow control, the second the answer
    session.respond(deliver_sm.response())         # when the receipt is stored
    await session.unbind()

`submit()` returns once the PDU is on the wire, with a future of its response: a caller keeps the window
full without a task per message. The future fails with SessionClosed when the link drops and with
ResponseTimeout when no answer comes within `response_timeout`: in both cases the PDU may have been sent.
"""

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from .pdu import CommandId, FrameBuffer, Pdu, PduError, Status, decode, encode, status_name

logger = logging.getLogger(__name__)

BIND_COMMANDS = {
    "transceiver": CommandId.BIND_TRANSCEIVER,
    "transmitter": CommandId.BIND_TRANSMITTER,
    "receiver": CommandId.BIND_RECEIVER,
}
# The SMSC asks us to slow down: the PDU is sent again after a pause, the message does not fail.
THROTTLING = frozenset({Status.ESME_RTHROTTLED, Status.ESME_RMSGQFUL})
# Failures of the moment on the SMSC's side: another attempt (or another gateway) may succeed.
TEMPORARY = frozenset(
    {
        Status.ESME_RSYSERR,
        Status.ESME_RX_T_APPN,
        Status.ESME_RSUBMITFAIL,
        Status.ESME_RDELIVERYFAILURE,
        Status.ESME_RUNKNOWNERR,
        Status.ESME_RINVBNDSTS,
    }
)
THROTTLE_PAUSE_FIRST, THROTTLE_PAUSE_MAX = 0.2, 5.0


class SessionClosed(ConnectionError):
    """The link dropped (or was closed) before the answer came."""


class ResponseTimeout(TimeoutError):
    """No answer within response_timeout."""


class BindRefused(ConnectionError):
    """The SMSC answered the bind with an error (credentials, too many binds)."""

    def __init__(self, status: int):
        super().__init__(f"The SMSC refused the bind: {status_name(status)}")
        self.status = status


@dataclass(frozen=True, slots=True)
class BindConfig:
    host: str
    port: int
    system_id: str
    password: str
    system_type: str = ""
    bind_mode: str = "transceiver"
    window: int = 10
    tps: float = 0  # 0: no limit
    enquire_link_interval: float = 30.0
    response_timeout: float = 10.0
    connect_timeout: float = 10.0


class Pace:
    """Spaces sends 1/tps apart (no burst: operators cut binds over their agreed TPS), and pauses all sends
    after a throttling answer, longer each time in a row."""

    __slots__ = ("_interval", "_next", "_pause")

    def __init__(self, tps: float):
        self._interval = 1 / tps if tps else 0.0
        self._next = 0.0
        self._pause = 0.0

    async def wait(self) -> None:
        now = time.monotonic()
        at = max(self._next, now)
        self._next = at + self._interval
        if at > now:
            await asyncio.sleep(at - now)

    def throttled(self) -> float:
        """The SMSC throttled a PDU: hold every send back; returns the pause."""
        self._pause = min(self._pause * 2, THROTTLE_PAUSE_MAX) if self._pause else THROTTLE_PAUSE_FIRST
        self._next = max(self._next, time.monotonic() + self._pause)
        return self._pause

    def accepted(self) -> None:
        self._pause = 0.0


class SmppSession(asyncio.Protocol):
    def __init__(self, config: BindConfig, on_deliver: Callable[["SmppSession", Pdu], None]):
        self.config = config
        self.on_deliver = on_deliver  # deliver_sm / data_sm: the caller answers with respond() once it is stored
        self.pace = Pace(config.tps)
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._window = asyncio.Semaphore(config.window)
        self._outstanding: dict[int, tuple[asyncio.Future[Pdu], float, bool]] = {}  # seq → (answer, sent, windowed)
        self._sequence = 0
        self._frames = FrameBuffer()
        self._transport: asyncio.Transport | None = None
        self._unwritten: list[bytes] = []  # PDUs of this turn of the event loop, written together at its end
        self._last_received = time.monotonic()
        self._watchdog: asyncio.Task | None = None
        self._enquiry: asyncio.Task | None = None

    # --- Opening and closing -----------------------------------------------------------------------

    @classmethod
    async def open(cls, config: BindConfig, *, on_deliver: Callable[["SmppSession", Pdu], None]) -> "SmppSession":
        """Connect and bind. Raises OSError or TimeoutError when the SMSC cannot be reached, BindRefused when it
        says no."""
        loop = asyncio.get_running_loop()
        session = cls(config, on_deliver)
        await asyncio.wait_for(
            loop.create_connection(lambda: session, config.host, config.port), timeout=config.connect_timeout
        )
        bind = Pdu(
            BIND_COMMANDS[config.bind_mode],
            0,
            fields={"system_id": config.system_id, "password": config.password, "system_type": config.system_type},
        )
        try:
            answer = await asyncio.wait_for(session.request(bind), timeout=config.response_timeout)
        except BaseException:
            session.abort()
            raise
        if answer.status != Status.ESME_ROK:
            session.abort()
            raise BindRefused(answer.status)
        session._watchdog = asyncio.create_task(session._watch())
        return session

    def connection_made(self, transport: asyncio.Transport) -> None:
        # Small PDUs one after another: without it Nagle and delayed ACKs hold each for up to 40 ms.
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        outstanding, self._outstanding = self._outstanding, {}
        for answer, _, windowed in outstanding.values():
            if not answer.done():
                answer.set_exception(SessionClosed("The link to the SMSC dropped before the answer."))
            if windowed:
                self._window.release()
        if not self.closed.done():
            self.closed.set_result(None)

    @property
    def is_open(self) -> bool:
        return not self.closed.done()

    @property
    def window_in_use(self) -> int:
        return sum(windowed for _, _, windowed in self._outstanding.values())

    async def unbind(self) -> None:
        """Say goodbye politely (unbind, its answer), then close."""
        if self.is_open:
            with contextlib.suppress(SessionClosed, TimeoutError):  # closing anyway
                await asyncio.wait_for(
                    self.request(Pdu(CommandId.UNBIND, 0)), timeout=min(5, self.config.response_timeout)
                )
        self.abort()

    def abort(self) -> None:
        if self._transport is not None:
            self._flush()  # what is answered already (an unbind's response) still leaves
            self._transport.abort()
        else:
            self.connection_lost(None)

    # --- Sending ---------------------------------------------------------------------------------------

    async def submit(self, pdu: Pdu) -> asyncio.Future[Pdu]:
        """Wait for room in the window and for the pace, send, and return the future of the answer."""
        await self._window.acquire()
        try:
            if not self.is_open:
                raise SessionClosed("The link to the SMSC is closed.")
            await self.pace.wait()
        except BaseException:  # closed, or cancelled in the pace (a throttling pause is up to 5 s): nothing sent
            self._window.release()
            raise
        return self._send(pdu, windowed=True)

    def request(self, pdu: Pdu) -> asyncio.Future[Pdu]:
        """Send a PDU outside the window (bind, enquire_link, unbind) and return the future of its answer."""
        return self._send(pdu, windowed=False)

    def respond(self, pdu: Pdu) -> None:
        """Answer a request of the SMSC's; nothing happens if the link dropped meanwhile (it will send again)."""
        if self.is_open and self._transport is not None:
            self._write(encode(pdu))

    def _send(self, pdu: Pdu, *, windowed: bool) -> asyncio.Future[Pdu]:
        answer = asyncio.get_running_loop().create_future()
        if not self.is_open or self._transport is None:
            if windowed:
                self._window.release()
            answer.set_exception(SessionClosed("The link to the SMSC is closed."))
            return answer
        self._sequence = self._sequence % 0x7FFFFFFF + 1  # 1 … 2^31-1, as the spec allows
        pdu.sequence = self._sequence
        self._outstanding[pdu.sequence] = (answer, time.monotonic(), windowed)
        try:
            self._write(encode(pdu))
        except ValueError:  # a field SMPP cannot carry: no PDU left
            self._settle(pdu.sequence)
            raise
        return answer

    def _write(self, data: bytes) -> None:
        """Queue a PDU for the wire. What one turn of the event loop queues (a window's submit_sm, a batch of
        receipts' answers) leaves in one write: one system call, where a write a PDU was a tenth of the bind
        process's CPU. Nothing waits longer than that turn."""
        if not self._unwritten:
            asyncio.get_running_loop().call_soon(self._flush)
        self._unwritten.append(data)

    def _flush(self) -> None:
        data, self._unwritten = b"".join(self._unwritten), []
        if data and self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def _settle(self, sequence: int) -> asyncio.Future[Pdu] | None:
        entry = self._outstanding.pop(sequence, None)
        if entry is None:
            return None
        answer, _, windowed = entry
        if windowed:
            self._window.release()
        return answer

    # --- Receiving -------------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self._last_received = time.monotonic()
        try:
            frames = self._frames.feed(data)
        except PduError as error:
            logger.error("SMPP framing broken by the SMSC (%s): dropping the link", error)
            self.abort()
            return
        for frame in frames:
            try:
                pdu = decode(frame)
            except PduError as error:
                logger.warning("Malformed PDU from the SMSC: %s", error)
                self.respond(Pdu(CommandId.GENERIC_NACK, error.sequence, error.status))
                continue
            self._received(pdu)

    def _received(self, pdu: Pdu) -> None:
        command = pdu.command_id
        if command & 0x80000000:  # an answer (or a generic_nack) to one of ours
            answer = self._settle(pdu.sequence)
            if answer is not None and not answer.done():
                answer.set_result(pdu)
        elif command in (CommandId.DELIVER_SM, CommandId.DATA_SM):
            self.on_deliver(self, pdu)
        elif command == CommandId.ENQUIRE_LINK:
            self.respond(pdu.response())
        elif command == CommandId.UNBIND:
            self.respond(pdu.response())
            self.abort()
        else:
            self.respond(Pdu(CommandId.GENERIC_NACK, pdu.sequence, Status.ESME_RINVCMDID))

    async def _watch(self) -> None:
        """Fail answers overdue past response_timeout; on a quiet link, enquire_link, and drop it if unanswered."""
        config = self.config
        while self.is_open:
            await asyncio.sleep(min(1.0, config.response_timeout / 4))
            now = time.monotonic()
            for sequence, (_, sent, _) in list(self._outstanding.items()):  # oldest first
                if now - sent < config.response_timeout:
                    break
                answer = self._settle(sequence)
                if answer is not None and not answer.done():
                    answer.set_exception(ResponseTimeout(f"No answer from the SMSC in {config.response_timeout:g} s."))
            if now - self._last_received >= config.enquire_link_interval and (
                self._enquiry is None or self._enquiry.done()
            ):
                self._enquiry = asyncio.create_task(self._enquire_link())

    async def _enquire_link(self) -> None:
        try:
            await asyncio.wait_for(self.request(Pdu(CommandId.ENQUIRE_LINK, 0)), timeout=self.config.response_timeout)
        except TimeoutError:
            logger.warning("The SMSC did not answer enquire_link: dropping the link")
            self.abort()
        except SessionClosed:
            pass
