"""The Redis cache backend, minus two costs on the request path, and what a process does while Redis is away.

Django's RedisCacheClient builds a new `redis.Redis` for every operation, which is
most of the time a cache hit takes; redis-py clients are thread-safe, so one per
connection pool serves every thread. And a rate-limit counter wants "increment, and
expire with the window" in one round trip — with the API key's lookup, on every
request — which the cache API cannot say.

Redis holds no truth (PostgreSQL does), so an outage degrades the platform instead of
stopping it: callers catch REDIS_UNREACHABLE and fall back. `redis_outage` keeps one
request from paying a timeout per cache read, and logs an outage once.
"""

import hashlib
import logging
import threading
import time

import redis
from django.conf import settings
from django.core.cache.backends import redis as django_redis
from django.dispatch import Signal
from kombu.exceptions import OperationalError as BrokerUnreachable

logger = logging.getLogger(__name__)

# "Redis does not answer", as the cache, the SMPP hand-off or Celery's producer (the broker is the same Redis) say it.
REDIS_UNREACHABLE = (redis.ConnectionError, redis.TimeoutError, BrokerUnreachable)

# Sent in a process that saw Redis fail, once it answers again and before anything else is read from it;
# `since` is when the process saw the first failure (time.time()). Receivers put back what the cache missed.
redis_recovered = Signal()


class RedisOutage:
    """This process's view of a Redis outage.

    After a failure nobody here asks Redis again for REDIS_RETRY_INTERVAL seconds: commands fail at once,
    so that a request pays one timeout, not one per cache read, hand-off and publish. The first command
    after that pings first (one thread for all); when Redis answers, `redis_recovered` runs, and only then
    the command. The outage is logged when it starts and when it ends, not once per request.
    """

    def __init__(self):
        self.began: float | None = None  # time.time() of the first failure, while the outage lasts
        self._retry_at = 0.0
        self._lock = threading.RLock()
        self._recovering = threading.local()  # the receivers' own commands go straight through

    def check(self, ping) -> None:
        """Before a command: raise while Redis failed moments ago; once that is over, `ping()` and recover."""
        if self.began is None or getattr(self._recovering, "active", False):
            return
        self._raise_if_resting(redis.ConnectionError)
        with self._lock:
            if self.began is None:  # another thread saw it answer meanwhile
                return
            self._raise_if_resting(redis.ConnectionError)
            self._recovering.active = True
            try:
                ping()
                redis_recovered.send(sender=RedisOutage, since=self.began)
            except REDIS_UNREACHABLE as error:
                self.failed(error)
                raise
            finally:
                self._recovering.active = False
            logger.warning("Redis answers again, after %.1f s", time.time() - self.began)
            self.began = None

    def failed(self, error: Exception) -> None:
        with self._lock:
            self._retry_at = time.monotonic() + settings.REDIS_RETRY_INTERVAL
            if self.began is None:
                self.began = time.time()
                logger.error(
                    "Redis does not answer (%s). Until it does: API keys are checked in the database, rate limits "
                    "are not enforced, and sends are queued for the sweeper.",
                    error,
                )

    def guard_publish(self, publish) -> None:
        """Publish a Celery task, unless Redis failed moments ago; a failure counts as Redis failing."""
        if self.began is not None:
            self._raise_if_resting(BrokerUnreachable)
        try:
            publish()
        except REDIS_UNREACHABLE as error:
            self.failed(error)
            raise

    def _raise_if_resting(self, error_class: type[Exception]) -> None:
        if time.monotonic() < self._retry_at:
            raise error_class("Redis failed moments ago: not asked again yet.")

    def forget(self) -> None:
        """Back to "Redis answers" without recovering (tests)."""
        self.began, self._retry_at = None, 0.0


redis_outage = RedisOutage()


class LuaScript:
    """A Lua script and its SHA1, computed once: run it with `GuardedRedis.run_script`."""

    __slots__ = ("sha", "text")

    def __init__(self, text: str):
        self.text = text
        self.sha = hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


# The value of KEYS[1], and a hit on the counter KEYS[2] that expires ARGV[1] seconds after its first.
_GET_AND_HIT = LuaScript("""
local hits = redis.call('INCR', KEYS[2])
if hits == 1 then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
return {redis.call('GET', KEYS[1]), hits}
""")


class GuardedRedis(redis.Redis):
    """A redis-py client that goes through `redis_outage`: it fails at once during an outage this process saw."""

    def run_script(self, script: LuaScript, keys: list, args: list):
        """Run a Lua script by its hash, sending its text only to a server that does not know it yet."""
        try:
            return self.evalsha(script.sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            return self.eval(script.text, len(keys), *keys, *args)

    def execute_command(self, *args, **options):
        redis_outage.check(lambda: redis.Redis.execute_command(self, "PING"))
        try:
            return super().execute_command(*args, **options)
        except REDIS_UNREACHABLE as error:
            redis_outage.failed(error)
            raise

    def pipeline(self, transaction=True, shard_hint=None) -> "GuardedPipeline":
        return GuardedPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)


class GuardedPipeline(redis.client.Pipeline):
    def execute(self, raise_on_error: bool = True):
        redis_outage.check(lambda: redis.Redis(connection_pool=self.connection_pool).ping())
        try:
            return super().execute(raise_on_error)
        except REDIS_UNREACHABLE as error:
            redis_outage.failed(error)
            raise


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._client = GuardedRedis
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = self._client(connection_pool=self._get_connection_pool(write))
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient

    def get_and_hit(self, key: str, counter: str, timeout: int):
        """GET `key` and count a hit on an expiring counter, in one round trip: (value or None, hits).

        One script, not a pipeline of three commands: every API request makes this call, and a pipeline costs
        the web process about twice the CPU to build and parse."""
        key, counter = self.make_and_validate_key(key), self.make_and_validate_key(counter)
        client = self._cache.get_client(key, write=True)
        raw, hits = client.run_script(_GET_AND_HIT, [key, counter], [timeout])
        return (None if raw is None else self._cache._serializer.loads(raw)), hits

    def hit(self, counter: str, timeout: int) -> int:
        """Count a hit on an expiring counter: the hits so far in its window."""
        pipeline = self._cache.get_client(write=True).pipeline(transaction=False)
        self._hit(pipeline, self.make_and_validate_key(counter), timeout)
        hits, _ = pipeline.execute()
        return hits

    @staticmethod
    def _hit(pipeline, counter: str, timeout: int) -> None:
        pipeline.incr(counter)
        pipeline.expire(counter, timeout, nx=True)


def cache_get_and_hit(cache, key: str, counter: str, timeout: int):
    """A cached value and a hit on an expiring counter: one round trip on Redis, a few elsewhere."""
    if isinstance(cache, RedisCache):
        return cache.get_and_hit(key, counter, timeout)
    return cache.get(key), cache_hit(cache, counter, timeout)


def cache_hit(cache, counter: str, timeout: int) -> int:
    """A hit on an expiring counter: the hits so far in its window."""
    if isinstance(cache, RedisCache):
        return cache.hit(counter, timeout)
    if cache.add(counter, 1, timeout=timeout):
        return 1
    try:
        return cache.incr(counter)
    except ValueError:  # expired between add and incr: a new window
        return 1
