from django.core.management.base import BaseCommand, CommandError

from accounts.management.commands._account_argument import account_from_argument
from billing.services import credits_topup


class Command(BaseCommand):
    help = "Add SMS credits to an account (a top-up ledger row) and print the new balance."

    def add_arguments(self, parser):
        parser.add_argument("account", help="Account name or id.")
        parser.add_argument("amount", type=int)
        parser.add_argument("--note", default="", help="Description of the ledger row.")

    def handle(self, *args, account, amount, note, **options):
        if amount <= 0:
            raise CommandError("The amount must be a positive whole number of credits.")
        entry = credits_topup(account_id=account_from_argument(account).pk, amount=amount, description=note)
        self.stdout.write(f"Added {amount} credits; balance {entry.balance_after}.")
