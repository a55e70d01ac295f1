import time
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from rest_framework.throttling import BaseThrottle

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@lru_cache
def parse_rate(rate: str) -> tuple[int, int]:
    """ "1000/s" → (1000, 1); also m, h and d, or their long forms (minute, hour, day)."""
    try:
        count, period = rate.split("/")
        return int(count), _PERIODS[period.strip()[0]]
    except (ValueError, KeyError, IndexError):
        raise ImproperlyConfigured(f"API_RATE_LIMIT must look like '1000/s', not {rate!r}.") from None


def rate_counter(identity: str) -> tuple[str, int]:
    """The counter this request counts on, and its timeout: the authentication counts the request on it
    in the same cache round trip as the key's lookup, and the throttle reads the result."""
    _, period = parse_rate(settings.API_RATE_LIMIT)
    return f"throttle:{identity}:{period}:{int(time.time() // period)}", period + 1


class ApiKeyRateThrottle(BaseThrottle):
    """A fixed-window counter per API key (by the hash of its secret) in the shared cache (Redis in production).

    DRF's SimpleRateThrottle keeps a list of every request time per client and
    rewrites it on each request: at hundreds of requests a second that list is
    large, and concurrent processes overwrite each other's. An atomic counter is
    neither.
    """

    def allow_request(self, request, view) -> bool:
        if request.auth is None:
            return True
        limit, period = parse_rate(settings.API_RATE_LIMIT)
        now = time.time()
        window = int(now // period)
        self.retry_after = (window + 1) * period - now
        # Counted by ApiKeyAuthentication, in the same cache round trip as the key's lookup.
        return request.auth.rate_hits <= limit

    def wait(self) -> float:
        return self.retry_after
