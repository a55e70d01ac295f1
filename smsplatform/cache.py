"""The Redis cache backend, minus two costs on the request path.

Django's RedisCacheClient builds a new `redis.Redis` for every operation, which is
most of the time a cache hit takes; redis-py clients are thread-safe, so one per
connection pool serves every thread. And a rate-limit counter wants "increment, and
expire with the window" in one round trip — with the API key's lookup, on every
request — which the cache API cannot say.
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

    def get_and_hit(self, key: str, counter: str, timeout: int):
        """GET `key` and count a hit on an expiring counter, in one round trip: (value or None, hits)."""
        key, counter = self.make_and_validate_key(key), self.make_and_validate_key(counter)
        pipeline = self._cache.get_client(key, write=True).pipeline(transaction=False)
        pipeline.get(key)
        pipeline.incr(counter)
        pipeline.expire(counter, timeout, nx=True)
        raw, hits, _ = pipeline.execute()
        return (None if raw is None else self._cache._serializer.loads(raw)), hits


def cache_get_and_hit(cache, key: str, counter: str, timeout: int):
    """A cached value and a hit on an expiring counter: one round trip on Redis, a few elsewhere."""
    if isinstance(cache, RedisCache):
        return cache.get_and_hit(key, counter, timeout)
    value = cache.get(key)
    if cache.add(counter, 1, timeout=timeout):
        return value, 1
    try:
        return value, cache.incr(counter)
    except ValueError:  # expired between add and incr: a new window
        return value, 1
