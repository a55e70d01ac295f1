"""The only code that changes an account's credits.

Every change is a conditional UPDATE of the balance and the ledger row that records
it, atomically (one statement on PostgreSQL, one transaction elsewhere): two concurrent
debits can never both spend the last credit (the row lock orders them and
`WHERE sms_credits >= n` re-checks), and the balance always equals the sum of the ledger.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction

from accounts.models import Account
from smsplatform.errors import ApplicationError, InsufficientCredits

from .models import Transaction


@dataclass(frozen=True, slots=True)
class Precondition:
    """A rule the debit's own statement checks, so that it costs no round trip of its own: an SQL condition
    (`NOT EXISTS (…)`) with its parameters, and the error to raise when it does not hold."""

    sql: str
    params: Sequence
    error: Callable[[], ApplicationError]

    def holds(self) -> bool:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {self.sql}", self.params)
            return bool(cursor.fetchone()[0])


def _ledger_write(
    *,
    account_id,
    amount: int,
    type: str,
    description: str,
    reference: str,
    paid_rows: Sequence[models.Model] = (),
    precondition: Precondition | None = None,
) -> Transaction:
    """Change the balance by `amount`, record it, and insert `paid_rows` (what the credits pay for): all or nothing."""
    entry = Transaction(
        account_id=account_id, type=type, amount=amount, balance_after=0, description=description, reference=reference
    )
    update, params = _balance_update_sql(account_id, amount, precondition)
    if connection.vendor == "postgresql":
        balance = _write_in_one_statement(update, params, entry, paid_rows)
    else:
        balance = _write_in_one_transaction(update, params, entry, paid_rows)
    if balance is None:  # nothing was written
        if precondition is not None and not precondition.holds():
            raise precondition.error()
        if amount < 0 and Account.objects.filter(pk=account_id).exists():
            raise InsufficientCredits()
        raise Account.DoesNotExist(f"No account {account_id}.")
    entry.balance_after = balance
    return entry


def _balance_update_sql(account_id, amount: int, precondition: Precondition | None) -> tuple[str, list]:
    sql = f"UPDATE {Account._meta.db_table} SET sms_credits = sms_credits + %s WHERE id = %s"
    params = [amount, Account._meta.pk.get_db_prep_value(account_id, connection)]
    if amount < 0:
        # Spending: the balance must cover it, checked by the same statement that changes it.
        sql += " AND sms_credits >= %s"
        params.append(-amount)
    if precondition is not None:
        sql += f" AND {precondition.sql}"
        params += precondition.params
    return sql + " RETURNING sms_credits", params


def _write_in_one_statement(update: str, params: list, entry: Transaction, paid_rows) -> int | None:
    """PostgreSQL: the update and every insert as data-modifying CTEs of one statement.

    One round trip and an implicit transaction: the account's row lock is held for this
    statement alone, not across several round trips, which is what bounds how fast one
    busy account can spend. Each insert selects from the update, so none happens when
    the balance does not cover the debit.
    """
    parts, all_params = [f"debit AS ({update})"], list(params)
    for index, row in enumerate([entry, *paid_rows]):
        insert, insert_params = _insert_from_debit_sql(row)
        parts.append(f"insert_{index} AS ({insert})")
        all_params += insert_params
    with connection.cursor() as cursor:
        cursor.execute("WITH " + ", ".join(parts) + " SELECT sms_credits FROM debit", all_params)
        result = cursor.fetchone()
    if result is None:
        return None
    for row in [entry, *paid_rows]:
        row._state.adding, row._state.db = False, connection.alias  # saved, as if by row.save()
    return result[0]


def _insert_from_debit_sql(row: models.Model) -> tuple[str, list]:
    """INSERT of a new row with the values the ORM would save; a ledger row takes its balance from the update."""
    sql, fields = _insert_from_debit_template(type(row))
    # The connection itself, not django.db.connection: each attribute read through that proxy looks the
    # connection up again in a context-local store, and the fields read several each (30 µs a send).
    db = connections[DEFAULT_DB_ALIAS]
    return sql, [field.get_db_prep_save(field.pre_save(row, add=True), db) for field in fields]


@cache
def _insert_from_debit_template(model: type[models.Model]) -> tuple[str, list[models.Field]]:
    """The INSERT of a model's row (made once per model: a send builds two on every request), and the fields
    whose values are its parameters."""
    quote = connection.ops.quote_name
    columns, values, fields = [], [], []
    for field in model._meta.concrete_fields:
        columns.append(quote(field.column))
        if model is Transaction and field.name == "balance_after":
            values.append("debit.sms_credits")
        else:
            values.append("%s")
            fields.append(field)
    table = quote(model._meta.db_table)
    return f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} FROM debit", fields


def _write_in_one_transaction(update: str, params: list, entry: Transaction, paid_rows) -> int | None:
    # No savepoint inside a caller's transaction: it is all or nothing anyway.
    with transaction.atomic(savepoint=False):
        with connection.cursor() as cursor:
            cursor.execute(update, params)
            result = cursor.fetchone()
        if result is None:
            return None
        entry.balance_after = result[0]
        for row in [entry, *paid_rows]:
            row.save(force_insert=True)
    return result[0]


def _positive(amount: int) -> int:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise ValueError(f"A credit amount must be a positive integer, not {amount!r}.")
    return amount


def credits_topup(*, account_id, amount: int, description: str = "", reference: str = "") -> Transaction:
    return _ledger_write(
        account_id=account_id,
        amount=_positive(amount),
        type=Transaction.Type.TOPUP,
        description=description or "Top-up",
        reference=reference,
    )


def credits_debit(
    *,
    account_id,
    amount: int,
    description: str = "",
    reference: str = "",
    paid_rows: Sequence[models.Model] = (),
    precondition: Precondition | None = None,
) -> Transaction:
    """Spend credits, or raise InsufficientCredits (or the precondition's error, first) and change nothing.

    `paid_rows` are new rows (a message) inserted with the debit, all or nothing: on
    PostgreSQL in the same single statement, which also checks `precondition`.
    """
    return _ledger_write(
        account_id=account_id,
        amount=-_positive(amount),
        type=Transaction.Type.DEBIT,
        description=description,
        reference=reference,
        paid_rows=paid_rows,
        precondition=precondition,
    )


def credits_refund(*, account_id, amount: int, description: str = "", reference: str = "") -> Transaction:
    return _ledger_write(
        account_id=account_id,
        amount=_positive(amount),
        type=Transaction.Type.REFUND,
        description=description,
        reference=reference,
    )


def credits_adjust(*, account_id, amount: int, description: str, reference: str = "") -> Transaction:
    """A signed correction by staff; like every change, it cannot take the balance below zero."""
    if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0:
        raise ValueError(f"An adjustment must be a non-zero integer, not {amount!r}.")
    return _ledger_write(
        account_id=account_id,
        amount=amount,
        type=Transaction.Type.ADJUSTMENT,
        description=description,
        reference=reference,
    )
