"""The only code that changes an account's credits.

Every change is a conditional UPDATE of the balance and the ledger row that records
it, in one database transaction: two concurrent debits can never both spend the last
credit (the row lock orders them and `WHERE sms_credits >= n` re-checks), and the
balance always equals the sum of the ledger.
"""

from django.db import connection, transaction

from accounts.models import Account
from smsplatform.errors import InsufficientCredits

from .models import Transaction

_ACCOUNT_TABLE = Account._meta.db_table


def _ledger_write(*, account_id, amount: int, type: str, description: str, reference: str) -> Transaction:
    sql = f"UPDATE {_ACCOUNT_TABLE} SET sms_credits = sms_credits + %s WHERE id = %s"
    params = [amount, Account._meta.pk.get_db_prep_value(account_id, connection)]
    if amount < 0:
        # Spending: the balance must cover it, checked by the same statement that changes it.
        sql += " AND sms_credits >= %s"
        params.append(-amount)
    # No savepoint inside a caller's transaction (a send): it is all or nothing anyway.
    with transaction.atomic(savepoint=False):
        with connection.cursor() as cursor:
            cursor.execute(sql + " RETURNING sms_credits", params)
            row = cursor.fetchone()
        if row is not None:
            return Transaction.objects.create(
                account_id=account_id,
                type=type,
                amount=amount,
                balance_after=row[0],
                description=description,
                reference=reference,
            )
    # Nothing changed: raised outside the block, so a caller's transaction stays usable.
    if amount < 0 and Account.objects.filter(pk=account_id).exists():
        raise InsufficientCredits()
    raise Account.DoesNotExist(f"No account {account_id}.")


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


def credits_debit(*, account_id, amount: int, description: str = "", reference: str = "") -> Transaction:
    """Spend credits, or raise InsufficientCredits and change nothing."""
    return _ledger_write(
        account_id=account_id,
        amount=-_positive(amount),
        type=Transaction.Type.DEBIT,
        description=description,
        reference=reference,
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
