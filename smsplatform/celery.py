"""The Celery app: configured from Django settings (CELERY_*), tasks found in each app's tasks.py."""

import os

from celery import Celery, signals
from django.conf import settings
from django.db import close_old_connections
from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import redis as kombu_redis

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smsplatform.settings")


class RedisChannel(kombu_redis.Channel):
    """kombu's Redis channel, closed on the first try even when Redis is gone.

    A worker (celery 5.7, kombu 5.7) that loses Redis while it holds tasks exits with "Unrecoverable error:
    AttributeError("'NoneType' object has no attribute 'hostname'")": the consumer collects the connection, which
    closes each channel and then detaches the transport from the connection, and closes the connection once more.
    A channel whose BRPOP was in flight raises from its first close (reading the BRPOP's answer) before it marks
    itself closed, so the second close does it all again: it puts back its unacknowledged tasks through a new pool,
    whose address it reads from the transport's connection, None by now. Nothing catches an AttributeError there.
    Finishing the close at once, while the transport still knows the broker, leaves the second close nothing to do.
    """

    def close(self):
        try:
            super().close()
        finally:
            if not self.closed:  # the failed read of the BRPOP is over now: this pass closes it
                super().close()


class RedisTransport(kombu_redis.Transport):
    Channel = RedisChannel


# Every process's redis:// broker (worker, beat, web) is RedisTransport: kombu looks transports up in this table.
TRANSPORT_ALIASES["redis"] = TRANSPORT_ALIASES["rediss"] = f"{__name__}:RedisTransport"


class App(Celery):
    def send_task(self, name, args=None, kwargs=None, countdown=None, **options):
        """Publish a task, due in at most TASK_COUNTDOWN_MAX seconds.

        A worker takes a task as soon as it is published and holds it until its countdown ends; Redis hands a
        task held longer than the visibility timeout to another worker, and it would run twice. A task may run
        early: a retry or a campaign batch finds its messages not yet due (the sweepers or the next batch take
        them when they are), a delivery report is applied sooner. (Task.delay and apply_async come here too; the
        platform's tasks give countdowns, never an `eta`.)
        """
        if countdown is not None:
            countdown = min(countdown, settings.TASK_COUNTDOWN_MAX)
        return super().send_task(name, args, kwargs, countdown=countdown, **options)


app = App("smsplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_prerun.connect
@signals.task_postrun.connect
def _close_old_connections(task, **kwargs) -> None:
    """Around each task, what Django does around each request: a connection older than CONN_MAX_AGE, broken, or
    left out of autocommit is closed (the rest are kept: CELERY_DB_REUSE_MAX). Not around a task run eagerly,
    inside its caller's transaction."""
    if not task.request.is_eager:
        close_old_connections()
