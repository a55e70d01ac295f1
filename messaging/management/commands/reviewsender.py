from django.core.management.base import BaseCommand, CommandError

from accounts.management.commands._account_argument import account_from_argument
from messaging.models import SenderId
from messaging.services import sender_review


class Command(BaseCommand):
    help = "Approve or reject an account's sender ID."

    def add_arguments(self, parser):
        parser.add_argument("account", help="Account name or id.")
        parser.add_argument("name", help="The sender ID's name.")
        decision = parser.add_mutually_exclusive_group(required=True)
        decision.add_argument("--approve", action="store_true")
        decision.add_argument("--reject", action="store_true")
        parser.add_argument("--reason", default="", help="Why it is rejected (required with --reject).")

    def handle(self, *args, account, name, approve, reject, reason, **options):
        if reject and not reason.strip():
            raise CommandError("--reject needs a --reason.")
        sender = SenderId.objects.filter(account=account_from_argument(account), name__iexact=name).first()
        if sender is None:
            raise CommandError(f"The account has no sender ID named {name!r}.")
        sender_review(sender=sender, approve=approve, reason=reason.strip())
        self.stdout.write(f"Sender ID {sender.name} is {sender.status}.")
