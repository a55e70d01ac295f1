"""The triggers on messaging_message that write reports_usagechange: every insert, status change and delete of
a message is counted in the same transaction as the change, so the usage report is exact at every moment,
whatever changed the message (a send, a campaign's batch, a receipt days later, a cancel, the dashboard).

Measured (bench/reports.py, `trigger_cost`): 25 to 60 µs more database time per statement that inserts or
changes a message, and no row lock anyone else waits on (the changes are appended; a counter row updated in
place would serialise every send of an account). An UPDATE that changes none of the counted columns (a
retry's lease, the next attempt's time) writes nothing.

PostgreSQL: statement-level triggers over transition tables, so that a statement changing 100,000 messages
(a campaign's snapshot or its cancel) writes a few rows, grouped. SQLite (the embedded mode) has only row
triggers: one or two rows per message changed.

Days are UTC days (`settings.TIME_ZONE`, which reports.checks holds to UTC).
"""

from django.db import connection as default_connection
from django.db import transaction

MESSAGE_TABLE = "messaging_message"
CHANGE_TABLE = "reports_usagechange"
TRIGGERS = ("reports_usage_inserted", "reports_usage_updated", "reports_usage_deleted")
COUNTED = ("account_id", "created_at", "sender", "campaign_id", "status", "segments", "credits")
_COLUMNS = "account_id, day, sender, campaign_id, status, messages, segments, credits"


def _pg_values(row: str, sign: str) -> str:
    return (
        f"{row}.account_id, ({row}.created_at AT TIME ZONE 'UTC')::date, {row}.sender, {row}.campaign_id,"
        f" {row}.status, {sign}1, {sign}{row}.segments, {sign}{row}.credits"
    )


POSTGRESQL_CREATE = [
    f"""
CREATE FUNCTION reports_usage_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {CHANGE_TABLE} ({_COLUMNS})
    SELECT account_id, (created_at AT TIME ZONE 'UTC')::date, sender, campaign_id, status,
           count(*), sum(segments), sum(credits)
    FROM new_messages GROUP BY 1, 2, 3, 4, 5;
    RETURN NULL;
END $$""",
    # Every old row counted -1 and every new one +1, summed per key: a row whose counted columns kept their values
    # cancels out. Not a join of the two transition tables: PL/pgSQL plans its statement once per connection, with
    # the row counts of its first call, and a nested loop planned for a single send's one row then compared every
    # pair of rows of each 500-message batch of that connection (6-14 ms a statement, 2026-12-04).
    f"""
CREATE FUNCTION reports_usage_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {CHANGE_TABLE} ({_COLUMNS})
    SELECT account_id, day, sender, campaign_id, status, sum(messages), sum(segments), sum(credits)
    FROM (SELECT {_pg_values("o", "-")} FROM old_messages o UNION ALL SELECT {_pg_values("n", "")} FROM new_messages n)
        AS change (account_id, day, sender, campaign_id, status, messages, segments, credits)
    GROUP BY 1, 2, 3, 4, 5
    HAVING sum(messages) <> 0 OR sum(segments) <> 0 OR sum(credits) <> 0;
    RETURN NULL;
END $$""",
    f"""
CREATE FUNCTION reports_usage_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {CHANGE_TABLE} ({_COLUMNS})
    SELECT account_id, (created_at AT TIME ZONE 'UTC')::date, sender, campaign_id, status,
           -count(*), -sum(segments), -sum(credits)
    FROM old_messages GROUP BY 1, 2, 3, 4, 5;
    RETURN NULL;
END $$""",
    f"CREATE TRIGGER reports_usage_inserted AFTER INSERT ON {MESSAGE_TABLE} REFERENCING NEW TABLE AS new_messages"
    " FOR EACH STATEMENT EXECUTE FUNCTION reports_usage_inserted()",
    # Transition tables allow no column list (UPDATE OF …): the function skips rows whose counted columns kept
    # their values, and a statement that changed none writes nothing.
    f"CREATE TRIGGER reports_usage_updated AFTER UPDATE ON {MESSAGE_TABLE}"
    " REFERENCING OLD TABLE AS old_messages NEW TABLE AS new_messages"
    " FOR EACH STATEMENT EXECUTE FUNCTION reports_usage_updated()",
    f"CREATE TRIGGER reports_usage_deleted AFTER DELETE ON {MESSAGE_TABLE} REFERENCING OLD TABLE AS old_messages"
    " FOR EACH STATEMENT EXECUTE FUNCTION reports_usage_deleted()",
]
POSTGRESQL_DROP = [f"DROP TRIGGER IF EXISTS {name} ON {MESSAGE_TABLE}" for name in TRIGGERS] + [
    f"DROP FUNCTION IF EXISTS {name}()" for name in TRIGGERS
]


def _sqlite_values(row: str, sign: str) -> str:
    # Django stores a datetime on SQLite as UTC text, 'YYYY-MM-DD HH:MM:SS[.ffffff]': date() is its UTC day.
    return (
        f"{row}.account_id, date({row}.created_at), {row}.sender, {row}.campaign_id, {row}.status,"
        f" {sign}1, {sign}{row}.segments, {sign}{row}.credits"
    )


SQLITE_CREATE = [
    f"CREATE TRIGGER reports_usage_inserted AFTER INSERT ON {MESSAGE_TABLE} FOR EACH ROW BEGIN"
    f" INSERT INTO {CHANGE_TABLE} ({_COLUMNS}) VALUES ({_sqlite_values('NEW', '')}); END",
    f"CREATE TRIGGER reports_usage_updated AFTER UPDATE OF {', '.join(COUNTED)} ON {MESSAGE_TABLE} FOR EACH ROW"
    f" WHEN {' OR '.join(f'OLD.{c} IS NOT NEW.{c}' for c in COUNTED)} BEGIN"
    f" INSERT INTO {CHANGE_TABLE} ({_COLUMNS}) VALUES ({_sqlite_values('OLD', '-')}), ({_sqlite_values('NEW', '')});"
    " END",
    f"CREATE TRIGGER reports_usage_deleted AFTER DELETE ON {MESSAGE_TABLE} FOR EACH ROW BEGIN"
    f" INSERT INTO {CHANGE_TABLE} ({_COLUMNS}) VALUES ({_sqlite_values('OLD', '-')}); END",
]
SQLITE_DROP = [f"DROP TRIGGER IF EXISTS {name}" for name in TRIGGERS]


def usage_triggers_sql(vendor: str, *, drop: bool = False) -> list[str]:
    if vendor == "postgresql":
        return POSTGRESQL_DROP if drop else POSTGRESQL_CREATE
    if vendor == "sqlite":
        return SQLITE_DROP if drop else SQLITE_CREATE
    raise NotImplementedError(f"The usage report's triggers exist for PostgreSQL and SQLite, not {vendor}.")


def usage_triggers_present(connection=default_connection) -> set[str]:
    """The names of the usage triggers that messaging_message has now."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal", [MESSAGE_TABLE]
            )
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [MESSAGE_TABLE])
        return {name for (name,) in cursor.fetchall()} & set(TRIGGERS)


def usage_triggers_create(vendor: str, execute) -> None:
    """Create the triggers (dropping any left first) with `execute(sql)`, in the caller's transaction."""
    for sql in [*usage_triggers_sql(vendor, drop=True), *usage_triggers_sql(vendor)]:
        execute(sql)


def usage_triggers_ensure(*, using: str = "default", **kwargs) -> bool:
    """post_migrate: put the triggers back if a migration dropped them with their table, and rebuild the rollup
    (what changed meanwhile was not counted). Returns whether it had to. Nothing while reports' tables do not
    exist (migrated back to zero)."""
    from django.db import connections

    from .services import usage_rebuild

    connection = connections[using]
    if connection.vendor not in ("postgresql", "sqlite"):
        return False
    if CHANGE_TABLE not in connection.introspection.table_names():
        return False
    if usage_triggers_present(connection) == set(TRIGGERS):
        return False
    with transaction.atomic(using=using), connection.cursor() as cursor:
        usage_triggers_create(connection.vendor, cursor.execute)
        usage_rebuild(using=using)
    return True
