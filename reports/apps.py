from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ReportsConfig(AppConfig):
    name = "reports"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks)
        from .triggers import usage_triggers_ensure

        # A migration that rebuilds messaging_message on SQLite (Django copies a table to alter it) drops its
        # triggers with it: every migrate ends by putting them back, with the rollup rebuilt.
        post_migrate.connect(usage_triggers_ensure, sender=self, dispatch_uid="reports-usage-triggers")
