"""Django's PostgreSQL backend, with the health check of a reused connection skipped while it is warm.

With CONN_HEALTH_CHECKS Django tests a reused connection with a `SELECT 1` at the start of every request, so
that a database restart costs no failed request. Under load that is one round trip more per request (a send
makes two of its own). A connection that served the request before this one less than WARM_SECONDS ago is
taken as it is: a restart of PostgreSQL takes longer than that, so the requests after one still find their
connections checked, and one whose statement fails closes the connection (Django's errors_occurred).
"""

import time

from django.db.backends.postgresql import base

WARM_SECONDS = 1.0


class DatabaseWrapper(base.DatabaseWrapper):
    warm_until = 0.0

    def close_if_unusable_or_obsolete(self):
        # Called when a request starts and when it ends; health_check_done says the request served by this
        # connection used it.
        if self.connection is not None and self.health_check_done and not self.errors_occurred:
            self.warm_until = time.monotonic() + WARM_SECONDS
        super().close_if_unusable_or_obsolete()

    def close_if_health_check_failed(self):
        if self.connection is not None and not self.health_check_done and time.monotonic() < self.warm_until:
            self.health_check_done = True
        super().close_if_health_check_failed()
