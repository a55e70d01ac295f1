import contextlib
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from billing.services import credits_topup
from smsplatform.cache import REDIS_UNREACHABLE

from .keys import key_display_prefix, key_generate, key_hash
from .models import Account, ApiKey
from .selectors import api_key_cache_key, api_key_revoked_marker


@transaction.atomic
def account_create(*, name: str, credits: int = 0, is_sandbox: bool = False) -> Account:
    account = Account.objects.create(name=name, is_sandbox=is_sandbox)
    if credits:
        credits_topup(account_id=account.id, amount=credits, description="Opening balance")
        account.refresh_from_db(fields=["sms_credits"])
    return account


def api_key_create(*, account: Account, name: str = "") -> tuple[ApiKey, str]:
    """Make a key and return it with its secret, which is not stored and cannot be shown again."""
    api_key = ApiKey(account=account, name=name)
    return api_key, api_key_save_new(api_key=api_key)


def api_key_save_new(*, api_key: ApiKey) -> str:
    """Give an unsaved key (the dashboard's form fills one) its secret, save it, return the secret."""
    secret = key_generate()
    api_key.prefix = key_display_prefix(secret)
    api_key.key_hash = key_hash(secret)
    api_key.save(force_insert=True)
    # Works at once even if somebody tried this very secret moments ago (its hash was cached as unknown).
    # Without Redis that entry, if any, expires within API_KEY_UNKNOWN_CACHE_SECONDS.
    with contextlib.suppress(REDIS_UNREACHABLE):
        cache.delete(api_key_cache_key(api_key.key_hash))
    return secret


def api_key_revoke(*, api_key: ApiKey) -> None:
    """Revoke a key; its very next request is refused, even where lookups are cached.

    Without Redis the revocation is recorded all the same: lookups go to the database meanwhile, and
    `api_key_revocations_reapply` writes the marker once Redis answers again.
    """
    with transaction.atomic():
        ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    with contextlib.suppress(REDIS_UNREACHABLE):
        _revoked_markers_set([api_key.key_hash])


def api_key_revocations_reapply(*, since: float) -> int:
    """Write the revoked marker of every key revoked since `since` (time.time()) less API_KEY_CACHE_SECONDS:
    run where Redis failed at `since`, once it answers again, before a lookup is read from it.

    A revocation made while Redis was unreachable never reached the cache, and a lookup cached before the
    outage (Redis may keep its data through one) would let the key in until it expires. Such a lookup was
    cached at most API_KEY_CACHE_SECONDS before the outage began. Returns how many markers were written.
    """
    revoked_since = datetime.fromtimestamp(since, UTC) - timedelta(seconds=settings.API_KEY_CACHE_SECONDS)
    digests = list(ApiKey.objects.filter(revoked_at__gte=revoked_since).values_list("key_hash", flat=True))
    _revoked_markers_set(digests)
    return len(digests)


def _revoked_markers_set(digests: list[str]) -> None:
    # Overwrite rather than delete the cached lookup: a request that read the key as active just
    # before the revocation adds its entry with `cache.add`, which cannot replace this marker.
    cache.set_many(
        dict.fromkeys((api_key_cache_key(digest) for digest in digests), api_key_revoked_marker()),
        timeout=max(settings.API_KEY_CACHE_SECONDS * 10, 86400),
    )
