"""A gateway that sends nothing: the default of `make run` and the tests.

Like Django's locmem e-mail backend it keeps what it was asked to send in a
module-level `outbox` that tests read (and the test suite empties before each
test). Its options make it accept, reject, fail for now, or be slow, and it
reports delivery (`delivered`) `delivery_delay` seconds after accepting, through
the same Celery task that applies the receipts of HTTP providers.
"""

import contextlib
import json
import time
import uuid
from collections import deque
from collections.abc import Sequence
from functools import partial

import redis

from smsplatform.cache import REDIS_UNREACHABLE, redis_outage

from ..base import BaseGateway, OutboundSms, Receipt, ReceiptStatus, SubmitResult
from ..reports import receipts_apply_later

# Bounded: a long-running `make run` must not grow without end.
outbox: deque[OutboundSms] = deque(maxlen=10_000)
# With `outbox_url`, also this Redis list: what every process (each Celery worker) was asked to send.
SHARED_OUTBOX_KEY = "fake-gateway:outbox"

MODES = ("accept", "reject", "fail")


class FakeGateway(BaseGateway):
    def __init__(
        self,
        *,
        alias: str,
        mode: str = "accept",
        latency: float = 0.0,
        delivery_delay: float | None = 1.0,
        delivery_status: str = ReceiptStatus.DELIVERED,
        outbox_url: str | None = None,
        **options,
    ):
        super().__init__(alias=alias, **options)
        if mode not in MODES:
            raise ValueError(f"FakeGateway mode must be one of {MODES}, not {mode!r}.")
        self.mode = mode
        self.latency = latency
        self.delivery_delay = delivery_delay  # None: no delivery reports
        self.delivery_status = ReceiptStatus(delivery_status)
        self.shared_outbox = redis.Redis.from_url(outbox_url) if outbox_url else None

    def send_messages(
        self, messages: Sequence[OutboundSms], *, timeout: float, wait: bool = True
    ) -> list[SubmitResult]:
        if self.latency:
            time.sleep(min(self.latency, timeout))
            if self.latency > timeout:
                return [SubmitResult.retry("Timed out waiting for the gateway.", "gateway:timeout") for _ in messages]
        results = []
        for message in messages:
            outbox.append(message)
            results.append(self._answer())
        if self.shared_outbox is not None and messages:
            self.shared_outbox.rpush(
                SHARED_OUTBOX_KEY, *(json.dumps([message.message_id, message.recipient]) for message in messages)
            )
        if self.delivery_delay is not None:
            receipts = [
                Receipt(gateway=self.alias, part_id=part_id, status=self.delivery_status)
                for result in results
                for part_id in result.part_ids
            ]
            # Without Redis the reports are lost (the messages stay `sent`), not the acceptance: the messages
            # were taken, and a retry would send them twice.
            if receipts:
                with contextlib.suppress(REDIS_UNREACHABLE):
                    redis_outage.guard_publish(partial(receipts_apply_later, receipts, delay=self.delivery_delay))
        return results

    def _answer(self) -> SubmitResult:
        if self.mode == "reject":
            return SubmitResult.rejected("Rejected by the fake gateway.", "fake:rejected")
        if self.mode == "fail":
            return SubmitResult.retry("The fake gateway is unavailable.", "fake:unavailable")
        return SubmitResult.accepted(f"fake-{uuid.uuid4().hex}")
