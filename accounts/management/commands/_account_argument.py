from django.core.management.base import CommandError

from accounts.models import Account
from accounts.selectors import account_find


def account_from_argument(name_or_id: str) -> Account:
    account = account_find(name_or_id=name_or_id)
    if account is None:
        raise CommandError(f"No account named or with id {name_or_id!r}.")
    return account
