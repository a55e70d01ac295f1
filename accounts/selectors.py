import contextlib
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache, caches
from django.db.models import QuerySet
from django.utils import timezone

from smsplatform.cache import REDIS_UNREACHABLE, cache_get_and_hit
from smsplatform.errors import NotFound

from .keys import key_hash, key_is_well_formed
from .models import Account, ApiKey

# What the cache holds for a key that must be refused: revoked (api_key_revoke), or unknown for a few seconds.
_REVOKED = "revoked"
_UNKNOWN = "unknown"


def api_key_cache_key(digest: str) -> str:
    return f"apikey:{digest}"


def api_key_revoked_marker() -> str:
    return _REVOKED


def api_key_authenticate(
    *,
    secret: str,
    rate_counter: Callable[[str], tuple[str, int]] | None = None,
    before_database: Callable[[], None] | None = None,
) -> ApiKey | None:
    """The active key with this secret, or None.

    The lookup by hash is cached: a key found for API_KEY_CACHE_SECONDS, a hash found nowhere for
    API_KEY_UNKNOWN_CACHE_SECONDS (a flood of one wrong key costs one query), and `api_key_revoke` replaces
    the entry with a revoked marker, so a revoked key fails on its next request. `rate_counter(digest)` names
    a cache counter to count this request on in the same round trip; the count is the key's `rate_hits`.
    `before_database()` runs before the database is asked (the cache had no answer); it may raise to refuse.

    When Redis does not answer the database does, and no rate is counted (`rate_hits` is None).
    """
    if not key_is_well_formed(secret):
        return None
    digest = key_hash(secret)
    cache_key = api_key_cache_key(digest)
    try:
        if rate_counter is None:
            cached, hits = cache.get(cache_key), None
        else:
            cached, hits = cache_get_and_hit(caches["default"], cache_key, *rate_counter(digest))
        cache_answers = True
    except REDIS_UNREACHABLE:
        cached, hits, cache_answers = None, None, False
    if cached in (_REVOKED, _UNKNOWN):
        return None
    if cached is None:
        if before_database is not None:
            before_database()
        row = (
            ApiKey.objects.filter(key_hash=digest, revoked_at__isnull=True)
            .values_list("id", "account_id", "name", "prefix")
            .first()
        )
        if cache_answers:
            # `add`, never `set`: a revocation made meanwhile wrote its marker, which must stay.
            with contextlib.suppress(REDIS_UNREACHABLE):
                if row is None:
                    cache.add(cache_key, _UNKNOWN, timeout=settings.API_KEY_UNKNOWN_CACHE_SECONDS)
                else:
                    cache.add(cache_key, row, timeout=settings.API_KEY_CACHE_SECONDS)
        if row is None:
            return None
        cached = row
    key_id, account_id, name, prefix = cached
    api_key = ApiKey(id=key_id, account_id=account_id, name=name, prefix=prefix, key_hash=digest)
    api_key.rate_hits = hits
    _api_key_mark_used(api_key)
    return api_key


# key id → when this process last asked the shared cache whether last_used_at is due (monotonic seconds).
_last_marked: dict = {}


def _api_key_mark_used(api_key: ApiKey) -> None:
    """Write last_used_at at most once per key and interval across all processes, not once per request.

    The shared cache's add-if-absent elects the one process that writes; each process asks it at
    most once per interval and key, so a busy key costs no cache round trip on most requests. Without
    Redis each process writes it once per interval.
    """
    interval = settings.API_KEY_LAST_USED_INTERVAL
    now = time.monotonic()
    if now - _last_marked.get(api_key.id, -interval) < interval:
        return
    if len(_last_marked) > 100_000:
        _last_marked.clear()
    _last_marked[api_key.id] = now
    try:
        elected = cache.add(f"apikey-used:{api_key.id}", 1, timeout=interval)
    except REDIS_UNREACHABLE:
        elected = True
    if elected:
        ApiKey.objects.filter(pk=api_key.id).update(last_used_at=timezone.now())


def api_key_list(*, account_id) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(account_id=account_id, revoked_at__isnull=True).order_by("-created_at")


def api_key_get(*, account_id, key_id) -> ApiKey:
    api_key = api_key_list(account_id=account_id).filter(pk=key_id).first()
    if api_key is None:
        raise NotFound("API key not found.")
    return api_key


def account_find(*, name_or_id: str) -> Account | None:
    """The account with this name, or this id: how the management commands name an account."""
    account = Account.objects.filter(name=name_or_id).first()
    if account is None:
        with contextlib.suppress(ValueError):
            account = Account.objects.filter(pk=uuid.UUID(name_or_id)).first()
    return account
