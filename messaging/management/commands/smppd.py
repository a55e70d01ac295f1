import asyncio
import signal

from django.conf import settings
from django.core.management.base import BaseCommand

from gateways.handler import gateways
from gateways.smpp.daemon import BindDaemon
from messaging.bindstore import DatabaseStore


def bind_gateways() -> list:
    """The configured gateways whose connections live in the bind process."""
    return [gateways[alias] for alias in settings.SMS_GATEWAYS if gateways[alias].bind_process]


class Command(BaseCommand):
    help = "The bind process: hold every SMPP bind, submit the messages handed to it, apply receipts."

    def add_arguments(self, parser):
        parser.add_argument(
            "--list", dest="list_only", action="store_true", help="print the SMPP gateways' aliases and exit"
        )
        parser.add_argument("--instance", default="", help="this process's name among bind processes (default: unique)")

    def handle(self, *args, list_only: bool, instance: str, **options):
        configured = bind_gateways()
        if list_only:
            for gateway in configured:
                self.stdout.write(gateway.alias)
            return
        if not configured:
            self.stdout.write("No SMPP gateway in SMS_GATEWAYS: nothing to bind.")
            return
        asyncio.run(self._run(configured, instance))

    async def _run(self, configured: list, instance: str) -> None:
        daemon = BindDaemon(
            gateways=configured,
            store=DatabaseStore(),
            redis_url=settings.REDIS_URL,
            handoff_lease=settings.SMS_HANDOFF_LEASE,
            instance=instance,
        )
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, daemon.stop)
        self.stdout.write(f"smppd {daemon.instance}: {', '.join(gateway.alias for gateway in configured)}")
        await daemon.run()
