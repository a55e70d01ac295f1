"""The transactional outbox: event rows written by the statement, or in the transaction, of the change they report,
so that an event is never lost (the change committed, its event not) nor invented (the other way round). Events
for any number of messages cost one INSERT … SELECT; a change nobody subscribed to writes no row. Delivery is the
dispatcher's business, kicked after commit (webhooks.dispatch).

Raw SQL: the ORM cannot write INSERT … SELECT, and creating one event per message from Python would cost a query
(and a round trip) per message on a campaign of 100,000.
"""

import contextlib
import hashlib
from collections.abc import Iterable, Sequence
from functools import partial

from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from messaging.models import InboundMessage, Message
from smsplatform.cache import REDIS_UNREACHABLE, redis_outage

from .addresses import ORIGIN_PATTERN
from .models import WebhookDelivery, WebhookEndpoint

# A dispatcher's flag outlives a task lost with its worker or broker by this long at most (seconds): then the sweep
# kicks its origin again. A running dispatcher renews it; one that waited longer in the queue finds the run lock of
# the one queued after it (webhooks.dispatch) and leaves the origin to it.
FLAG_TTL = 60

# The columns every event row is written with, in this order, by each INSERT below.
_COLUMNS = (
    "id, account_id, endpoint_id, type, url, origin, message_id, inbound_id, message_status, error, error_code,"
    " state, attempts, next_attempt_at, created_at"
)
# The columns a source of status changes must have (a RETURNING list, or a SELECT from the messages).
STATUS_SOURCE_COLUMNS = "id, account_id, callback_url, status, error, error_code"


def _new_uuid() -> str:
    # Django keeps a UUIDField as 32 hex digits on SQLite, as a uuid on PostgreSQL.
    return "gen_random_uuid()" if connection.vendor == "postgresql" else "lower(hex(randomblob(16)))"


def _null_uuid() -> str:
    # Typed: PostgreSQL reads a bare NULL in a subquery as text, which a uuid column refuses.
    return f"CAST(NULL AS {Message._meta.pk.db_type(connection)})"


def _origin(column: str) -> tuple[str, list]:
    if connection.vendor == "postgresql":
        return f"substring({column} from %s)", [ORIGIN_PATTERN]
    return f"webhook_origin({column})", []  # registered on each SQLite connection (WebhooksConfig.ready)


def _insert(select: str, select_params: list, *, type_: str, now) -> tuple[str, list]:
    """INSERT the rows of `select` (account_id, endpoint_id, url, message_id, inbound_id, status, error,
    error_code) as pending events due now; RETURNING the origin of each."""
    origin, origin_params = _origin("event.url")
    created = WebhookDelivery._meta.get_field("created_at").get_db_prep_value(now, connection)
    sql = (
        f"INSERT INTO {WebhookDelivery._meta.db_table} ({_COLUMNS})"
        f" SELECT {_new_uuid()}, event.account_id, event.endpoint_id, %s, event.url, {origin}, event.message_id,"
        " event.inbound_id, event.status, event.error, event.error_code, %s, 0, %s, %s"
        f" FROM ({select}) event RETURNING origin"
    )
    return sql, [type_, *origin_params, WebhookDelivery.State.PENDING, created, created, *select_params]


def status_events_sql(*, source: str, source_params: Sequence = (), now) -> tuple[str, list]:
    """The statement writing a `message.status` event for each row of `source` (a relation with
    STATUS_SOURCE_COLUMNS, as its status is now): to its callback_url, else to its account's endpoint if that has a
    URL, is not disabled and subscribes to message.status. Usable as a CTE of PostgreSQL's one-statement sends."""
    endpoint = WebhookEndpoint._meta.db_table
    select = (
        "SELECT m.account_id, CASE WHEN m.callback_url = '' THEN e.id END AS endpoint_id,"
        " CASE WHEN m.callback_url = '' THEN e.url ELSE m.callback_url END AS url, m.id AS message_id,"
        f" {_null_uuid()} AS inbound_id, m.status, m.error, m.error_code"
        f" FROM {source} m LEFT JOIN {endpoint} e ON e.account_id = m.account_id AND e.url <> ''"
        " AND e.disabled_at IS NULL AND e.message_status"
        " WHERE m.callback_url <> '' OR e.id IS NOT NULL"
    )
    return _insert(select, list(source_params), type_=WebhookDelivery.Type.MESSAGE_STATUS, now=now)


def webhook_status_events_create(*, message_ids: Sequence) -> None:
    """The `message.status` events of messages whose status the caller's transaction just changed, as they are
    now: called with exactly the ids its conditional UPDATE changed, so a repeated change writes no event."""
    if not message_ids:
        return
    pk = Message._meta.pk
    source = (
        f"(SELECT {STATUS_SOURCE_COLUMNS} FROM {Message._meta.db_table}"
        f" WHERE id IN ({', '.join(['%s'] * len(message_ids))}))"
    )
    params = [pk.get_db_prep_value(message_id, connection) for message_id in message_ids]
    sql, params = status_events_sql(source=source, source_params=params, now=timezone.now())
    events_write(sql, params)


def webhook_inbound_events_create(*, inbound_ids: Sequence) -> None:
    """`message.received` events of inbound messages, to their accounts' endpoints that have a URL, are not
    disabled and subscribe to them; messages of no account are skipped. One statement, in the caller's
    transaction; delivered after it commits."""
    if not inbound_ids:
        return
    pk = InboundMessage._meta.pk
    select = (
        f"SELECT i.account_id, e.id AS endpoint_id, e.url, {_null_uuid()} AS message_id, i.id AS inbound_id,"
        " '' AS status, '' AS error, '' AS error_code"
        f" FROM {InboundMessage._meta.db_table} i JOIN {WebhookEndpoint._meta.db_table} e"
        " ON e.account_id = i.account_id AND e.url <> '' AND e.disabled_at IS NULL AND e.message_received"
        f" WHERE i.id IN ({', '.join(['%s'] * len(inbound_ids))})"
    )
    params = [pk.get_db_prep_value(inbound_id, connection) for inbound_id in inbound_ids]
    sql, params = _insert(select, params, type_=WebhookDelivery.Type.MESSAGE_RECEIVED, now=timezone.now())
    events_write(sql, params)


def events_write(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        origins = {origin for (origin,) in cursor.fetchall()}
    kick_on_commit(origins)


def kick_on_commit(origins) -> None:
    """Wake the dispatchers of these origins once the events are committed (at once outside a transaction)."""
    if origins:
        transaction.on_commit(partial(dispatch_kick, origins=sorted(origins)))


def dispatch_flag(origin: str) -> str:
    """The cache key held while a dispatcher task of the origin is queued or running: one at a time, so that the
    events of a 20,000-message campaign publish one task, not 20,000."""
    return "webhooks:dispatch:" + hashlib.sha256(origin.encode()).hexdigest()[:32]


def dispatch_kick(*, origins: Iterable[str]) -> None:
    """Queue a dispatcher for each origin that has none. Never raises for Redis: the events are in the database,
    and the sweep kicks their origins once it answers again (the outage is logged once, by smsplatform.cache)."""
    from .tasks import webhooks_dispatch  # the task module imports this one

    for origin in origins:
        flag = dispatch_flag(origin)
        with contextlib.suppress(REDIS_UNREACHABLE):
            if cache.add(flag, 1, timeout=FLAG_TTL):
                try:
                    redis_outage.guard_publish(partial(webhooks_dispatch.delay, origin))
                except REDIS_UNREACHABLE:
                    cache.delete(flag)  # nothing was queued: the next kick may try
                    raise
