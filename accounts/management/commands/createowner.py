import getpass
import os
import sys

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User

from ._account_argument import account_from_argument

PASSWORD_VARIABLE = "DJANGO_OWNER_PASSWORD"


class Command(BaseCommand):
    help = (
        "Create an account owner: a staff user who signs in to the dashboard (/admin/) and manages only their "
        f"account. Asks for the password, or takes it from {PASSWORD_VARIABLE} with --no-input."
    )

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True, help="Account name or id.")
        parser.add_argument("--email", required=True)
        parser.add_argument("--username", help="Defaults to the email address.")
        parser.add_argument(
            "--no-input",
            action="store_false",
            dest="interactive",
            help=f"Do not ask for the password: take it from {PASSWORD_VARIABLE}.",
        )

    def handle(self, *args, account, email, username, interactive, **options):
        # Staff with an account and no Django permissions: the dashboard lets them manage that account's rows
        # and nothing else (smsplatform/admin.py).
        owner = User(username=username or email, email=email, is_staff=True, account=account_from_argument(account))
        try:
            owner.full_clean(exclude=["password"])  # a taken username or a bad email fails before the prompt
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        owner.set_password(self._password(owner, interactive=interactive))
        owner.save()
        self.stdout.write(f"Created {owner.username}, owner of {owner.account.name}: they sign in at /admin/.")

    def _password(self, owner: User, *, interactive: bool) -> str:
        if not interactive:
            password = os.environ.get(PASSWORD_VARIABLE, "")
        elif not sys.stdin.isatty():
            raise CommandError(f"No terminal to ask for the password: use --no-input and set {PASSWORD_VARIABLE}.")
        else:
            password = getpass.getpass()
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords do not match.")
        if not password:
            raise CommandError(f"The password cannot be blank (with --no-input, set {PASSWORD_VARIABLE}).")
        try:
            validate_password(password, owner)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        return password
