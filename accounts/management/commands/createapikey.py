from django.core.management.base import BaseCommand

from accounts.services import api_key_create

from ._account_argument import account_from_argument


class Command(BaseCommand):
    help = "Create an API key for an account (by name or id) and print it: it is shown only this once."

    def add_arguments(self, parser):
        parser.add_argument("account", help="Account name or id.")
        parser.add_argument("--name", default="", help="A label for the key.")

    def handle(self, *args, account, name, **options):
        _, secret = api_key_create(account=account_from_argument(account), name=name)
        self.stdout.write(secret)
