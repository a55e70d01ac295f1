import ipaddress
import time
from functools import lru_cache

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from rest_framework.exceptions import Throttled
from rest_framework.throttling import BaseThrottle

from smsplatform.cache import REDIS_UNREACHABLE, cache_hit

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@lru_cache
def parse_rate(rate: str) -> tuple[int, int]:
    """ "1000/s" → (1000, 1); also m, h and d, or their long forms (minute, hour, day)."""
    try:
        count, period = rate.split("/")
        return int(count), _PERIODS[period.strip()[0]]
    except (ValueError, KeyError, IndexError):
        raise ImproperlyConfigured(f"A rate limit must look like '1000/s', not {rate!r}.") from None


def _window(period: int) -> tuple[int, float]:
    """The fixed window we are in, and the seconds until it ends."""
    now = time.time()
    window = int(now // period)
    return window, (window + 1) * period - now


def rate_counter(identity: str) -> tuple[str, int]:
    """The counter this request counts on, and its timeout: the authentication counts the request on it
    in the same cache round trip as the key's lookup, and the throttle reads the result."""
    _, period = parse_rate(settings.API_RATE_LIMIT)
    return f"throttle:{identity}:{period}:{_window(period)[0]}", period + 1


class ApiKeyRateThrottle(BaseThrottle):
    """A fixed-window counter per API key (by the hash of its secret) in the shared cache (Redis in production).

    DRF's SimpleRateThrottle keeps a list of every request time per client and
    rewrites it on each request: at hundreds of requests a second that list is
    large, and concurrent processes overwrite each other's. An atomic counter is
    neither. Without Redis nothing is counted (`rate_hits` is None): the limit is not enforced.
    """

    def allow_request(self, request, view) -> bool:
        hits = getattr(request.auth, "rate_hits", None)
        if hits is None:
            return True
        limit, period = parse_rate(settings.API_RATE_LIMIT)
        self.retry_after = _window(period)[1]
        # Counted by ApiKeyAuthentication, in the same cache round trip as the key's lookup.
        return hits <= limit

    def wait(self) -> float:
        return self.retry_after


class AddressLimit:
    """API_ANON_RATE_LIMIT: requests refused for their key (or made without one), per client address.

    The address is REMOTE_ADDR or, behind API_TRUSTED_PROXIES proxies of ours, the one they saw in
    X-Forwarded-For (DRF's NUM_PROXIES). IPv6 addresses count by /64, the block one subscriber holds.
    Without Redis nothing is counted and nothing refused.
    """

    def __init__(self, request):
        self.request = request

    def hit(self) -> None:
        """Count one request against the address; 429 (Throttled) when that takes it over the limit."""
        counter, period = self._counter()
        try:
            hits = cache_hit(caches["default"], counter, period + 1)
        except REDIS_UNREACHABLE:
            return
        self._refuse_over(hits)

    def check(self) -> None:
        """429 when the address is over the limit already, without counting (a key not in the cache must not
        cost a query then: it is most likely one more made-up key)."""
        counter, _ = self._counter()
        try:
            hits = caches["default"].get(counter)
        except REDIS_UNREACHABLE:
            return
        self._refuse_over(hits or 0)

    def _counter(self) -> tuple[str, int]:
        """The address's counter in this window, and the window's length (seconds)."""
        _, period = parse_rate(settings.API_ANON_RATE_LIMIT)
        window, self.retry_after = _window(period)
        return f"throttle:address:{_client_address(self.request)}:{period}:{window}", period

    def _refuse_over(self, hits: int) -> None:
        if hits > parse_rate(settings.API_ANON_RATE_LIMIT)[0]:
            raise Throttled(wait=self.retry_after)


def _client_address(request) -> str:
    address = BaseThrottle().get_ident(request)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # not an address (a proxy's placeholder): counted as it is
        return address
    return str(ipaddress.ip_network(f"{ip}/64", strict=False)) if ip.version == 6 else str(ip)


class AnonymousRateThrottle(BaseThrottle):
    """The per-address limit on views that need no key (the schema, the docs). Requests that give a wrong key
    are counted by ApiKeyAuthentication, before it refuses them."""

    def allow_request(self, request, view) -> bool:
        if request.auth is not None:
            return True
        try:
            AddressLimit(request).hit()
        except Throttled as throttled:
            self.retry_after = throttled.wait
            return False
        return True

    def wait(self) -> float:
        return self.retry_after
