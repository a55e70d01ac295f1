"""SMPP 3.4 to an operator's SMSC. The binds live in the bind process (`manage.py smppd`), never here.

    SMS_GATEWAYS = {"econet": {
        "BACKEND": "gateways.backends.smpp.SmppGateway",
        "OPTIONS": {"host": "smsc.example.co.zw", "port": 2775, "system_id": "acme", "password": "secret",
                    "binds": 2, "window": 10, "tps": 50},
    }}

In web and Celery processes `send_messages()` hands the messages to the bind process through Redis
(gateways/smpp/handoff.py) and, for a request that waits, waits at most `timeout` for the outcome the
bind process recorded. The bind process builds its binds from the same options.
"""

import json
import time
from collections.abc import Sequence

import redis
from django.conf import settings

from smsplatform.cache import REDIS_UNREACHABLE, GuardedRedis, LuaScript

from ..base import BaseGateway, OutboundSms, SubmitResult
from ..smpp.handoff import (
    BULK,
    PRIORITY,
    bind_state_key,
    entry_fields,
    reply_decode,
    reply_key,
    stream_key,
)
from ..smpp.pdu import ESM_UDHI, NPI_ISDN, NPI_UNKNOWN, TON_ALPHANUMERIC, TON_INTERNATIONAL, CommandId, Pdu
from ..smpp.receipts import ID_FORMATS
from ..smpp.session import BIND_COMMANDS, BindConfig
from ..smpp.text import sms_parts

BIND_STATE_REFRESH = 1.0  # seconds this process trusts what it read of the binds' state
ROOM_POLL = 0.05
# Adds each entry of ARGV[1], a JSON array of field lists (name, value, name, value …), to the stream KEYS[1]: a batch
# is one command and one argument, where a pipeline of one XADD a message spent a third of a campaign worker's CPU
# in redis-py packing each field. Atomic too: a batch is handed over whole or not at all.
_XADD_EACH = LuaScript("""
for _, fields in ipairs(cjson.decode(ARGV[1])) do
    redis.call('XADD', KEYS[1], '*', unpack(fields))
end
""")

_clients: dict[tuple[str, bool], redis.Redis] = {}
_bind_states: dict[str, tuple[float, list[dict]]] = {}


def _redis(*, waiting: bool = False) -> redis.Redis:
    """The hand-off's Redis client; `waiting`: the one for BLPOP, whose socket outlives the longest wait."""
    client = _clients.get((settings.REDIS_URL, waiting))
    if client is None:
        client = _clients[settings.REDIS_URL, waiting] = GuardedRedis.from_url(
            settings.REDIS_URL,
            socket_connect_timeout=settings.REDIS_TIMEOUT,
            socket_timeout=settings.SMS_SUBMIT_TIMEOUT + 1 if waiting else settings.REDIS_TIMEOUT,
        )
    return client


class SmppGateway(BaseGateway):
    bind_process = True

    def __init__(
        self,
        *,
        alias: str,
        host: str,
        system_id: str,
        password: str,
        port: int = 2775,
        system_type: str = "",
        bind_mode: str = "transceiver",
        binds: int = 1,
        window: int = 10,
        tps: float = 0,
        enquire_link_interval: float = 30,
        response_timeout: float = 10,
        message_id_format: str = "text",
        receipt_id_format: str = "text",
        gsm7_packed: bool = False,
        service_type: str = "",
        max_backlog: int = 5000,
        **options,
    ):
        super().__init__(alias=alias, **options)
        _check(bool(host) and isinstance(host, str), "host must be the SMSC's host name or address")
        _check(_whole(port) and 0 < port < 65536, "port must be 1 to 65535")
        _check(isinstance(system_id, str) and 0 < len(system_id) <= 15, "system_id must be 1 to 15 characters")
        _check(isinstance(password, str) and len(password) <= 8, "password must be at most 8 characters (SMPP 3.4)")
        _check(isinstance(system_type, str) and len(system_type) <= 12, "system_type must be at most 12 characters")
        _check(isinstance(service_type, str) and len(service_type) <= 5, "service_type must be at most 5 characters")
        _check(bind_mode in BIND_COMMANDS, f"bind_mode must be one of {', '.join(BIND_COMMANDS)}")
        _check(_whole(binds) and 1 <= binds <= 32, "binds must be 1 to 32")
        _check(_whole(window) and 1 <= window <= 1000, "window must be 1 to 1000")
        _check(isinstance(tps, int | float) and tps >= 0, "tps must be 0 (no limit) or more")
        for name, value in (("enquire_link_interval", enquire_link_interval), ("response_timeout", response_timeout)):
            _check(isinstance(value, int | float) and value > 0, f"{name} must be a positive number of seconds")
        _check(message_id_format in ID_FORMATS, f"message_id_format must be one of {', '.join(ID_FORMATS)}")
        _check(receipt_id_format in ID_FORMATS, f"receipt_id_format must be one of {', '.join(ID_FORMATS)}")
        _check(_whole(max_backlog) and max_backlog >= 1, "max_backlog must be 1 or more")
        self.host, self.port, self.system_id, self.password = host, port, system_id, password
        self.system_type, self.bind_mode, self.binds, self.window, self.tps = system_type, bind_mode, binds, window, tps
        self.enquire_link_interval, self.response_timeout = enquire_link_interval, response_timeout
        self.message_id_format, self.receipt_id_format = message_id_format, receipt_id_format
        self.gsm7_packed, self.service_type, self.max_backlog = gsm7_packed, service_type, max_backlog

    # --- In web and Celery processes ---------------------------------------------------------------------

    def send_messages(
        self, messages: Sequence[OutboundSms], *, timeout: float, wait: bool = True
    ) -> list[SubmitResult]:
        """Hand the messages to the bind process; with `wait`, wait for their outcomes until `timeout`.

        Without Redis nothing can be handed over: every message is to be tried again (the next gateway of its
        route at once, else the retry or the sweeper). Once handed over, a message is the bind process's: a
        wait that Redis cuts short leaves it `pending`, and the bind process records its outcome.
        """
        if not messages:
            return []
        deadline = time.monotonic() + timeout
        try:
            if not any(state.get("bound") for state in self.bind_states()):
                return [SubmitResult.retry("No bind to the SMSC is up.", "gateway:unbound")] * len(messages)
            self._hand_over(messages, deadline=deadline, wait=wait)
        except REDIS_UNREACHABLE:  # the way to the bind process (logged once per outage, by smsplatform.cache)
            return [SubmitResult.retry("The gateway cannot be reached for now.", "gateway:handoff")] * len(messages)
        results = [SubmitResult.pending()] * len(messages)
        if not wait:
            return results
        client = _redis(waiting=True)
        for index, sms in enumerate(messages):
            left = deadline - time.monotonic()
            if left < 0.01:  # BLPOP's 0 would wait for ever
                break
            try:
                reply = client.blpop([reply_key(sms.message_id)], timeout=left)
            except REDIS_UNREACHABLE:
                break
            if reply is not None:
                results[index] = reply_decode(reply[1])
        return results

    def _hand_over(self, messages: Sequence[OutboundSms], *, deadline: float, wait: bool) -> None:
        client = _redis()
        if not wait:
            self._wait_for_room(client, deadline)
        handed_at = time.time()
        entries = [
            [item for field in entry_fields(sms, reply=wait, handed_at=handed_at).items() for item in field]
            for sms in messages
        ]
        stream = stream_key(self.alias, PRIORITY if wait else BULK)
        client.run_script(_XADD_EACH, [stream], [json.dumps(entries)])

    def _wait_for_room(self, client: redis.Redis, deadline: float) -> None:
        """Campaign batches wait while the bulk lane holds max_backlog entries: the queue stays a few seconds
        long, so that pause and cancel act soon and a lease outlives the wait."""
        stream = stream_key(self.alias, BULK)
        while client.xlen(stream) >= self.max_backlog and time.monotonic() < deadline:
            time.sleep(ROOM_POLL)

    def bind_states(self, *, fresh: bool = False) -> list[dict]:
        """What each bind last published (an empty dict for a bind nobody holds), read at most once a second."""
        read_at, states = _bind_states.get(self.alias, (0.0, []))
        if fresh or time.monotonic() - read_at >= BIND_STATE_REFRESH:
            raw = _redis().mget([bind_state_key(self.alias, number) for number in range(self.binds)])
            states = [json.loads(value) if value else {} for value in raw]
            _bind_states[self.alias] = (time.monotonic(), states)
        return states

    def state(self) -> dict:
        try:
            states = self.bind_states(fresh=True)
            backlog = sum(_redis().xlen(stream_key(self.alias, lane)) for lane in (PRIORITY, BULK))
        except redis.RedisError as error:
            return {"available": False, "error": f"Redis: {error}"}
        bound = [state for state in states if state.get("bound")]
        return {
            "available": bool(bound),
            "binds": {"configured": self.binds, "bound": len(bound)},
            "window": {"size": self.window * self.binds, "in_use": sum(state["window_in_use"] for state in bound)},
            "tps": self.tps,
            "backlog": backlog,
        }

    # --- In the bind process -------------------------------------------------------------------------

    def bind_config(self) -> BindConfig:
        return BindConfig(
            host=self.host,
            port=self.port,
            system_id=self.system_id,
            password=self.password,
            system_type=self.system_type,
            bind_mode=self.bind_mode,
            window=self.window,
            tps=self.tps,
            enquire_link_interval=self.enquire_link_interval,
            response_timeout=self.response_timeout,
        )

    def submit_pdus(self, sms: OutboundSms, *, reference: int) -> list[Pdu]:
        """The submit_sm of each part of the message, in order (`reference` ties concatenated parts)."""
        data_coding, payloads = sms_parts(sms.text, sms.encoding, reference=reference, gsm7_packed=self.gsm7_packed)
        numeric = sms.sender.removeprefix("+").isdigit()
        fields = {
            "service_type": self.service_type,
            # Alphanumeric names (TON 5, NPI 0), numbers in international form (TON 1, NPI 1).
            "source_addr_ton": TON_INTERNATIONAL if numeric else TON_ALPHANUMERIC,
            "source_addr_npi": NPI_ISDN if numeric else NPI_UNKNOWN,
            "source_addr": sms.sender.removeprefix("+"),
            "dest_addr_ton": TON_INTERNATIONAL,
            "dest_addr_npi": NPI_ISDN,
            "destination_addr": sms.recipient.removeprefix("+"),
            "esm_class": ESM_UDHI if len(payloads) > 1 else 0,
            "registered_delivery": 1,
            "data_coding": data_coding,
        }
        return [Pdu(CommandId.SUBMIT_SM, 0, fields={**fields, "short_message": payload}) for payload in payloads]


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check(condition: bool, problem: str) -> None:
    if not condition:
        raise ValueError(f"SmppGateway: {problem}.")
