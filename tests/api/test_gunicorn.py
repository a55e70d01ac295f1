"""gunicorn as `make run` and the image run it (./gunicorn.conf.py): what it refuses before Django is JSON too."""

import http.client
import json
import os
import socket
import sys

import pytest

from smsplatform.gunicorn_worker import json_error_response
from tests.worker import process_running, wait_until


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def exchange(port: int, raw: bytes) -> http.client.HTTPResponse:
    """Sends `raw` bytes as they are (no client would send most of these) and reads the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        response = http.client.HTTPResponse(sock)
        response.begin()
        response.body = response.read()
        return response


def answers(port: int) -> bool:
    try:
        return exchange(port, b"GET /api/v1/health/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    except OSError:
        return False


@pytest.fixture(scope="module")
def gunicorn_port(tmp_path_factory):
    """gunicorn on a free loopback port, started from the project root as bin/run and the image start it."""
    tmp_path = tmp_path_factory.mktemp("gunicorn")
    port = free_port()
    # Embedded and on its own: nothing sent here reaches the database or the broker.
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DJANGO_SETTINGS_MODULE="tests.settings", VAR_DIR=str(tmp_path), WEB_CONCURRENCY="1")
    command = [sys.executable, "-m", "gunicorn", "smsplatform.wsgi", "--bind", f"127.0.0.1:{port}"]
    with process_running(command, env=env, log_path=tmp_path / "gunicorn.log") as process:
        wait_until(lambda: answers(port), log=process.log_path)
        yield port


HOST = b"Host: 127.0.0.1\r\n"


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        pytest.param(
            b"GET /?q=" + b"a" * 5000 + b" HTTP/1.1\r\n" + HOST + b"\r\n", 414, "uri_too_long", id="long-line"
        ),
        pytest.param(
            b"GET / HTTP/1.1\r\n" + HOST + b"X-Big: " + b"a" * 9000 + b"\r\n\r\n",
            431,
            "request_header_fields_too_large",
            id="large-header",
        ),
        pytest.param(
            b"GET / HTTP/1.1\r\n" + HOST + b"".join(b"X-H%d: 1\r\n" % n for n in range(101)) + b"\r\n",
            431,
            "request_header_fields_too_large",
            id="too-many-headers",
        ),
        pytest.param(b"GARBAGE\r\n\r\n", 400, "bad_request", id="not-http"),
        pytest.param(b"GET / HTTP/9.9\r\n" + HOST + b"\r\n", 400, "bad_request", id="http-version"),
        pytest.param(b"GET / HTTP/1.1\r\n" + HOST + b"Expect: x\r\n\r\n", 417, "expectation_failed", id="expect"),
    ],
)
def test_what_gunicorn_refuses_itself_is_a_json_error(gunicorn_port, raw, status, code):
    response = exchange(gunicorn_port, raw)

    assert response.status == status
    assert response.getheader("Content-Type") == "application/json"
    body = json.loads(response.body)
    assert body["code"] == code
    assert body["error"] == response.reason + "."
    assert int(response.getheader("Content-Length")) == len(response.body)


def test_a_gunicorn_500_is_the_apis_server_error():
    head, body = json_error_response(500, "Internal Server Error").split(b"\r\n\r\n")

    assert head.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
    assert json.loads(body) == {"error": "Internal server error.", "code": "server_error"}
