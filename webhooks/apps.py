from django.apps import AppConfig
from django.db.backends.signals import connection_created


class WebhooksConfig(AppConfig):
    name = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from .addresses import sqlite_functions_register

        # The outbox computes each delivery's origin in SQL: PostgreSQL with a regular expression, SQLite
        # with the same one in Python (it has no regular expressions of its own).
        connection_created.connect(sqlite_functions_register, dispatch_uid="webhooks-sqlite-functions")
