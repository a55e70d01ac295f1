"""A loopback HTTP server that receives webhooks, for the tests and the benchmark.

It records every POST (headers and body), counts the requests in flight at once, and answers each one as
`answers` says: a list of statuses used in turn (the last one for ever after), optionally after `delay` seconds.
"""

import functools
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict:
        return json.loads(self.body)


class WebhookReceiver:
    def __init__(self, *answers: int, delay: float = 0.0, delays: list[float] | None = None):
        self.answers = list(answers) or [200]
        self.delay = delay  # seconds before each answer
        self.delays = list(delays or [])  # or these, one per request in turn, then `delay`
        self.received: list[Received] = []
        self.most_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.receiver = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks"
        self.origin = self.url.removesuffix("/hooks")

    def __enter__(self) -> "WebhookReceiver":
        serve = functools.partial(self._server.serve_forever, poll_interval=0.02)
        threading.Thread(target=serve, name="webhook-receiver", daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stopping.set()  # ends the answers still waiting
        self._server.shutdown()
        self._server.server_close()

    def events(self, type_: str | None = None) -> list[dict]:
        with self._lock:
            return [request.event for request in self.received if type_ is None or request.event["type"] == type_]

    def arrived(self, request: Received) -> tuple[int, float]:
        """Count a request in; its status and how long to wait before answering."""
        with self._lock:
            self.received.append(request)
            self._in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self._in_flight)
            status = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
            delay = self.delays.pop(0) if self.delays else self.delay
        return status, delay

    def answered(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)


class _Server(ThreadingHTTPServer):
    receiver: WebhookReceiver
    daemon_threads = True
    request_queue_size = 1024  # the benchmark opens hundreds of connections at once

    def handle_error(self, request, client_address) -> None:
        """Quiet: a client that gave up on a slow answer closes its connection while we still write."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver
    # Headers and body leave at once, as from a real server: with Nagle's algorithm the body would wait for the
    # client's delayed ACK of the headers (up to 40 ms on Linux), a delay of this receiver's, not of the sender's.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format, *args) -> None:
        """Quiet."""

    def do_POST(self) -> None:
        receiver = self.server.receiver
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        status, delay = receiver.arrived(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        try:
            receiver.wait(delay)
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        finally:
            receiver.answered()
