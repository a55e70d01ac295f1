"""The bind process: every SMPP bind of the platform in one asyncio process (`manage.py smppd`).

For each SMPP gateway it runs `binds` bind workers. A worker first takes its lease in Redis, so that of
two bind processes (HA) only one holds each bind; the other takes it over within LEASE_TTL when the
first dies. While bound, a worker reads hand-offs from the gateway's streams (handoff.py), has the
store load the messages that are still due (an entry for an earlier attempt, or of a campaign that
stopped, is skipped), submits their parts within the bind's window and pace, and turns the answers
into outcomes. One writer records outcomes in batches through the store, and only then acknowledges
the entries and answers the requests waiting for them; another, on its own connection, stores receipts
and inbound messages before their deliver_sm is answered, each after the outcomes that came before it.

Crash guarantees (docs/gateways.md): an entry stays pending until its outcome is recorded, so a dead
process loses nothing; another claims its entries. A message whose submit_sm left but whose answer
was not recorded is sent again: at most the window of each bind plus the batch being recorded.
"""

import asyncio
import concurrent.futures
import contextlib
import functools
import json
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from ..base import InboundSms, OutboundSms, Receipt, SubmitResult
from .handoff import (
    BIND_STATE_TTL,
    BULK,
    GROUP,
    PRIORITY,
    REPLY_TTL,
    Handoff,
    RecordedState,
    bind_state_key,
    instance_key,
    lease_key,
    reply_encode,
    reply_key,
    stream_key,
)
from .pdu import CommandId, Pdu, Status, status_name
from .receipts import inbound_from_pdu, is_receipt, normalise_id, receipt_from_pdu
from .session import TEMPORARY, THROTTLING, BindRefused, ResponseTimeout, SessionClosed, SmppSession

if TYPE_CHECKING:
    from ..backends.smpp import SmppGateway

logger = logging.getLogger(__name__)

LEASE_TTL = 6.0  # a dead process's binds are taken over within this
INSTANCE_TTL = 10.0  # a process not seen for this long is dead: its pending entries are claimed
HEARTBEAT = 2.0  # leases, the instance key and the binds' state are refreshed this often
CLAIM_IDLE = 60.0  # any entry pending this long without an outcome is claimed (a stuck worker)
RECLAIM_INTERVAL = 5.0
# Campaign messages waiting for the window are checked again this often: a campaign paused or cancelled
# meanwhile sends no more of them (behind a slow or TPS-limited SMSC they could wait many seconds).
RECHECK_INTERVAL = 0.5
RECONNECT_FIRST, RECONNECT_MAX = 1.0, 30.0
BIND_REFUSED_WAIT = 60.0  # wrong credentials do not get better by retrying every second
READ_AHEAD = 200  # messages loaded and waiting for the window, per bind
WRITE_BATCH = 500
# Answered but not yet recorded outcomes at most: the binds take no new message beyond it. What a killed process
# sends again is its windows plus these, so this bounds the duplicates of a crash even while the database is slow.
UNRECORDED_MAX = 500
THROTTLED_MAX = 20  # throttled answers to one message before it is given back for a later attempt
STOP_DRAIN = 5.0  # seconds a stopping worker waits for the answers in its window

_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class Store(Protocol):
    """The database side of the bind process. Called from one thread; may raise (the call is retried)."""

    def load(self, handoffs: list[Handoff], *, give_back: bool = True) -> list[OutboundSms]:
        """The messages to submit now, each in the attempt of its hand-off; the others are skipped (and those of a
        campaign that stopped given back, unless `give_back` is False)."""

    def sending(self, messages: list[OutboundSms], *, give_back: bool = True) -> list[OutboundSms]:
        """Those of these campaign messages, as handed over, whose campaign is still sending; the others are given
        back, unless `give_back` is False."""

    def give_back(self, messages: list[tuple[str, int]]) -> None:
        """Hand (message id, attempt) back to their campaign, which resumes or refunds them."""

    def record(self, outcomes: list[tuple[str, OutboundSms, SubmitResult]]) -> dict[str, RecordedState]:
        """Record (gateway alias, message, result) outcomes; returns the state of each message the record changed."""

    def store_receipts(self, receipts: list[Receipt]) -> None: ...

    def store_inbound(self, messages: list[InboundSms]) -> None: ...


@dataclass(eq=False)
class Flight:
    """A message on its way through one bind: its parts' PDUs and answers."""

    handoff: Handoff
    sms: OutboundSms
    pdus: list[Pdu]
    part_ids: list[str | None] = field(default_factory=list)
    throttled: int = 0
    done: bool = False


class BindDaemon:
    def __init__(
        self, *, gateways: list["SmppGateway"], store: Store, redis_url: str, handoff_lease: float, instance: str = ""
    ):
        self.store = store
        self.handoff_lease = handoff_lease
        self.instance = instance or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
        self.workers = [BindWorker(self, gateway, number) for gateway in gateways for number in range(gateway.binds)]
        self.stopping = asyncio.Event()
        # Reads (loading hand-offs), outcomes, and receipts with inbound messages on three connections, so that
        # they overlap (the database works on two of them at once on two cores).
        self._db_read = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="smppd-db-read")
        self._db_write = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="smppd-db-write")
        self._db_deliveries = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="smppd-db-deliveries")
        self._outcomes: list[tuple[str, Handoff, OutboundSms, SubmitResult]] = []
        # Each with the number of outcomes that had come before it: those are recorded before it is stored.
        self._deliveries: list[tuple[int, SmppSession, Pdu, Receipt | InboundSms]] = []
        # Entries with an outcome not yet acknowledged: a worker re-reading its pending entries skips them.
        self.unacknowledged: set[str] = set()
        self._unrecorded = 0
        self._outcomes_came = self._outcomes_recorded = 0
        self._room = asyncio.Event()
        self._room.set()
        self._outcome_work, self._delivery_work, self._recorded = asyncio.Event(), asyncio.Event(), asyncio.Event()
        self._closing = False

    async def streams_create(self, alias: str) -> None:
        """A gateway's hand-off streams and their consumer group, unless they exist."""
        for lane in (PRIORITY, BULK):
            with contextlib.suppress(ResponseError):  # BUSYGROUP: made by an earlier run
                # From 0: entries handed over before the group existed are read too.
                await self.redis.xgroup_create(stream_key(alias, lane), GROUP, id="0", mkstream=True)

    async def run(self) -> None:
        """Hold the binds until stop(); then drain, record what is left and let the binds go."""
        for alias in {worker.gateway.alias for worker in self.workers}:
            await self.streams_create(alias)
        writers = [asyncio.create_task(self._outcome_loop()), asyncio.create_task(self._delivery_loop())]
        heartbeat = asyncio.create_task(self._heartbeat_loop())
        logger.info("smppd %s: %d bind(s) of %d gateway(s)", self.instance, len(self.workers), len(
            {worker.gateway.alias for worker in self.workers}))  # fmt: skip
        await asyncio.gather(*(worker.run() for worker in self.workers))
        heartbeat.cancel()
        self._closing = True  # the writers record what the workers gave back, then end
        self._outcome_work.set()
        self._delivery_work.set()
        await asyncio.gather(*writers)
        await self.redis.delete(instance_key(self.instance))
        await self.redis.aclose()
        for executor in (self._db_read, self._db_write, self._db_deliveries):
            executor.shutdown(wait=True)
        logger.info("smppd %s: stopped; every outcome recorded", self.instance)

    def stop(self) -> None:
        self.stopping.set()

    async def sleep(self, seconds: float) -> None:
        """Sleep, but wake up when the daemon stops."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)

    async def db_read(self, function: Callable, *args):
        return await asyncio.get_running_loop().run_in_executor(self._db_read, function, *args)

    async def db_write(self, function: Callable, *args):
        return await asyncio.get_running_loop().run_in_executor(self._db_write, function, *args)

    # --- Outcomes; receipts and inbound messages: two writers --------------------------------------------

    def outcome(self, alias: str, flight: Flight, result: SubmitResult) -> None:
        flight.done = True
        self.unacknowledged.add(flight.handoff.entry_id)
        self._outcomes.append((alias, flight.handoff, flight.sms, result))
        self._outcomes_came += 1
        self._unrecorded += 1
        if self._unrecorded >= UNRECORDED_MAX:
            self._room.clear()
        self._outcome_work.set()

    async def room_to_record(self) -> None:
        """Wait while UNRECORDED_MAX outcomes wait for the writer."""
        await self._room.wait()

    def delivered(self, session: SmppSession, pdu: Pdu, item: Receipt | InboundSms) -> None:
        self._deliveries.append((self._outcomes_came, session, pdu, item))
        self._delivery_work.set()

    async def _outcome_loop(self) -> None:
        while True:
            await self._outcome_work.wait()
            self._outcome_work.clear()
            # Bounded batches: one statement's size (and the process's memory) stays the same at any rate.
            while self._outcomes:
                batch, self._outcomes = self._outcomes[:WRITE_BATCH], self._outcomes[WRITE_BATCH:]
                await self._record(batch)
            if self._closing:
                return

    async def _delivery_loop(self) -> None:
        """Receipts and inbound messages, each once the outcomes that came before it are recorded: a receipt
        comes after its message's submit_sm_resp, so its part is there to be found (not kept as early)."""
        while True:
            await self._delivery_work.wait()
            self._delivery_work.clear()
            while self._deliveries:
                batch, self._deliveries = self._deliveries[:WRITE_BATCH], self._deliveries[WRITE_BATCH:]
                while self._outcomes_recorded < batch[-1][0]:
                    self._recorded.clear()
                    await self._recorded.wait()
                await self._store_deliveries([delivery for _, *delivery in batch])
            if self._closing:
                return

    async def _record(self, batch: list[tuple[str, Handoff, OutboundSms, SubmitResult]]) -> None:
        while True:  # an outcome is never dropped: its entry stays pending until it is recorded
            try:
                recorded = await self.db_write(
                    self.store.record, [(alias, sms, result) for alias, _, sms, result in batch]
                )
                break
            except Exception:
                logger.exception("Recording %d outcome(s) failed; trying again", len(batch))
                await asyncio.sleep(1)
        self._unrecorded -= len(batch)
        self._outcomes_recorded += len(batch)
        self._recorded.set()
        if self._unrecorded < UNRECORDED_MAX:
            self._room.set()
        await self.acknowledge([handoff for _, handoff, _, _ in batch], replies=[
            (handoff, result, recorded.get(sms.message_id)) for _, handoff, sms, result in batch if handoff.reply
        ])  # fmt: skip

    async def acknowledge(
        self, handoffs: list[Handoff], *, replies: list[tuple[Handoff, SubmitResult, RecordedState | None]] = ()
    ) -> None:
        """Done with these entries: acknowledge and delete them, and answer the requests that wait."""
        by_stream: dict[str, list[str]] = {}
        for handoff in handoffs:
            by_stream.setdefault(handoff.stream, []).append(handoff.entry_id)
        while True:
            try:
                async with self.redis.pipeline(transaction=False) as pipeline:
                    for stream, ids in by_stream.items():
                        pipeline.xack(stream, GROUP, *ids)
                        pipeline.xdel(stream, *ids)
                    for handoff, result, recorded in replies:
                        pipeline.lpush(reply_key(handoff.message_id), reply_encode(result, recorded))
                        pipeline.expire(reply_key(handoff.message_id), REPLY_TTL)
                    await pipeline.execute()
                self.unacknowledged.difference_update(handoff.entry_id for handoff in handoffs)
                return
            except RedisError:
                logger.exception("Acknowledging %d entries failed; trying again", len(handoffs))
                await asyncio.sleep(1)

    async def _store_deliveries(self, batch: list[tuple[SmppSession, Pdu, Receipt | InboundSms]]) -> None:
        receipts = [item for _, _, item in batch if isinstance(item, Receipt)]
        inbound = [item for _, _, item in batch if isinstance(item, InboundSms)]
        status = Status.ESME_ROK
        loop = asyncio.get_running_loop()
        try:
            if receipts:
                await loop.run_in_executor(self._db_deliveries, self.store.store_receipts, receipts)
            if inbound:
                await loop.run_in_executor(self._db_deliveries, self.store.store_inbound, inbound)
        except Exception:
            logger.exception("Storing %d receipt(s) and inbound message(s) failed", len(batch))
            status = Status.ESME_RX_T_APPN  # not stored: the SMSC delivers them again later
        for session, pdu, _ in batch:
            session.respond(pdu.response(status))

    # --- Leases and liveness -------------------------------------------------------------------------

    async def lease_acquire(self, key: str) -> bool:
        return bool(await self.redis.set(key, self.instance, nx=True, px=int(LEASE_TTL * 1000)))

    async def lease_release(self, key: str) -> None:
        with contextlib.suppress(RedisError):
            await self.redis.eval(_RELEASE, 1, key, self.instance)

    async def _heartbeat_loop(self) -> None:
        while True:
            try:
                await self.redis.set(instance_key(self.instance), 1, px=int(INSTANCE_TTL * 1000))
            except RedisError:
                logger.exception("smppd heartbeat failed")
            for worker in self.workers:
                try:
                    await worker.heartbeat()
                except RedisError:
                    worker.lease_unrenewed()
            await asyncio.sleep(HEARTBEAT)

    async def is_alive(self, instance: str) -> bool:
        return instance == self.instance or bool(await self.redis.exists(instance_key(instance)))


class BindWorker:
    """One bind of one gateway: lease, connect and bind, read hand-offs, submit, give back on the way out."""

    def __init__(self, daemon: BindDaemon, gateway: "SmppGateway", number: int):
        self.daemon, self.gateway, self.number = daemon, gateway, number
        self.alias = gateway.alias
        self.lease = lease_key(self.alias, number)
        self.consumer = f"{daemon.instance}:{self.alias}:{number}"
        self.streams = [stream_key(self.alias, PRIORITY), stream_key(self.alias, BULK)]
        self.session: SmppSession | None = None
        self.holds_lease = False
        self.lease_renewed_at = 0.0
        self.lease_lost = asyncio.Event()
        self._resends: set[asyncio.Task] = set()
        self._reference = random.randrange(256)
        self._flights: set[Flight] = set()  # submitted, not all answered
        self._ready: asyncio.Queue[Flight] = asyncio.Queue(maxsize=READ_AHEAD)
        self._waiting: set[Flight] = set()  # in the ready queue

    async def run(self) -> None:
        delay = RECONNECT_FIRST
        while not self.daemon.stopping.is_set():
            if not self.holds_lease:
                self.holds_lease = await self._try(self.daemon.lease_acquire(self.lease))
                if not self.holds_lease:
                    await self.daemon.sleep(1.0)  # another process holds this bind
                    continue
                self.lease_lost.clear()
                self.lease_renewed_at = time.monotonic()
            try:
                self.session = await SmppSession.open(self.gateway.bind_config(), on_deliver=self._on_deliver)
            except BindRefused as error:
                logger.error("%s bind %d: %s; trying again in %d s", self.alias, self.number, error, BIND_REFUSED_WAIT)
                await self.daemon.sleep(BIND_REFUSED_WAIT)
                continue
            except (OSError, TimeoutError) as error:
                logger.warning("%s bind %d: cannot reach the SMSC (%s); again in %.0f s", self.alias, self.number,
                               error or type(error).__name__, delay)  # fmt: skip
                await self.daemon.sleep(delay * random.uniform(0.5, 1.5))  # jitter: binds do not reconnect in step
                delay = min(delay * 2, RECONNECT_MAX)
                continue
            delay = RECONNECT_FIRST
            logger.info("%s bind %d: bound to %s:%s", self.alias, self.number, self.gateway.host, self.gateway.port)
            await self._serve()
        if self.holds_lease:
            await self.daemon.lease_release(self.lease)
        await self._try(self.daemon.redis.delete(bind_state_key(self.alias, self.number)))

    async def _try(self, awaitable):
        try:
            return await awaitable
        except RedisError:
            logger.exception("%s bind %d: Redis", self.alias, self.number)
            return None

    async def heartbeat(self) -> None:
        """Renew the lease (or learn it is lost) and publish the bind's state."""
        if not self.holds_lease:
            return
        if not await self.daemon.redis.eval(_RENEW, 1, self.lease, self.daemon.instance, int(LEASE_TTL * 1000)):
            self._lose_lease("another process holds it now")
            return
        self.lease_renewed_at = time.monotonic()
        session = self.session
        state = {
            "instance": self.daemon.instance,
            "bound": session is not None and session.is_open,
            "window_in_use": session.window_in_use if session is not None else 0,
        }
        await self.daemon.redis.set(
            bind_state_key(self.alias, self.number), json.dumps(state), px=int(BIND_STATE_TTL * 1000)
        )

    def lease_unrenewed(self) -> None:
        """Redis did not answer the renewal: once the lease may have expired, another process may bind."""
        if self.holds_lease and time.monotonic() - self.lease_renewed_at >= LEASE_TTL:
            self._lose_lease("it could not be renewed in time")

    def _lose_lease(self, why: str) -> None:
        logger.error("%s bind %d: lost its lease (%s); unbinding", self.alias, self.number, why)
        self.holds_lease = False
        self.lease_lost.set()

    # --- While bound ---------------------------------------------------------------------------------

    async def _serve(self) -> None:
        session = self.session
        await self._try(self.heartbeat())
        tasks = [asyncio.create_task(task) for task in (self._read(), self._submit(), self._recheck())]
        ends = [
            asyncio.ensure_future(session.closed),
            asyncio.create_task(self.lease_lost.wait()),
            asyncio.create_task(self.daemon.stopping.wait()),
        ]
        await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks + ends[1:]:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if session.is_open:  # stopping, or the lease went elsewhere: let the answers in the window come
            deadline = time.monotonic() + STOP_DRAIN
            while self._flights and session.is_open and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await session.unbind()
        else:
            logger.warning("%s bind %d: the link to the SMSC dropped", self.alias, self.number)
        await asyncio.sleep(0)  # the answers' callbacks of the closed session run first
        self._give_back()
        self.session = None
        await self._try(self.heartbeat())

    def _give_back(self) -> None:
        """Messages read but not (wholly) submitted when the bind ended: recorded as retry, for their next
        attempt (on another gateway of their route, if any); in-flight ones end as their answers fail."""
        flights = list(self._flights)
        while not self._ready.empty():
            flights.append(self._ready.get_nowait())
        self._flights.clear()
        self._waiting.clear()
        for flight in flights:
            if not flight.done:
                self.daemon.outcome(self.alias, flight, _unsent())

    async def _read(self) -> None:
        """Hand-offs into the ready queue: this consumer's own pending entries first (left by an earlier
        bind), then new ones, and now and then those of a dead process."""
        redis = self.daemon.redis
        pending = True
        next_reclaim = 0.0
        while True:
            try:
                if time.monotonic() >= next_reclaim:
                    await self._load(await self._reclaim())
                    next_reclaim = time.monotonic() + RECLAIM_INTERVAL
                room = max(1, READ_AHEAD - self._ready.qsize())
                since = "0" if pending else ">"
                answer = await redis.xreadgroup(GROUP, self.consumer, dict.fromkeys(self.streams, since), count=room,
                                                block=None if pending else 1000)  # fmt: skip
                handoffs = [
                    Handoff.from_entry(stream, entry_id, fields)
                    for stream, entries in (answer or [])
                    for entry_id, fields in entries
                    if fields  # a pending entry deleted meanwhile comes back empty
                ]
                await self._load(handoffs, first_read=not pending)
                pending = pending and bool(handoffs)
            except ResponseError as error:
                # NOGROUP, "no such key": Redis restarted without its data, and the streams went with it.
                logger.warning("%s bind %d: reading hand-offs failed (%s): making the streams again if they are gone",
                               self.alias, self.number, error)  # fmt: skip
                await self._try(self.daemon.streams_create(self.alias))
                await asyncio.sleep(1)
            except RedisError:
                logger.exception("%s bind %d: reading hand-offs failed", self.alias, self.number)
                await asyncio.sleep(1)

    async def _reclaim(self) -> list[Handoff]:
        """Claim the entries of dead processes' consumers (and any entry stuck for CLAIM_IDLE)."""
        redis, claimed = self.daemon.redis, []
        for stream in self.streams:
            for consumer in await redis.xinfo_consumers(stream, GROUP):
                name = consumer["name"]
                if name == self.consumer or await self.daemon.is_alive(name.split(":", 1)[0]):
                    continue
                if not consumer["pending"]:
                    await redis.xgroup_delconsumer(stream, GROUP, name)
                    continue
                stale = await redis.xpending_range(stream, GROUP, "-", "+", READ_AHEAD, consumername=name)
                # min idle 1 s: of two workers claiming at once, the second finds the entry freshly claimed.
                entries = await redis.xclaim(stream, GROUP, self.consumer, 1000, [row["message_id"] for row in stale])
                claimed += [Handoff.from_entry(stream, entry_id, fields) for entry_id, fields in entries if fields]
            _, entries, _ = await redis.xautoclaim(
                stream, GROUP, self.consumer, int(CLAIM_IDLE * 1000), count=READ_AHEAD
            )
            claimed += [Handoff.from_entry(stream, entry_id, fields) for entry_id, fields in entries if fields]
        if claimed:
            logger.warning("%s bind %d: claimed %d hand-off(s) left by another process", self.alias, self.number,
                           len(claimed))  # fmt: skip
        return claimed

    async def _due(
        self, handoffs: list[Handoff], *, as_handed: list[Handoff], give_back: bool = True
    ) -> dict[tuple[str, int], OutboundSms]:
        """The messages of these hand-offs still due, by (message id, attempt). Those `as_handed` (nothing else can
        have claimed them) are due as handed over: a single send at once, a campaign's while its campaign is
        sending (one small query for them all); the others are read from the database."""
        store = self.daemon.store
        campaigns = [handoff.sms for handoff in as_handed if handoff.sms.campaign_id]
        due = {(h.sms.message_id, h.sms.attempt): h.sms for h in as_handed if not h.sms.campaign_id}
        if campaigns:
            sending = await self.daemon.db_read(functools.partial(store.sending, give_back=give_back), campaigns)
            due.update(((sms.message_id, sms.attempt), sms) for sms in sending)
        handed = {id(handoff) for handoff in as_handed}
        unsure = [handoff for handoff in handoffs if id(handoff) not in handed]
        if unsure:
            loaded = await self.daemon.db_read(functools.partial(store.load, give_back=give_back), unsure)
            due.update(((sms.message_id, sms.attempt), sms) for sms in loaded)
        return due

    async def _load(self, handoffs: list[Handoff], *, first_read: bool = False) -> None:
        """Queue the hand-offs whose message is still due. One read for the first time within half its lease is
        due as handed over; the others are read from the database."""
        # An entry re-read while its outcome waits to be acknowledged is done already.
        handoffs = [handoff for handoff in handoffs if handoff.entry_id not in self.daemon.unacknowledged]
        lease = self.daemon.handoff_lease
        as_handed = [handoff for handoff in handoffs if first_read and handoff.current(lease) is not None]
        while True:
            try:
                due = await self._due(handoffs, as_handed=as_handed)
                break
            except Exception:
                logger.exception("%s bind %d: loading %d message(s) failed", self.alias, self.number, len(handoffs))
                await asyncio.sleep(1)
        skipped = []
        for handoff in handoffs:  # priority entries come first in each read
            sms = due.pop((handoff.message_id, handoff.attempt), None)
            if sms is None:
                skipped.append(handoff)
                continue
            try:
                pdus = self.gateway.submit_pdus(sms, reference=self._next_reference())
            except ValueError as error:  # text not in its encoding, an address SMPP cannot carry
                flight = Flight(handoff, sms, [])
                self._finish(flight, SubmitResult.rejected(f"Cannot be sent over SMPP: {error}", "smpp:encoding"))
                continue
            flight = Flight(handoff, sms, pdus)
            self._waiting.add(flight)
            await self._ready.put(flight)
        if skipped:
            await self.daemon.acknowledge(skipped)

    async def _recheck(self) -> None:
        """Drop the waiting campaign messages that are no longer due (the store gives them back)."""
        bulk = stream_key(self.alias, BULK)
        while True:
            await asyncio.sleep(RECHECK_INTERVAL)
            waiting = [flight for flight in self._waiting if flight.handoff.stream == bulk]
            if not waiting:
                continue
            handoffs = [flight.handoff for flight in waiting]
            lease = self.daemon.handoff_lease
            try:
                # Read only: a message the submitter took meanwhile is on its way to the SMSC, and giving it back
                # here would have its campaign refund a message that was sent.
                due = await self._due(
                    handoffs, as_handed=[handoff for handoff in handoffs if handoff.current(lease)], give_back=False
                )
            except Exception:
                logger.exception("%s bind %d: checking waiting messages failed", self.alias, self.number)
                continue
            stopped = [
                flight
                for flight in waiting
                if flight in self._waiting and (flight.handoff.message_id, flight.handoff.attempt) not in due
            ]
            for flight in stopped:  # before any await: the submitter skips them from now on
                flight.done = True
                self._waiting.discard(flight)
            if stopped:
                handoffs = [flight.handoff for flight in stopped]
                try:
                    await self.daemon.db_write(
                        self.daemon.store.give_back, [(handoff.message_id, handoff.attempt) for handoff in handoffs]
                    )
                except Exception:  # their lease runs out instead, and the campaign's sweep takes them then
                    logger.exception(
                        "%s bind %d: giving back %d message(s) failed", self.alias, self.number, len(stopped)
                    )
                await self.daemon.acknowledge(handoffs)

    def _next_reference(self) -> int:
        self._reference = (self._reference + 1) % 256
        return self._reference

    async def _submit(self) -> None:
        while True:
            await self.daemon.room_to_record()
            flight = await self._ready.get()
            self._waiting.discard(flight)
            if flight.done:  # its campaign stopped while it waited
                continue
            flight.part_ids = [None] * len(flight.pdus)
            self._flights.add(flight)
            for index in range(len(flight.pdus)):
                if flight.done:  # an earlier part failed for good
                    break
                await self._send_part(flight, index)

    async def _send_part(self, flight: Flight, index: int) -> None:
        try:
            answer = await self.session.submit(flight.pdus[index])
        except SessionClosed:
            return  # given back when the bind ends
        except ValueError as error:  # a field SMPP cannot carry
            self._finish(flight, SubmitResult.rejected(f"Cannot be sent over SMPP: {error}", "smpp:encoding"))
            return
        answer.add_done_callback(lambda future: self._answered(flight, index, future))

    def _answered(self, flight: Flight, index: int, future: asyncio.Future) -> None:
        if flight.done:
            return
        try:
            pdu = future.result()
        except (SessionClosed, ResponseTimeout) as error:
            self._finish(flight, SubmitResult.unknown(f"No answer from the SMSC ({error}): it may have been sent."))
            return
        status = pdu.status
        if status == Status.ESME_ROK and pdu.command_id != CommandId.GENERIC_NACK:
            self.session.pace.accepted()
            flight.part_ids[index] = normalise_id(str(pdu.fields.get("message_id", "")), self.gateway.message_id_format)
            if all(part_id is not None for part_id in flight.part_ids):
                self._finish(flight, SubmitResult.accepted(*flight.part_ids))
            return
        name = status_name(status)
        if status in THROTTLING and flight.throttled < THROTTLED_MAX:
            flight.throttled += 1
            pause = self.session.pace.throttled()
            logger.info("%s bind %d: %s; slowing down for %.1f s", self.alias, self.number, name, pause)
            resend = asyncio.ensure_future(self._send_part(flight, index))  # after the pause, in the pace
            self._resends.add(resend)
            resend.add_done_callback(self._resends.discard)
        elif status in THROTTLING or status in TEMPORARY:
            self._finish(flight, SubmitResult.retry(f"The SMSC failed for now ({name}).", f"smpp:{name}"))
        else:
            self._finish(flight, SubmitResult.rejected(f"The SMSC refused the message ({name}).", f"smpp:{name}"))

    def _finish(self, flight: Flight, result: SubmitResult) -> None:
        self._flights.discard(flight)
        self.daemon.outcome(self.alias, flight, result)

    def _on_deliver(self, session: SmppSession, pdu: Pdu) -> None:
        """A deliver_sm or data_sm: a receipt, or a message from a phone. Answered once stored."""
        receipt = receipt_from_pdu(pdu, gateway=self.alias, id_format=self.gateway.receipt_id_format)
        if receipt is not None:
            # After the answers read before it (their callbacks are queued already): a receipt read with its own
            # message's submit_sm_resp is then stored after that message's outcome.
            asyncio.get_running_loop().call_soon(self.daemon.delivered, session, pdu, receipt)
        elif is_receipt(pdu):  # a receipt we cannot read: answered, so the SMSC does not send it for ever
            logger.warning("%s: unreadable receipt dropped: %r", self.alias, pdu.fields.get("short_message", b"")[:80])
            session.respond(pdu.response())
        else:
            self.daemon.delivered(session, pdu, inbound_from_pdu(pdu, gateway=self.alias))


def _unsent() -> SubmitResult:
    return SubmitResult.retry("The bind to the SMSC ended before the message was sent.", "gateway:unbound")
