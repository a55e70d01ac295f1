from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from smsplatform.api import checks  # noqa: F401  (registers the rate-limit checks: the limits are per key)
        from smsplatform.cache import redis_recovered

        from .services import api_key_revocations_reapply

        # Revocations made while Redis was away reach the cache before anything here reads it again.
        redis_recovered.connect(
            lambda sender, since, **kwargs: api_key_revocations_reapply(since=since),
            weak=False,
            dispatch_uid="api_key_revocations_reapply",
        )
