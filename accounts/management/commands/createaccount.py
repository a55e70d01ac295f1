from django.core.management.base import BaseCommand, CommandError

from accounts.models import Account
from accounts.services import account_create, api_key_create


class Command(BaseCommand):
    help = "Create an account and print its first API key on the last line."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--credits", type=int, default=0, help="Opening balance (a top-up ledger row).")
        parser.add_argument("--sandbox", action="store_true", help="May send only to verified tester numbers.")

    def handle(self, *args, name, credits, sandbox, **options):
        if credits < 0:
            raise CommandError("--credits cannot be negative.")
        if Account.objects.filter(name=name).exists():
            raise CommandError(f"An account named {name!r} exists already.")
        account = account_create(name=name, credits=credits, is_sandbox=sandbox)
        _, secret = api_key_create(account=account, name="Default")
        self.stdout.write(f"Created account {account.name} ({account.id}) with {account.sms_credits} credits.")
        self.stdout.write(secret)
