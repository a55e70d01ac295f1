from django.core.management.base import BaseCommand

from reports.services import usage_rebuild


class Command(BaseCommand):
    help = (
        "Recompute the daily usage rollup from the messages (of one account, or of all). Writers of messages wait "
        "meanwhile on PostgreSQL. The rollup is kept exact without it; this is for a changed zone or a doubt."
    )

    def add_arguments(self, parser):
        parser.add_argument("--account", help="The id of one account; all accounts by default.")

    def handle(self, *args, account=None, **options):
        rows = usage_rebuild(account_id=account)
        self.stdout.write(f"Rebuilt the usage rollup: {rows} row(s).")
