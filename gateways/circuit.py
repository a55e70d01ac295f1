"""A circuit breaker per gateway: one that keeps failing is skipped for a while, by every process.

Each process counts a gateway's consecutive failures itself, so a success costs no I/O; at
SMS_CIRCUIT_FAILURES in a row it opens the circuit in the shared cache (Redis in production) for
SMS_CIRCUIT_OPEN_SECONDS, and every process skips the gateway until it closes again by expiring.
Processes read the open circuits through a local copy at most SMS_CIRCUIT_REFRESH seconds old.
"""

import logging
import time

from django.conf import settings
from django.core.cache import cache

from smsplatform.cache import REDIS_UNREACHABLE

logger = logging.getLogger(__name__)

_consecutive_failures: dict[str, int] = {}
_open: tuple[float, frozenset[str]] = (0.0, frozenset())


def _key(alias: str) -> str:
    return f"circuit:open:{alias}"


def circuit_success(alias: str) -> None:
    _consecutive_failures.pop(alias, None)


def circuit_failure(alias: str) -> None:
    """Count a failure (a retry or an unknown outcome); the last one of a run opens the circuit."""
    failures = _consecutive_failures.get(alias, 0) + 1
    if failures < settings.SMS_CIRCUIT_FAILURES:
        _consecutive_failures[alias] = failures
        return
    _consecutive_failures.pop(alias, None)
    # The breaker is an optimisation: without the cache the gateway stays in use.
    try:
        cache.set(_key(alias), 1, timeout=settings.SMS_CIRCUIT_OPEN_SECONDS)
    except REDIS_UNREACHABLE:  # logged once per outage, by smsplatform.cache
        return
    except Exception:
        logger.exception("Could not open the circuit of gateway %s", alias)
        return
    logger.warning(
        "Gateway %s failed %d times in a row: skipped for %d s", alias, failures, settings.SMS_CIRCUIT_OPEN_SECONDS
    )
    global _open
    _open = (0.0, frozenset())  # read it back at once


def circuits_open() -> frozenset[str]:
    """The aliases whose circuit is open now, as this process last read them."""
    global _open
    read_at, aliases = _open
    now = time.monotonic()
    if now - read_at < settings.SMS_CIRCUIT_REFRESH:
        return aliases
    try:
        found = cache.get_many([_key(alias) for alias in settings.SMS_GATEWAYS])
        aliases = frozenset(key.removeprefix("circuit:open:") for key in found)
    except REDIS_UNREACHABLE:  # logged once per outage, by smsplatform.cache: every circuit counts as closed
        aliases = frozenset()
    except Exception:
        logger.exception("Could not read the gateways' circuits: treating them as closed")
        aliases = frozenset()
    _open = (now, aliases)
    return aliases


def circuit_is_open(alias: str) -> bool:
    return alias in circuits_open()


def circuits_forget() -> None:
    """Drop this process's copy of the open circuits and its failure counts: the next read asks the cache."""
    global _open
    _open = (0.0, frozenset())
    _consecutive_failures.clear()


def circuit_close(alias: str) -> None:
    """Close a circuit at once (operators, tests)."""
    cache.delete(_key(alias))
    circuits_forget()
