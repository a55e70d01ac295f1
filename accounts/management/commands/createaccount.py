from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Account
from accounts.services import account_create, api_key_create
from messaging.phone import phone_normalize
from messaging.services import sender_add_approved, tester_add


class Command(BaseCommand):
    help = "Create an account and print its first API key on the last line."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--credits", type=int, default=0, help="Opening balance (a top-up ledger row).")
        parser.add_argument("--sandbox", action="store_true", help="May send only to verified tester numbers.")
        parser.add_argument(
            "--sender", action="append", default=[], metavar="NAME", help="An approved sender ID (repeatable)."
        )
        parser.add_argument(
            "--tester", action="append", default=[], metavar="PHONE", help="A verified tester number (repeatable)."
        )

    @transaction.atomic
    def handle(self, *args, name, credits, sandbox, sender, tester, **options):
        if credits < 0:
            raise CommandError("--credits cannot be negative.")
        if Account.objects.filter(name=name).exists():
            raise CommandError(f"An account named {name!r} exists already.")
        phones = [self._phone(raw) for raw in tester]
        account = account_create(name=name, credits=credits, is_sandbox=sandbox)
        for sender_name in dict.fromkeys(sender):
            sender_add_approved(account_id=account.id, name=sender_name)
        for phone in phones:
            tester_add(account_id=account.id, phone=phone)
        _, secret = api_key_create(account=account, name="Default")
        self.stdout.write(f"Created account {account.name} ({account.id}) with {account.sms_credits} credits.")
        self.stdout.write(secret)

    def _phone(self, raw: str) -> str:
        phone = phone_normalize(raw)
        if phone is None:
            raise CommandError(f"--tester {raw!r} is not a valid phone number.")
        return phone
