"""The ESME session over real loopback sockets (no database): against the fake SMSC, and against a scripted SMSC
written here when a test needs PDUs the fake never sends (enquire_link, unbind, unknown or broken PDUs)."""

import asyncio
import contextlib
import socket
import struct
import time
from collections import deque
from collections.abc import Iterator

import pytest

from gateways.smpp.fakesmsc import SmscConfig, run_in_thread
from gateways.smpp.pdu import CommandId, FrameBuffer, Pdu, Status, decode, encode
from gateways.smpp.session import (
    TEMPORARY,
    THROTTLING,
    BindConfig,
    BindRefused,
    Pace,
    ResponseTimeout,
    SessionClosed,
    SmppSession,
)

DEADLINE = 10.0  # seconds for a whole scenario: a hang fails the test instead of blocking the suite
WAIT = 2.0  # seconds for something that happens at once on loopback


@pytest.fixture
def smsc():
    with run_in_thread(SmscConfig(port=0, receipt_delay=None)) as server:
        yield server


def run(scenario):
    return asyncio.run(asyncio.wait_for(scenario, DEADLINE))


def bind_config(port: int, **options) -> BindConfig:
    return BindConfig(host="127.0.0.1", port=port, system_id="tester", password="secret", **options)


def submit_sm(destination: str = "263771234567", text: bytes = b"hello") -> Pdu:
    return Pdu(
        CommandId.SUBMIT_SM,
        0,
        fields={
            "source_addr_ton": 5,
            "source_addr": "MyBrand",
            "dest_addr_ton": 1,
            "dest_addr_npi": 1,
            "destination_addr": destination,
            "short_message": text,
        },
    )


class Inbox:
    """An on_deliver that keeps what it is given, (session, pdu), for the test to wait for."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[SmppSession, Pdu]] = asyncio.Queue()

    def __call__(self, session: SmppSession, pdu: Pdu) -> None:
        self.queue.put_nowait((session, pdu))

    async def next(self) -> tuple[SmppSession, Pdu]:
        return await asyncio.wait_for(self.queue.get(), WAIT)


class SpiedSession(SmppSession):
    """A session that also keeps every PDU it receives (answers included), to watch the link from the ESME's end."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.received: list[Pdu] = []

    def _received(self, pdu: Pdu) -> None:
        self.received.append(pdu)
        super()._received(pdu)


class WriteCountingSession(SmppSession):
    """A session that also keeps the size of every write to its socket."""

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)
        self.writes: list[int] = []
        write = transport.write

        def counted(data: bytes) -> None:
            self.writes.append(len(data))
            write(data)

        transport.write = counted


async def open_session(
    port: int, *, session_class: type[SmppSession] = SmppSession, inbox: Inbox | None = None, **options
) -> SmppSession:
    return await session_class.open(bind_config(port, **options), on_deliver=inbox or Inbox())


async def eventually(predicate, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        await asyncio.sleep(0.01)


# --- A scripted SMSC: the test reads what the session sends and writes what it likes ----------------------------


class Link:
    """The SMSC's end of one connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self._frames = FrameBuffer()
        self._pending: deque[bytes] = deque()

    async def receive(self) -> Pdu:
        while not self._pending:
            data = await asyncio.wait_for(self.reader.read(65536), WAIT)
            if not data:
                raise EOFError("The session closed the connection.")
            self._pending.extend(self._frames.feed(data))
        return decode(self._pending.popleft())

    async def remaining(self) -> list[Pdu]:
        """Every PDU still to come, once the session has closed the connection."""
        pdus = []
        with contextlib.suppress(EOFError):
            while True:
                pdus.append(await self.receive())
        return pdus

    def send(self, pdu: Pdu) -> None:
        self.writer.write(encode(pdu))

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)


class ScriptedSmsc:
    def __init__(self) -> None:
        self._links: asyncio.Queue[Link] = asyncio.Queue()
        self._writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> "ScriptedSmsc":
        self._server = await asyncio.start_server(self._accepted, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info) -> None:
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        await self._links.put(Link(reader, writer))

    async def accept(self) -> Link:
        return await asyncio.wait_for(self._links.get(), WAIT)

    async def bound_session(self, *, inbox: Inbox | None = None, **options) -> tuple[SmppSession, Link]:
        """A session bound here: its bind read and answered OK."""
        opening = asyncio.create_task(open_session(self.port, inbox=inbox, **options))
        link = await self.accept()
        bind = await link.receive()
        link.send(bind.response(system_id="SCRIPTED"))
        return await opening, link


@contextlib.contextmanager
def listener_that_never_accepts(*, accept_queue_full: bool) -> Iterator[socket.socket]:
    """A listening socket nobody accepts from. While its accept queue has room the kernel completes handshakes
    (an SMSC connected but silent); once the queue is full it drops new SYNs (an SMSC that never answers)."""
    server = socket.socket()
    fillers = []
    try:
        server.bind(("127.0.0.1", 0))
        server.listen(0)  # an accept queue of one connection
        if accept_queue_full:
            filler = socket.create_connection(server.getsockname(), timeout=WAIT)
            fillers.append(filler)
        yield server
    finally:
        for filler in fillers:
            filler.close()
        server.close()


# --- open() -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bind_mode", "submit_status", "can_receive"),
    [
        ("transceiver", Status.ESME_ROK, True),
        ("transmitter", Status.ESME_ROK, False),
        ("receiver", Status.ESME_RINVBNDSTS, True),
    ],
)
def test_open_binds_in_the_configured_mode(smsc, bind_mode, submit_status, can_receive):
    async def scenario():
        inbox = Inbox()
        session = await open_session(smsc.port, bind_mode=bind_mode, inbox=inbox)
        answer = await (await session.submit(submit_sm()))
        injected = await asyncio.to_thread(smsc.inject_inbound, "263771234567", "12345", "hi")
        if injected:
            await inbox.next()
        await session.unbind()
        return answer.status, injected

    assert run(scenario()) == (submit_status, can_receive)
    assert smsc.stats()["binds"] == 1


@pytest.mark.parametrize(
    ("bind_mode", "command_id"),
    [
        ("transceiver", CommandId.BIND_TRANSCEIVER),
        ("transmitter", CommandId.BIND_TRANSMITTER),
        ("receiver", CommandId.BIND_RECEIVER),
    ],
)
def test_the_bind_pdu_carries_the_mode_the_credentials_and_smpp_3_4(bind_mode, command_id):
    async def scenario():
        async with ScriptedSmsc() as scripted:
            config = bind_config(scripted.port, bind_mode=bind_mode, system_type="SMS")
            opening = asyncio.create_task(SmppSession.open(config, on_deliver=Inbox()))
            link = await scripted.accept()
            bind = await link.receive()
            link.send(bind.response(system_id="SCRIPTED"))
            session = await opening
            session.abort()
            return bind

    bind = run(scenario())
    assert (bind.command_id, bind.sequence, bind.status) == (command_id, 1, 0)
    assert bind.fields == {
        "system_id": "tester",
        "password": "secret",
        "system_type": "SMS",
        "interface_version": 0x34,
        "addr_ton": 0,
        "addr_npi": 0,
        "address_range": "",
    }


def test_a_wrong_password_raises_bind_refused_and_closes_the_connection(smsc):
    smsc.configure(system_id="tester", password="right")
    made: list[SmppSession] = []

    class RecordedSession(SmppSession):
        def __init__(self, *args) -> None:
            super().__init__(*args)
            made.append(self)

    async def scenario():
        with pytest.raises(BindRefused) as refused:
            await open_session(smsc.port, session_class=RecordedSession)
        await asyncio.wait_for(made[0].closed, WAIT)
        return refused.value

    refused = run(scenario())
    assert (refused.status, str(refused)) == (Status.ESME_RINVPASWD, "The SMSC refused the bind: ESME_RINVPASWD")
    assert (len(made), made[0].is_open) == (1, False)
    assert smsc.stats()["binds"] == 0


def test_a_closed_port_raises_connection_refused():
    with socket.socket() as probe:  # a port free a moment ago: nothing listens on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(ConnectionRefusedError):
        run(open_session(port))


def test_an_smsc_that_never_answers_the_connect_raises_timeout_after_connect_timeout():
    with listener_that_never_accepts(accept_queue_full=True) as server:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            run(open_session(server.getsockname()[1], connect_timeout=0.3, response_timeout=5))
        elapsed = time.monotonic() - started

    assert 0.29 <= elapsed < 1.5


def test_an_smsc_that_never_answers_the_bind_raises_timeout_and_closes_the_connection():
    with listener_that_never_accepts(accept_queue_full=False) as server:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            run(open_session(server.getsockname()[1], connect_timeout=5, response_timeout=0.3))
        elapsed = time.monotonic() - started
        connection, _ = server.accept()
        with connection:
            connection.settimeout(WAIT)
            sent = b""
            while data := connection.recv(4096):  # until the session's end is closed
                sent += data

    assert 0.29 <= elapsed < 1.5
    assert decode(sent).command_id == CommandId.BIND_TRANSCEIVER


def test_a_connection_closed_before_the_bind_answer_raises_session_closed():
    async def scenario():
        async with ScriptedSmsc() as scripted:
            opening = asyncio.create_task(open_session(scripted.port))
            link = await scripted.accept()
            await link.receive()
            link.writer.close()
            with pytest.raises(SessionClosed):
                await opening

    run(scenario())


def test_the_session_turns_nagle_off_on_its_socket(smsc):
    # asyncio's TCP transports set TCP_NODELAY too: hand connection_made a socket with Nagle still on, so that
    # this shows the session's own doing.
    nodelay = (socket.IPPROTO_TCP, socket.TCP_NODELAY)

    async def scenario():
        with socket.create_server(("127.0.0.1", 0)) as server, socket.create_connection(server.getsockname()) as sock:
            sock.setsockopt(*nodelay, 0)
            before = sock.getsockopt(*nodelay)
            SmppSession(bind_config(0), Inbox()).connection_made(asyncio.Transport({"socket": sock}))
            after = sock.getsockopt(*nodelay)
        session = await open_session(smsc.port)
        bound = session._transport.get_extra_info("socket").getsockopt(*nodelay)
        await session.unbind()
        return before, after, bound

    assert run(scenario()) == (0, 1, 1)


# --- submit() -------------------------------------------------------------------------------------------------------


def test_submit_resolves_with_the_submit_sm_resp_and_the_smscs_message_id(smsc):
    async def scenario():
        session = await open_session(smsc.port)
        pdus = [submit_sm(text=f"n{n}".encode()) for n in range(3)]
        answers = [await (await session.submit(pdu)) for pdu in pdus]
        await session.unbind()
        return pdus, answers

    pdus, answers = run(scenario())
    assert [pdu.sequence for pdu in pdus] == [2, 3, 4]  # the bind took 1
    assert [(answer.command_id, answer.sequence, answer.status) for answer in answers] == [
        (CommandId.SUBMIT_SM_RESP, 2, Status.ESME_ROK),
        (CommandId.SUBMIT_SM_RESP, 3, Status.ESME_ROK),
        (CommandId.SUBMIT_SM_RESP, 4, Status.ESME_ROK),
    ]
    ids = [answer.fields["message_id"] for answer in answers]
    assert ids == [message["part_ids"][0] for message in smsc.messages()]
    first = int(ids[0], 16)
    assert ids == [f"{first:X}", f"{first + 1:X}", f"{first + 2:X}"]
    assert [message["text"] for message in smsc.messages()] == ["n0", "n1", "n2"]


def test_sequence_numbers_wrap_from_the_largest_back_to_one(smsc):
    async def scenario():
        session = await open_session(smsc.port)
        session._sequence = 0x7FFFFFFE
        answers = [await (await session.submit(submit_sm())) for _ in range(2)]
        await session.unbind()
        return answers

    assert [(answer.sequence, answer.status) for answer in run(scenario())] == [
        (0x7FFFFFFF, Status.ESME_ROK),
        (1, Status.ESME_ROK),
    ]


def test_the_submits_of_one_turn_of_the_event_loop_leave_in_one_write_at_its_end():
    async def scenario():
        async with ScriptedSmsc() as scripted:
            session, link = await scripted.bound_session(session_class=WriteCountingSession, window=10)
            writes_before = list(session.writes)
            answers = [await session.submit(submit_sm(text=b"hello %d" % number)) for number in range(10)]
            written_in_the_turn = list(session.writes)
            submits = [await link.receive() for _ in answers]
            for submit in submits:
                link.send(submit.response(message_id=f"id-{submit.sequence}"))
            responses = [await asyncio.wait_for(answer, WAIT) for answer in answers]
            session.abort()
            return writes_before, written_in_the_turn, session.writes, submits, responses

    writes_before, written_in_the_turn, writes, submits, responses = run(scenario())
    assert written_in_the_turn == writes_before  # queued, not written, while the turn lasts
    assert writes[len(writes_before) :] == [sum(len(encode(submit)) for submit in submits)]
    assert [submit.fields["short_message"] for submit in submits] == [b"hello %d" % number for number in range(10)]
    assert [response.fields["message_id"] for response in responses] == [f"id-{n}" for n in range(2, 12)]


def test_a_generic_nack_answers_the_submit_whose_sequence_it_carries():
    async def scenario():
        async with ScriptedSmsc() as scripted:
            session, link = await scripted.bound_session()
            answer = await session.submit(submit_sm())
            sent = await link.receive()
            link.send(Pdu(CommandId.GENERIC_NACK, sent.sequence, Status.ESME_RINVCMDLEN))
            nack = await asyncio.wait_for(answer, WAIT)
            in_use = session.window_in_use
            session.abort()
            return sent, nack, in_use

    sent, nack, in_use = run(scenario())
    assert (sent.command_id, sent.sequence) == (CommandId.SUBMIT_SM, 2)
    assert (nack.command_id, nack.sequence, nack.status) == (CommandId.GENERIC_NACK, 2, Status.ESME_RINVCMDLEN)
    assert in_use == 0


def test_a_field_smpp_cannot_carry_raises_value_error_and_frees_its_window_slot(smsc):
    async def scenario():
        session = await open_session(smsc.port, window=1)
        with pytest.raises(ValueError, match="destination_addr must be a C-string of at most 20 octets"):
            await session.submit(submit_sm(destination="2" * 21))
        in_use = session.window_in_use
        answer = await asyncio.wait_for(session.submit(submit_sm()), WAIT)  # the only slot is free again
        result = await answer
        await session.unbind()
        return in_use, result

    in_use, answer = run(scenario())
    assert (in_use, answer.status) == (0, Status.ESME_ROK)
    assert smsc.stats()["submit_sm"] == 1


# --- The window -----------------------------------------------------------------------------------------------------


def test_no_more_than_the_window_is_outstanding_and_answers_keep_their_order(smsc):
    smsc.configure(response_delay=0.3)

    async def scenario():
        session = await open_session(smsc.port, window=3)
        answers, in_use, answered_when_sent, arrived = [], [], [], []
        for index in range(6):
            answer = await session.submit(submit_sm(text=f"n{index}".encode()))
            in_use.append(session.window_in_use)
            answered_when_sent.append([earlier.done() for earlier in answers])
            answer.add_done_callback(lambda _, index=index: arrived.append(index))
            answers.append(answer)
        results = await asyncio.gather(*answers)
        await session.unbind()
        return results, in_use, answered_when_sent, arrived

    results, in_use, answered_when_sent, arrived = run(scenario())
    assert in_use[:3] == [1, 2, 3]
    assert max(in_use) == 3
    # The first three went out at once; each later one only once the answer three before it had come.
    assert answered_when_sent[:3] == [[], [False], [False, False]]
    assert [answered_when_sent[index][index - 3] for index in (3, 4, 5)] == [True, True, True]
    assert arrived == [0, 1, 2, 3, 4, 5]
    assert [result.sequence for result in results] == [2, 3, 4, 5, 6, 7]
    ids = [int(result.fields["message_id"], 16) for result in results]
    assert ids == list(range(ids[0], ids[0] + 6))


# --- The pace and throttling ----------------------------------------------------------------------------------------


def test_a_pace_of_50_tps_spaces_26_submits_over_half_a_second(smsc):
    async def scenario():
        session = await open_session(smsc.port, tps=50, window=30)
        started = time.monotonic()
        answers = [await session.submit(submit_sm()) for _ in range(26)]
        elapsed = time.monotonic() - started
        results = await asyncio.gather(*answers)
        await session.unbind()
        return elapsed, results

    elapsed, results = run(scenario())
    assert 0.49 <= elapsed < 1.5  # 25 gaps of 20 ms; unpaced, 26 submits take a few milliseconds
    assert [result.status for result in results] == [Status.ESME_ROK] * 26


def test_without_a_tps_submits_are_not_paced(smsc):
    async def scenario():
        session = await open_session(smsc.port, tps=0, window=10)
        started = time.monotonic()
        answers = [await session.submit(submit_sm()) for _ in range(200)]
        results = await asyncio.gather(*answers)
        elapsed = time.monotonic() - started
        await session.unbind()
        return elapsed, results

    elapsed, results = run(scenario())
    assert elapsed < 1.0  # at even 200 tps this would take a second
    assert [result.status for result in results] == [Status.ESME_ROK] * 200


def test_without_a_tps_the_pace_never_suspends():
    pace = Pace(0)
    for _ in range(3):
        waiting = pace.wait()
        with pytest.raises(StopIteration):  # returned at its first step: no sleep at all
            waiting.send(None)


def test_throttled_pauses_double_up_to_five_seconds_and_accepted_resets_them():
    pace = Pace(0)
    assert [pace.throttled() for _ in range(7)] == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    pace.accepted()
    assert [pace.throttled() for _ in range(2)] == [0.2, 0.4]


def test_a_throttled_pause_holds_the_next_wait_back():
    async def scenario():
        pace = Pace(1000)
        await pace.wait()
        pause = pace.throttled()
        started = time.monotonic()
        await pace.wait()
        return pause, time.monotonic() - started

    pause, elapsed = run(scenario())
    assert pause == 0.2
    assert 0.19 <= elapsed < 0.5


def test_a_throttled_pause_holds_the_sessions_next_submit_back(smsc):
    async def scenario():
        session = await open_session(smsc.port)
        await (await session.submit(submit_sm()))
        session.pace.throttled()
        started = time.monotonic()
        answer = await session.submit(submit_sm())
        elapsed = time.monotonic() - started
        await answer
        await session.unbind()
        return elapsed

    assert 0.19 <= run(scenario()) < 0.6


def test_a_burst_over_the_smscs_rate_gets_throttling_answers(smsc):
    smsc.configure(throttle_tps=5)

    async def scenario():
        session = await open_session(smsc.port, window=20)
        if time.monotonic() % 1 > 0.7:  # the fake counts per whole second: keep the burst within one
            await asyncio.sleep(1.01 - time.monotonic() % 1)
        answers = [await session.submit(submit_sm()) for _ in range(12)]
        results = await asyncio.gather(*answers)
        await session.unbind()
        return [result.status for result in results]

    statuses = run(scenario())
    assert statuses == [Status.ESME_ROK] * 5 + [Status.ESME_RTHROTTLED] * 7
    assert Status.ESME_RTHROTTLED in THROTTLING
    assert smsc.stats()["throttled"] == 7


def test_throttling_answers_are_told_apart_from_temporary_failures():
    assert {Status.ESME_RTHROTTLED, Status.ESME_RMSGQFUL} == THROTTLING
    assert not THROTTLING & TEMPORARY
    assert Status.ESME_ROK not in THROTTLING | TEMPORARY
    assert {Status.ESME_RSYSERR, Status.ESME_RSUBMITFAIL} <= TEMPORARY
    assert Status.ESME_RINVDSTADR not in TEMPORARY  # a refusal for good


# --- Answers that do not come ---------------------------------------------------------------------------------------


def test_an_unanswered_submit_fails_with_response_timeout_and_frees_its_window_slot(smsc):
    smsc.configure(response_delay=2.0)

    async def scenario():
        session = await open_session(smsc.port, window=1, response_timeout=0.4)
        answer = await session.submit(submit_sm())
        started = time.monotonic()
        with pytest.raises(ResponseTimeout, match=r"^No answer from the SMSC in 0.4 s\.$"):
            await answer
        elapsed = time.monotonic() - started
        in_use = session.window_in_use
        await asyncio.wait_for(session.submit(submit_sm()), WAIT)  # the only slot is free again
        sent_again = session.window_in_use
        session.abort()
        return elapsed, in_use, sent_again

    elapsed, in_use, sent_again = run(scenario())
    assert 0.39 <= elapsed < 1.0
    assert (in_use, sent_again) == (0, 1)


def test_a_dropped_link_fails_the_outstanding_submits_and_closes_the_session(smsc):
    smsc.configure(response_delay=5.0)

    async def scenario():
        session = await open_session(smsc.port, window=3)
        answers = [await session.submit(submit_sm()) for _ in range(3)]
        waiting = asyncio.create_task(session.submit(submit_sm()))  # for a slot of the full window
        await eventually(lambda: smsc.stats()["submit_sm"] == 3)
        await asyncio.to_thread(smsc.drop_connections)
        await asyncio.wait_for(session.closed, WAIT)
        results = await asyncio.gather(*answers, waiting, return_exceptions=True)
        started = time.monotonic()
        with pytest.raises(SessionClosed, match="The link to the SMSC is closed"):
            await session.submit(submit_sm())
        return results, time.monotonic() - started, session.is_open, session.window_in_use

    results, elapsed, is_open, in_use = run(scenario())
    assert [(type(result), str(result)) for result in results] == [
        (SessionClosed, "The link to the SMSC dropped before the answer."),
    ] * 3 + [(SessionClosed, "The link to the SMSC is closed.")]
    assert elapsed < 0.1
    assert (is_open, in_use) == (False, 0)
    assert smsc.stats()["submit_sm"] == 3


# --- enquire_link -----------------------------------------------------------------------------------------------------


def test_a_quiet_link_gets_enquire_link_and_stays_open_while_answered(smsc):
    async def scenario():
        session = await open_session(
            smsc.port, session_class=SpiedSession, enquire_link_interval=0.2, response_timeout=0.4
        )
        await asyncio.sleep(0.75)
        is_open = session.is_open
        await session.unbind()
        return session.received, is_open

    received, is_open = run(scenario())
    names = [pdu.name for pdu in received]
    assert names[0] == "bind_transceiver_resp"
    enquiries = names[1 : names.index("unbind_resp")]
    assert set(enquiries) == {"enquire_link_resp"}
    assert 2 <= len(enquiries) <= 4  # every 0.2 s of quiet, give or take the watchdog's 0.1 s tick
    assert is_open is True


def test_an_unanswered_enquire_link_drops_the_link(smsc):
    smsc.configure(answer_enquire_link=False)

    async def scenario():
        session = await open_session(
            smsc.port, session_class=SpiedSession, enquire_link_interval=0.2, response_timeout=0.4
        )
        started = time.monotonic()
        await asyncio.wait_for(session.closed, WAIT)
        return time.monotonic() - started, session.received, session.is_open

    elapsed, received, is_open = run(scenario())
    assert 0.55 <= elapsed < 1.2  # 0.2 s of quiet (+ up to a 0.1 s tick), then 0.4 s without an answer
    assert [pdu.name for pdu in received] == ["bind_transceiver_resp"]
    assert is_open is False


# --- The SMSC's requests --------------------------------------------------------------------------------------------


def test_a_deliver_sm_reaches_on_deliver_and_is_answered_by_respond_only(smsc):
    async def scenario():
        inbox = Inbox()
        session = await open_session(smsc.port, inbox=inbox)
        assert await asyncio.to_thread(smsc.inject_inbound, "+263771234567", "12345", "STOP")
        given_session, pdu = await inbox.next()
        await (await session.submit(submit_sm()))  # answered after any deliver_sm_resp sent before it
        acked_before = smsc.stats()["receipts_acked"]
        session.respond(pdu.response())
        await eventually(lambda: smsc.stats()["receipts_acked"] == 1)
        await session.unbind()
        return given_session is session, pdu, acked_before

    same_session, pdu, acked_before = run(scenario())
    assert same_session is True
    assert (pdu.command_id, pdu.sequence) == (CommandId.DELIVER_SM, 1)
    assert (pdu.fields["source_addr"], pdu.fields["destination_addr"], pdu.fields["short_message"]) == (
        "263771234567",
        "12345",
        b"STOP",
    )
    assert acked_before == 0


def test_a_data_sm_reaches_on_deliver():
    async def scenario():
        async with ScriptedSmsc() as scripted:
            inbox = Inbox()
            session, link = await scripted.bound_session(inbox=inbox)
            link.send(Pdu(CommandId.DATA_SM, 5, fields={"source_addr": "263771234567", "destination_addr": "12345"}))
            _, pdu = await inbox.next()
            session.respond(pdu.response(message_id="abc"))
            answer = await link.receive()
            session.abort()
            return pdu, answer

    pdu, answer = run(scenario())
    assert (pdu.command_id, pdu.sequence, pdu.fields["source_addr"]) == (CommandId.DATA_SM, 5, "263771234567")
    assert (answer.command_id, answer.sequence, answer.status, answer.fields) == (
        CommandId.DATA_SM_RESP,
        5,
        Status.ESME_ROK,
        {"message_id": "abc"},
    )


def test_an_enquire_link_from_the_smsc_is_answered():
    async def scenario():
        async with ScriptedSmsc() as scripted:
            session, link = await scripted.bound_session()
            link.send(Pdu(CommandId.ENQUIRE_LINK, 42))
            answer = await link.receive()
            is_open = session.is_open
            session.abort()
            return answer, is_open

    answer, is_open = run(scenario())
    assert (answer.command_id, answer.sequence, answer.status) == (CommandId.ENQUIRE_LINK_RESP, 42, Status.ESME_ROK)
    assert is_open is True


def test_an_unbind_from_the_smsc_is_answered_and_closes_the_session():
    async def scenario():
        async with ScriptedSmsc() as scripted:
            session, link = await scripted.bound_session()
            link.send(Pdu(CommandId.UNBIND, 9))
            remaining = await link.remaining()
            await asyncio.wait_for(session.closed, WAIT)
            return remaining, session.is_open

    remaining, is_open = run(scenario())
    assert [(pdu.command_id, pdu.sequence, pdu.status) for pdu in remaining] == [
        (CommandId.UNBIND_RESP, 9, Status.ESME_ROK)
    ]
    assert is_open is False


def test_an_unknown_command_from_the_smsc_gets_generic_nack_invalid_command_id():
    async def scenario():
        async with ScriptedSmsc() as scripted:
            session, link = await scripted.bound_session()
            link.send(Pdu(0x00000007, 11, fields={"body": b"replace_sm\0"}))  # replace_sm: not ours to answer
            answer = await link.receive()
            is_open = session.is_open
            session.abort()
            return answer, is_open

    answer, is_open = run(scenario())
    assert (answer.command_id, answer.sequence, answer.status) == (CommandId.GENERIC_NACK, 11, Status.ESME_RINVCMDID)
    assert is_open is True


def test_a_malformed_pdu_gets_generic_nack_with_its_sequence_and_the_link_stays_up():
    async def scenario():
        async with ScriptedSmsc() as scripted:
            inbox = Inbox()
            session, link = await scripted.bound_session(inbox=inbox)
            body = b"ab\0"  # service_type, then nothing: the body ends before source_addr_ton
            link.send_raw(struct.pack(">IIII", 16 + len(body), CommandId.DELIVER_SM, 0, 77) + body)
            nack = await link.receive()
            link.send(Pdu(CommandId.ENQUIRE_LINK, 78))
            still_answered = await link.receive()
            session.abort()
            return nack, still_answered, inbox.queue.qsize()

    nack, still_answered, delivered = run(scenario())
    assert (nack.command_id, nack.sequence, nack.status) == (CommandId.GENERIC_NACK, 77, Status.ESME_RINVCMDLEN)
    assert (still_answered.command_id, still_answered.sequence) == (CommandId.ENQUIRE_LINK_RESP, 78)
    assert delivered == 0


def test_broken_framing_from_the_smsc_drops_the_link():
    async def scenario():
        async with ScriptedSmsc() as scripted:
            session, link = await scripted.bound_session()
            answer = await session.submit(submit_sm())
            await link.receive()
            link.send_raw(struct.pack(">IIII", 8, CommandId.SUBMIT_SM_RESP, 0, 2))  # command_length below 16
            remaining = await link.remaining()
            await asyncio.wait_for(session.closed, WAIT)
            with pytest.raises(SessionClosed):
                await answer
            return remaining, session.is_open, session.window_in_use

    assert run(scenario()) == ([], False, 0)


# --- unbind() -------------------------------------------------------------------------------------------------------


def test_unbind_sends_unbind_waits_for_its_answer_and_closes():
    async def scenario():
        async with ScriptedSmsc() as scripted:
            session, link = await scripted.bound_session(response_timeout=5)
            started = time.monotonic()
            unbinding = asyncio.create_task(session.unbind())
            request = await link.receive()
            await asyncio.sleep(0.05)
            waited_for_answer = not unbinding.done()
            link.send(request.response())
            await asyncio.wait_for(unbinding, WAIT)
            elapsed = time.monotonic() - started
            remaining = await link.remaining()
            return request, waited_for_answer, elapsed, remaining, session.is_open

    request, waited_for_answer, elapsed, remaining, is_open = run(scenario())
    assert (request.command_id, request.sequence) == (CommandId.UNBIND, 2)
    assert waited_for_answer is True
    assert elapsed < 1.0  # closed on the answer, not after the 5 s response_timeout
    assert (remaining, is_open) == ([], False)


def test_unbind_without_an_answer_closes_after_the_response_timeout():
    async def scenario():
        async with ScriptedSmsc() as scripted:
            session, link = await scripted.bound_session(response_timeout=0.3)
            started = time.monotonic()
            await session.unbind()
            elapsed = time.monotonic() - started
            remaining = await link.remaining()
            return elapsed, [pdu.command_id for pdu in remaining], session.is_open

    elapsed, remaining, is_open = run(scenario())
    assert 0.29 <= elapsed < 1.0
    assert (remaining, is_open) == ([CommandId.UNBIND], False)


def test_unbind_on_a_closed_session_does_nothing(smsc):
    async def scenario():
        session = await open_session(smsc.port, session_class=SpiedSession)
        await session.unbind()
        received = len(session.received)
        started = time.monotonic()
        await session.unbind()
        return received, len(session.received), time.monotonic() - started, session.is_open

    first, second, elapsed, is_open = run(scenario())
    assert (first, second) == (2, 2)  # bind_transceiver_resp and unbind_resp, nothing after
    assert elapsed < 0.1
    assert is_open is False


# --- Cancellation ---------------------------------------------------------------------------------------------------


def test_a_submit_cancelled_while_waiting_for_the_pace_gives_its_window_slot_back(smsc):
    async def scenario():
        session = await open_session(smsc.port, window=1)
        session.pace.throttled()  # the next send waits 0.2 s, holding the window's only slot
        waiting = asyncio.create_task(session.submit(submit_sm()))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
        in_use = session.window_in_use
        answer = await asyncio.wait_for(session.submit(submit_sm()), WAIT)
        result = await answer
        await session.unbind()
        return waiting.cancelled(), in_use, result.status

    assert run(scenario()) == (True, 0, Status.ESME_ROK)
    assert smsc.stats()["submit_sm"] == 1
