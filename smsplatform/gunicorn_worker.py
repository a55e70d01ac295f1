"""gunicorn's worker, answering in JSON the requests gunicorn refuses itself.

A request line over `limit_request_line`, too many or too large headers, or bytes that are not HTTP
never reach Django: gunicorn answers them with an HTML page of its own (`Worker.handle_error`, which
has no setting for it). This worker keeps gunicorn's choice of status and its logging, and rewrites
the page into the API's error shape, `{"error", "code"}`.
"""

import json
import re

from gunicorn.workers.gthread import ThreadWorker

from smsplatform.api.exceptions import SERVER_ERROR, error_body


def json_error_response(status: int, reason: str) -> bytes:
    """A complete HTTP response: `reason` ("URI Too Long") as the sentence and, in snake case, the code."""
    body = SERVER_ERROR if status == 500 else error_body(f"{reason}.", re.sub(r"\W+", "_", reason.lower()))
    content = json.dumps(body).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(content)}\r\n\r\n"
    )
    return head.encode("latin-1") + content


class _JsonErrorPage:
    """The client's socket as `handle_error` sees it: the error page it writes goes out as JSON."""

    def __init__(self, sock):
        self._sock = sock

    def __getattr__(self, name: str):
        return getattr(self._sock, name)

    def sendall(self, data: bytes) -> None:
        # gunicorn writes the whole page at once, starting "HTTP/1.1 414 URI Too Long\r\n".
        _, status, reason = data.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
        self._sock.sendall(json_error_response(int(status), reason))


class JsonErrorThreadWorker(ThreadWorker):
    """gunicorn's gthread worker, with its own error pages in JSON."""

    def handle_error(self, req, client, addr, exc):
        super().handle_error(req, _JsonErrorPage(client), addr, exc)
