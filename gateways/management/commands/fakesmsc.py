"""`manage.py fakesmsc`: the fake SMSC in the foreground, with an optional JSON control API.

The control API (127.0.0.1 only) lets a benchmark or docker compose drive it:
GET /stats, GET /messages, POST /reset, POST /drop, POST /inject {"from", "to", "text"}, POST /config {fields}.
"""

import asyncio
import dataclasses
import json
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.core.management.base import BaseCommand, CommandError

from gateways.smpp.fakesmsc import FakeSmsc, SmscConfig
from gateways.smpp.pdu import Status


def _prefix_state(value: str) -> tuple[str, str]:
    prefix, separator, state = value.partition("=")
    if not separator:
        raise ValueError(f"{value!r} is not PREFIX=STATE")
    return prefix.removeprefix("+"), state.upper()


def _status(value: str) -> int:
    return Status[value.upper()] if value.upper().startswith("ESME_") else int(value, 0)


class Command(BaseCommand):
    help = "Run a fake SMSC speaking SMPP 3.4, for development and benchmarks."
    # It uses neither the database nor the project's settings: start at once, even where checks would fail.
    requires_system_checks = []

    def add_arguments(self, parser):
        defaults = SmscConfig()
        parser.add_argument("--host", default=defaults.host)
        parser.add_argument("--port", type=int, default=defaults.port, help="0: any free port.")
        parser.add_argument("--system-id", help="Only this system_id binds (default: any).")
        parser.add_argument("--password", help="Only this password binds (default: any).")
        parser.add_argument("--receipt-delay", type=float, default=defaults.receipt_delay, help="Seconds.")
        parser.add_argument("--no-receipts", dest="receipt_delay", action="store_const", const=None)
        parser.add_argument("--receipt-status", type=str.upper, default=defaults.receipt_status)
        parser.add_argument(
            "--receipt-status-prefix",
            dest="receipt_status_by_prefix",
            type=_prefix_state,
            action="append",
            default=[],
            metavar="PREFIX=STATE",
            help="The receipt state for destinations starting with PREFIX (repeatable), e.g. 26371=UNDELIV.",
        )
        parser.add_argument("--receipt-id-format", choices=("hex", "dec"), default=defaults.receipt_id_format)
        parser.add_argument("--receipt-date-digits", type=int, choices=(10, 12), default=defaults.receipt_date_digits)
        parser.add_argument("--throttle-tps", type=int, default=defaults.throttle_tps, help="0: never throttle.")
        parser.add_argument("--reject-share", type=float, default=defaults.reject_share, help="0 to 1.")
        parser.add_argument(
            "--reject-status", type=_status, default=defaults.reject_status, help="A name (ESME_RINVDSTADR) or number."
        )
        parser.add_argument(
            "--reject-prefix", dest="reject_prefixes", action="append", default=[], help="Repeatable; digits, no +."
        )
        parser.add_argument("--seed", type=int, default=defaults.seed, help="Of the reject-share draws.")
        parser.add_argument("--response-delay", type=float, default=defaults.response_delay, help="Seconds.")
        parser.add_argument("--drop-after", type=int, default=defaults.drop_after, help="0: never.")
        parser.add_argument(
            "--no-enquire-link-answers", dest="answer_enquire_link", action="store_false", help="Play a dead link."
        )
        parser.add_argument("--gsm7-packed", action="store_true", help="GSM-7 short_message is 7-bit packed.")
        parser.add_argument("--keep-messages", type=int, default=defaults.keep_messages)
        parser.add_argument("--control-port", type=int, help="Serve the JSON control API on 127.0.0.1:PORT.")

    def handle(self, *args, control_port, **options):
        try:
            config = config_from_options(options)
        except ValueError as error:
            raise CommandError(str(error)) from error
        asyncio.run(self._serve(config, control_port))

    async def _serve(self, config: SmscConfig, control_port: int | None) -> None:
        smsc = FakeSmsc(config)
        await smsc.start()
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signal_number, stopping.set)
        control = control_server(smsc, control_port) if control_port is not None else None
        self.stdout.write(f"Fake SMSC listening on {config.host}:{smsc.port}")
        if control is not None:
            threading.Thread(target=control.serve_forever, name="fakesmsc-control", daemon=True).start()
            self.stdout.write(f"Control API on http://127.0.0.1:{control.server_address[1]}")
        await stopping.wait()
        if control is not None:
            control.shutdown()  # from the loop thread: serve_forever runs in its own
            control.server_close()
        await smsc.stop()
        self.stdout.write(f"Stopped: {json.dumps(smsc.stats())}")


def config_from_options(options: dict) -> SmscConfig:
    """The SmscConfig of parsed command-line options (one flag per field, named after it)."""
    values = {field.name: options[field.name] for field in dataclasses.fields(SmscConfig)}
    values["receipt_status_by_prefix"] = dict(values["receipt_status_by_prefix"])
    return SmscConfig(**values)


def control_server(smsc: FakeSmsc, port: int) -> ThreadingHTTPServer:
    """The JSON control API of a running fake SMSC on 127.0.0.1:port (0: any free port); call serve_forever()."""

    class ControlHandler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/stats":
                self._reply(200, smsc.stats())
            elif self.path == "/messages":
                self._reply(200, smsc.messages())
            else:
                self._reply(404, {"error": "Not found."})

        def do_POST(self):
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if self.path == "/reset":
                    smsc.reset()
                    self._reply(200, smsc.stats())
                elif self.path == "/drop":
                    smsc.drop_connections()
                    self._reply(200, {"dropped": True})
                elif self.path == "/inject":
                    sent = smsc.inject_inbound(body["from"], body["to"], body["text"])
                    self._reply(200 if sent else 409, {"sent": sent})
                elif self.path == "/config":
                    smsc.configure(**body)
                    self._reply(200, dataclasses.asdict(smsc.config))
                else:
                    self._reply(404, {"error": "Not found."})
            # A bad request (also JSON nested too deep for the decoder), not a crash.
            except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as error:
                self._reply(400, {"error": f"{type(error).__name__}: {error}"})

        def _reply(self, status: int, payload) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format, *args):
            """Quiet: a benchmark polls /stats often."""

    return ThreadingHTTPServer(("127.0.0.1", port), ControlHandler)
