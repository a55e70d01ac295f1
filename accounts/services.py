from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from billing.services import credits_topup

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
    return secret


def api_key_revoke(*, api_key: ApiKey) -> None:
    """Revoke a key; its very next request is refused, even where lookups are cached."""
    with transaction.atomic():
        ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    # Overwrite rather than delete the cached lookup: a request that read the key as active just
    # before the revocation adds its entry with `cache.add`, which cannot replace this marker.
    cache.set(
        api_key_cache_key(api_key.key_hash),
        api_key_revoked_marker(),
        timeout=max(settings.API_KEY_CACHE_SECONDS * 10, 86400),
    )
