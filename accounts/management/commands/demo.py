from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.keys import key_hash
from accounts.models import Account, ApiKey
from accounts.services import account_create, api_key_create
from messaging.services import sender_add_approved
from smsplatform.secret_files import secret_file_write

DEMO_ACCOUNT = "Demo"
DEMO_CREDITS = 100
DEMO_SENDER = "Demo"


class Command(BaseCommand):
    help = (
        "Make sure the demo account exists, with the approved sender 'Demo', and print its API key "
        "(kept in DEMO_API_KEY_FILE, mode 0600)."
    )

    def handle(self, *args, **options):
        account = Account.objects.filter(name=DEMO_ACCOUNT).first() or account_create(
            name=DEMO_ACCOUNT, credits=DEMO_CREDITS
        )
        sender_add_approved(account_id=account.id, name=DEMO_SENDER)
        self.stdout.write(f"Demo API key: {self._demo_key(account)}")

    def _demo_key(self, account: Account) -> str:
        path = settings.DEMO_API_KEY_FILE
        if path.exists():
            secret = path.read_text().strip()
            # The file outlives a reset database: reuse the key only while the server still knows it.
            if ApiKey.objects.filter(account=account, key_hash=key_hash(secret), revoked_at__isnull=True).exists():
                return secret
        _, secret = api_key_create(account=account, name="Demo")
        secret_file_write(path=path, secret=secret)
        return secret
