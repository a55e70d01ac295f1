"""A loopback HTTP server shaped like Twilio's Messages API, for the Twilio backend's tests.

It checks the path and basic auth, records every form POST, counts connections and requests in flight,
and answers each message by the first word of its Body (see `FakeTwilioApi.answer`).
"""

import base64
import functools
import hashlib
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

# How long the `slow` and `trickle` answers take: far beyond any timeout the tests give.
SLOW_SECONDS = 3.0


@dataclass(frozen=True)
class Received:
    path: str
    authorization: str
    content_type: str
    form: dict[str, str]


class FakeTwilioApi:
    def __init__(self, *, account_sid: str, auth_token: str):
        self.messages_path = f"/2010-04-01/Accounts/{account_sid}/Messages.json"
        credentials = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
        self.expected_authorization = f"Basic {credentials}"
        self.delay = 0.0  # seconds each answer waits, to make requests overlap
        self.requests: list[Received] = []
        self.connections = 0
        self.most_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.api = self
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "FakeTwilioApi":
        # Polls often: shutdown() waits for the next poll.
        serve = functools.partial(self._server.serve_forever, poll_interval=0.02)
        threading.Thread(target=serve, name="fake-twilio", daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stopping.set()  # ends the slow answers still sleeping
        self._server.shutdown()
        self._server.server_close()

    @staticmethod
    def sid_of(form: dict[str, str]) -> str:
        """The message sid the fake gives a form: the same for the same message, whatever the order of arrival."""
        return "SM" + hashlib.md5(f"{form['To']}|{form['Body']}".encode()).hexdigest()

    def connection_opened(self) -> None:
        with self._lock:
            self.connections += 1

    def received(self, request: Received) -> None:
        with self._lock:
            self.requests.append(request)
            self._in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self._in_flight)

    def answered(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)


class _Server(ThreadingHTTPServer):
    api: FakeTwilioApi

    def handle_error(self, request, client_address) -> None:
        """Quiet: a client that gave up on a slow answer closes its connection while the fake still writes."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Twilio's API
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.api.connection_opened()

    def log_message(self, format, *args) -> None:
        """Quiet."""

    def do_POST(self) -> None:
        api = self.server.api
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        form = dict(parse_qsl(raw, keep_blank_values=True))
        api.received(
            Received(self.path, self.headers.get("Authorization", ""), self.headers.get("Content-Type", ""), form)
        )
        try:
            api.sleep(api.delay)
            if self.path != api.messages_path:
                self._json(404, {"code": 20404, "message": f"The requested resource {self.path} was not found"})
            elif self.headers.get("Authorization") != api.expected_authorization:
                self._json(401, {"code": 20003, "message": "Authenticate", "status": 401})
            else:
                self._answer(form)
        finally:
            api.answered()

    def _answer(self, form: dict[str, str]) -> None:
        """Answers as the first word of the Body says: ok, invalid-to, failed, throttled, slow, trickle, garbage,
        or http-NNN (that status, with a body that is not JSON)."""
        scenario = form["Body"].split(" ", 1)[0]
        created = {"sid": FakeTwilioApi.sid_of(form), "status": "queued", "error_code": None, "error_message": None}
        if scenario == "invalid-to":
            message = f"The 'To' number {form['To']} is not a valid phone number."
            self._json(400, {"code": 21211, "message": message, "status": 400})
        elif scenario == "failed":
            self._json(201, {**created, "status": "failed", "error_code": 30007})
        elif scenario == "throttled":
            self._json(429, {"code": 20429, "message": "Too Many Requests", "status": 429})
        elif scenario == "slow":
            self.server.api.sleep(SLOW_SECONDS)
            self._json(201, created)
        elif scenario == "trickle":
            self._trickle(json.dumps(created).encode())
        elif scenario == "garbage":
            self._send(200, b"<html>Bad gateway</html>", "text/html")
        elif scenario.startswith("http-"):
            self._send(int(scenario.removeprefix("http-")), b"Something went wrong", "text/plain")
        else:
            self._json(201, created)

    def _json(self, status: int, body: dict) -> None:
        self._send(status, json.dumps(body).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _trickle(self, body: bytes) -> None:
        """A byte at a time, each well within a read timeout, the whole far beyond it."""
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        for byte in body:
            self.server.api.sleep(SLOW_SECONDS / len(body))
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
