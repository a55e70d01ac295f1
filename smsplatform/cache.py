"""The Redis cache backend, minus two costs on the request path.

Django's RedisCacheClient builds a new `redis.Redis` for every operation, which is
most of the time a cache hit takes; redis-py clients are thread-safe, so one per
connection pool serves every thread. And a rate-limit counter wants "increment, and
expire with the window" in one round trip, which the cache API cannot say.
"""

from django.core.cache.backends import redis as django_redis


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
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

    def incr_with_expiry(self, key: str, timeout: int) -> int:
        """Count a hit on a counter that expires `timeout` seconds after its first hit (Redis 7+)."""
        key = self.make_and_validate_key(key)
        pipeline = self._cache.get_client(key, write=True).pipeline(transaction=False)
        pipeline.incr(key)
        pipeline.expire(key, timeout, nx=True)
        return pipeline.execute()[0]


def counter_hit(cache, key: str, timeout: int) -> int:
    """A hit on an expiring counter: one round trip on Redis, add-then-incr on other caches."""
    if isinstance(cache, RedisCache):
        return cache.incr_with_expiry(key, timeout)
    if cache.add(key, 1, timeout=timeout):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr: a new window
        return 1
