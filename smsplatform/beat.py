"""Celery beat that stays single: only the beat holding a lock in Redis sends the schedule.

Two beats would send every periodic task twice. Every third of BEAT_LOCK_TTL each beat takes the lock or renews
it (a redis-py lock that expires BEAT_LOCK_TTL seconds after its last renewal); a beat that finds it taken waits
as a standby, and takes over at its first try after the lock expires (the holder died) or is released (the holder
stopped cleanly). Every beat, holder or standby, keeps a heartbeat key for health checks. Without Redis (the
embedded mode, one machine) there is nothing to share: no lock.

The schedule lives in memory, not in a shelve file: every entry is an interval (sweeps, hourly expiries) whose
tasks are idempotent and locked, so a restarted beat loses nothing by starting the intervals afresh, and no file
can be left half-written or locked (Python 3.13's dbm.sqlite3 shelve failed with "locking protocol" under load).
"""

import logging
import socket

import redis
from celery.beat import Scheduler
from django.conf import settings

logger = logging.getLogger(__name__)

LOCK_KEY = "beat:lock"


def beat_heartbeat_key(instance: str) -> str:
    """Present while the beat on host `instance` runs (docker compose's health check reads it)."""
    return f"beat:instance:{instance}"


class SingleBeatScheduler(Scheduler):
    def __init__(self, *args, **kwargs):
        self._ttl = settings.BEAT_LOCK_TTL
        self._renew_every = self._ttl / 3  # two renewals may fail before the lock is lost
        self._heartbeat_key = beat_heartbeat_key(socket.gethostname())
        self._redis = (
            redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)
            if settings.REDIS_URL
            else None
        )
        self._lock = self._redis.lock(LOCK_KEY, timeout=self._ttl, thread_local=False) if self._redis else None
        self._holding = None  # unknown until the first tick
        super().__init__(*args, **kwargs)

    def tick(self, *args, **kwargs):
        if self._lock is None:
            return super().tick(*args, **kwargs)
        if not self._hold_lock():
            return self._renew_every
        return min(super().tick(*args, **kwargs), self._renew_every)

    def close(self):
        if self._lock is not None:
            try:
                if self._lock.owned():
                    self._lock.release()  # the standby takes over at its next tick, not after the TTL
                self._redis.delete(self._heartbeat_key)
            except redis.RedisError:
                logger.warning("beat: could not release %s; a standby takes over when it expires", LOCK_KEY)
        super().close()

    def _hold_lock(self) -> bool:
        """Take the lock, or renew it if this beat holds it; True while it does."""
        try:
            if self._lock.owned():
                self._lock.reacquire()
                holding = True
            else:
                holding = self._lock.acquire(blocking=False)
            self._redis.set(self._heartbeat_key, "holder" if holding else "standby", ex=self._ttl)
        except redis.RedisError as error:  # LockNotOwnedError too: it expired between owned() and reacquire()
            logger.warning("beat: cannot hold %s (%s): not sending the schedule", LOCK_KEY, error)
            self._holding = False
            return False
        if holding != self._holding:
            if holding:
                logger.info("beat: holding %s: sending the schedule", LOCK_KEY)
            else:
                logger.info("beat: %s is held by another beat: standing by", LOCK_KEY)
        self._holding = holding
        return holding
