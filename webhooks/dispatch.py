"""The dispatcher: delivers the due events of one origin (scheme://host:port), at most WEBHOOK_MAX_IN_FLIGHT at
once, for at most WEBHOOK_DISPATCH_SECONDS per task, and records every attempt.

One dispatcher per origin at a time (the flag of outbox.dispatch_flag, taken by whoever queues it), so one slow
receiver holds one worker process and its own slots, never the others'. It claims due deliveries in batches
(SELECT … FOR UPDATE SKIP LOCKED, then a lease in next_attempt_at, as campaign batches do), POSTs them from a pool
of threads — the database is used from the task's own thread only — and records the answers in batches.
"""

import contextlib
import logging
import random
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import timedelta

import httpx
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from smsplatform.cache import REDIS_UNREACHABLE

from .addresses import Target, UnsafeUrl, url_resolve
from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .outbox import FLAG_TTL, dispatch_flag
from .payloads import event_body
from .services import endpoint_get, endpoint_secrets
from .signing import signature_header

logger = logging.getLogger(__name__)

USER_AGENT = "smsplatform-webhooks/1.0"
# A receiver's answer is read up to this much (its status is what counts): a huge body costs nothing.
ANSWER_READ_LIMIT = 64 * 1024
# Answers are recorded once this many are waiting, or the oldest has waited this long (seconds).
RECORD_AFTER_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Answer:
    attempted_at: object
    status_code: int | None
    duration_ms: int
    error: str

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def webhooks_deliver(*, origin: str) -> bool:
    """Deliver the origin's due events for up to WEBHOOK_DISPATCH_SECONDS. Returns True when some are still due
    (the caller queues the next run, keeping the flag), False when none is (the flag is handed back)."""
    deadline = time.monotonic() + settings.WEBHOOK_DISPATCH_SECONDS
    flag = dispatch_flag(origin)
    # One run at a time per origin, whatever was queued: the in-flight limit is the run's.
    run_lock = f"{flag}:run"
    try:
        cache.touch(flag, FLAG_TTL)
        if not cache.add(run_lock, 1, timeout=_lease().total_seconds()):
            return False  # another run has the origin, and hands the flag back (or queues the next run) itself
    except REDIS_UNREACHABLE:
        pass  # deliver all the same: the claim's SKIP LOCKED still keeps each event to one attempt at a time
    try:
        return _deliver(origin=origin, flag=flag, deadline=deadline)
    finally:
        with contextlib.suppress(REDIS_UNREACHABLE):
            cache.delete(run_lock)


def _deliver(*, origin: str, flag: str, deadline: float) -> bool:
    while True:
        _run(origin=origin, deadline=deadline)
        due = _due(origin).exists()
        if due and time.monotonic() >= deadline:
            with contextlib.suppress(REDIS_UNREACHABLE):
                cache.touch(flag, FLAG_TTL)
            return True
        # Hand the flag back, then look once more: an event committed before a kick that found the flag still
        # held would otherwise wait for the sweep.
        try:
            cache.delete(flag)
            if not (due or _due(origin).exists()) or not cache.add(flag, 1, timeout=FLAG_TTL):
                return False
        except REDIS_UNREACHABLE:
            return False  # the sweep kicks the origin once Redis answers


def _due(origin: str):
    return WebhookDelivery.objects.filter(
        origin=origin, state=WebhookDelivery.State.PENDING, next_attempt_at__lte=timezone.now()
    )


def _lease() -> timedelta:
    """How long a claimed delivery is its attempt's: the POST, and the wait before its answer is recorded."""
    return timedelta(seconds=settings.WEBHOOK_TIMEOUT * 2 + RECORD_AFTER_SECONDS + 30)


def _run(*, origin: str, deadline: float) -> None:
    """POST the origin's due deliveries, keeping WEBHOOK_MAX_IN_FLIGHT in flight: a slot that frees takes the next
    delivery at once from those claimed ahead (one claim per window, not per answer), and answers are recorded in
    batches while the others are in flight."""
    limit = settings.WEBHOOK_MAX_IN_FLIGHT
    in_flight: dict[Future, WebhookDelivery] = {}
    ready: deque[tuple[WebhookDelivery, bytes, dict]] = deque()  # claimed and signed, not yet POSTed
    answered: list[tuple[WebhookDelivery, Answer]] = []
    oldest_answer = 0.0
    target: Target | UnsafeUrl | None = None
    secrets: dict = {}  # of the run: a rotated-out secret still signs for WEBHOOK_SECRET_OVERLAP
    http = httpx.Client(
        timeout=settings.WEBHOOK_TIMEOUT,
        follow_redirects=False,
        limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
        headers={"user-agent": USER_AGENT},
    )
    with http, ThreadPoolExecutor(max_workers=limit, thread_name_prefix="webhook") as pool:
        while True:
            # At most a window waits claimed: its lease outlasts the wait for a free slot and the POST.
            if time.monotonic() < deadline and len(ready) < limit // 2 + 1:
                claimed = _claim(origin=origin, limit=2 * limit - len(in_flight) - len(ready))
                if claimed and target is None:
                    # Resolved and checked once per run, then every POST goes to the address checked.
                    try:
                        target = url_resolve(claimed[0].url)
                    except UnsafeUrl as exc:
                        target = exc
                ready.extend(_signed(claimed, secrets))
            while ready and len(in_flight) < limit:
                delivery, body, headers = ready.popleft()
                in_flight[pool.submit(_post, http, target, delivery.url, body, headers)] = delivery
            if not in_flight:
                break
            finished, _ = wait(in_flight, timeout=RECORD_AFTER_SECONDS, return_when=FIRST_COMPLETED)
            if finished and not answered:
                oldest_answer = time.monotonic()
            answered.extend((in_flight.pop(future), future.result()) for future in finished)
            while ready and len(in_flight) < limit:  # the freed slots first, then the database
                delivery, body, headers = ready.popleft()
                in_flight[pool.submit(_post, http, target, delivery.url, body, headers)] = delivery
            if answered and (
                len(answered) >= limit or not in_flight or time.monotonic() - oldest_answer >= RECORD_AFTER_SECONDS
            ):
                _record(answered)
                answered = []
        if answered:
            _record(answered)


def _claim(*, origin: str, limit: int) -> list[WebhookDelivery]:
    """Due deliveries of the origin, oldest first, leased to this run (their attempt counted)."""
    now = timezone.now()
    with transaction.atomic():
        deliveries = list(
            _due(origin)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("message", "inbound")
            .order_by("next_attempt_at")[:limit]
        )
        if deliveries:
            WebhookDelivery.objects.filter(pk__in=[delivery.pk for delivery in deliveries]).update(
                attempts=F("attempts") + 1, next_attempt_at=now + _lease()
            )
    for delivery in deliveries:
        delivery.attempts += 1
    return deliveries


def _signed(deliveries: list[WebhookDelivery], secrets: dict) -> list[tuple[WebhookDelivery, bytes, dict]]:
    """Each delivery with its body and headers, signed now with its account's secrets (looked up once a run into
    `secrets`; made for an account that never had an endpoint: a callback_url's first event)."""
    accounts = {delivery.account_id for delivery in deliveries} - set(secrets)
    if accounts:
        secrets.update(endpoint_secrets(account_ids=accounts))
        for account_id in accounts - set(secrets):
            secrets[account_id] = [endpoint_get(account_id=account_id).secret]
    timestamp = int(time.time())
    signed = []
    for delivery in deliveries:
        body = event_body(delivery)
        signature = signature_header(
            secrets_=secrets[delivery.account_id], webhook_id=delivery.webhook_id, timestamp=timestamp, body=body
        )
        headers = {
            "content-type": "application/json",
            "webhook-id": delivery.webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature,
        }
        signed.append((delivery, body, headers))
    return signed


def _post(http: httpx.Client, target: Target | UnsafeUrl, url: str, body: bytes, headers: dict) -> Answer:
    """One POST (in a pool thread: no database here) to the address checked, asking for the URL's host."""
    attempted_at, started = timezone.now(), time.monotonic()
    status_code, error = None, ""
    if isinstance(target, UnsafeUrl):
        error = str(target)
    else:
        try:
            with http.stream(
                "POST",
                target.url(url),
                content=body,
                headers={**headers, "host": target.netloc},
                extensions={"sni_hostname": target.host},
            ) as response:
                status_code = response.status_code
                read = 0
                for chunk in response.iter_bytes():
                    read += len(chunk)
                    if read >= ANSWER_READ_LIMIT or time.monotonic() - started > settings.WEBHOOK_TIMEOUT:
                        break
        except httpx.TimeoutException:
            error = f"No answer within {settings.WEBHOOK_TIMEOUT:g} s."
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:255] if str(exc) else type(exc).__name__
        if status_code is not None and not 200 <= status_code < 300:
            error = f"HTTP {status_code}" + (" (redirects are not followed)" if 300 <= status_code < 400 else "")
    return Answer(attempted_at, status_code, round((time.monotonic() - started) * 1000), error)


def _retry_at(*, attempts: int, now):
    """When to try again after `attempts` failed attempts, or None when they are all spent."""
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    if attempts > len(schedule):
        return None
    jitter = settings.WEBHOOK_RETRY_JITTER
    return now + timedelta(seconds=schedule[attempts - 1] * random.uniform(1 - jitter, 1 + jitter))


def _record(answered: list[tuple[WebhookDelivery, Answer]]) -> None:
    """Each attempt logged; 2xx succeeded; 410 Gone failed, and disables the account's endpoint; anything else
    retried on the schedule, failed once it is spent."""
    now = timezone.now()
    finished = {WebhookDelivery.State.SUCCEEDED: [], WebhookDelivery.State.FAILED: []}
    retried, gone = [], []
    for delivery, answer in answered:
        if answer.ok:
            finished[WebhookDelivery.State.SUCCEEDED].append(delivery.pk)
        elif answer.status_code == 410:
            finished[WebhookDelivery.State.FAILED].append(delivery.pk)
            gone.append(delivery)
        elif (retry_at := _retry_at(attempts=delivery.attempts, now=now)) is None:
            finished[WebhookDelivery.State.FAILED].append(delivery.pk)
        else:
            delivery.next_attempt_at = retry_at
            retried.append(delivery)
    with transaction.atomic():
        WebhookAttempt.objects.bulk_create(
            WebhookAttempt(
                delivery=delivery,
                attempted_at=answer.attempted_at,
                status_code=answer.status_code,
                duration_ms=answer.duration_ms,
                error=answer.error[:255],
            )
            for delivery, answer in answered
        )
        # One UPDATE per outcome: bulk_update's CASE per row cost the dispatcher more CPU than the POSTs did.
        for state, ids in finished.items():
            if ids:
                WebhookDelivery.objects.filter(pk__in=ids).update(state=state, next_attempt_at=None)
        if retried:  # each its own jittered time
            WebhookDelivery.objects.bulk_update(retried, ["next_attempt_at"])
        for delivery in gone:
            if delivery.endpoint_id is not None:
                _endpoint_gone(delivery=delivery, now=now)


def _endpoint_gone(*, delivery: WebhookDelivery, now) -> None:
    """The receiver says the URL is gone for good: no more events to it (until the account sets a URL again), and
    those waiting fail now rather than retry for a day."""
    disabled = WebhookEndpoint.objects.filter(pk=delivery.endpoint_id, url=delivery.url, disabled_at__isnull=True)
    reason = f"{delivery.url} answered 410 Gone."
    if disabled.update(disabled_at=now, disabled_reason=reason):
        logger.warning("Webhook endpoint %s disabled: %s", delivery.endpoint_id, reason)
    WebhookDelivery.objects.filter(
        endpoint_id=delivery.endpoint_id, url=delivery.url, state=WebhookDelivery.State.PENDING
    ).update(state=WebhookDelivery.State.FAILED, next_attempt_at=None)
