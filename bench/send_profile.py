"""Where a send's CPU goes, in µs per request and by layer: POST /api/v1/sms/send/ called in-process through
the WSGI application (the code gunicorn runs, without the socket) on PostgreSQL and Redis, the fake gateway.

It prints the mean wall and CPU time of a send without a profiler, then each layer's share of the CPU time under
cProfile scaled to the unprofiled mean (the web process's CPU is what limits the rate on a machine of 2 cores), and
the time spent waiting on PostgreSQL and Redis, as a share of the wall time. Layers nest; `self`
is the layer's time outside the layers under it. Last, the instructions the web process executes a send, counted by
valgrind's callgrind: times move with the machine's load and its neighbours (the same send measured 1,496 and 2,617
µs of CPU on two days), a count of instructions does not, so it compares two commits on a noisy machine. Settings
from the environment: BENCH_PROFILE_SENDS (3000), BENCH_PROFILE_COUNTED_SENDS (300; 0 for no count).
"""

import cProfile
import io
import json
import os
import pstats
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import PYTHON, ROOT, fresh_database, manage, platform_env, redis_flush, require

DATABASE = "smsplatform_bench_send_profile"

# (layer, the functions whose cumulative time it is: (file ending, line-independent function name)); nested
# layers come after the layer they are part of.
LAYERS = [
    ("request: WSGI handler, Django and its middleware", [("django/core/handlers/wsgi.py", "__call__")]),
    ("DRF view: dispatch", [("rest_framework/views.py", "dispatch")]),
    ("DRF: authentication and throttling", [("rest_framework/views.py", "initial")]),
    ("API key lookup and rate count (Redis)", [("accounts/selectors.py", "api_key_authenticate")]),
    ("DRF: parse and validate the body", [
        ("rest_framework/serializers.py", "is_valid"), ("smsplatform/api/plain_input.py", "plain_input"),
    ]),
    ("service: message_send", [("messaging/services.py", "message_send")]),
    ("phone number (phonenumbers)", [("messaging/phone.py", "phone_normalize")]),
    ("segments", [("messaging/segments.py", "segment_count")]),
    ("sender approved, sandbox, opt-out", [
        ("messaging/selectors.py", "sender_approved"), ("messaging/selectors.py", "opt_out_exists"),
    ]),
    ("charge and insert (one statement)", [("billing/services.py", "credits_debit")]),
    ("submit to the gateway and record", [("messaging/services.py", "message_submit")]),
    ("DRF: render the response", [("rest_framework/response.py", "rendered_content")]),
]  # fmt: skip
WAITS = [
    ("PostgreSQL round trips", [("psycopg/cursor.py", "execute")]),
    ("Redis round trips", [("redis/connection.py", "read_response"), ("redis/connection.py", "send_packed_command")]),
]


def environ(key: str, number: int) -> dict:
    body = json.dumps(
        {"to": f"0772{number % 1000000:06d}", "sender": "Bench", "message": "Your order 4711 is ready for collection."}
    ).encode()
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/api/v1/sms/send/",
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_X_API_KEY": key,
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def send_all(application, key: str, first: int, count: int) -> None:
    def start_response(status, headers, exc_info=None):
        if not status.startswith("201"):
            raise RuntimeError(f"send answered {status}")

    for number in range(first, first + count):
        for _ in application(environ(key, number), start_response):
            pass


def profiled(application, key: str, first: int, count: int, *, timer) -> pstats.Stats:
    profiler = cProfile.Profile(timer)
    profiler.enable()
    send_all(application, key, first, count)
    profiler.disable()
    return pstats.Stats(profiler)


def cumulative(stats: pstats.Stats, functions: list[tuple[str, str]]) -> float:
    total = 0.0
    for (filename, _, name), (_, _, _, cumulative_seconds, _) in stats.stats.items():
        if any(filename.endswith(suffix) and name == wanted for suffix, wanted in functions):
            total += cumulative_seconds
    return total


def instructions_per_send(env: dict, key: str, sends: int) -> float:
    """The web process's instructions a send: two runs under callgrind, warmed by the same 200 sends, one with
    `sends` more; the difference of their totals divided by `sends` leaves out start-up and warm-up."""
    valgrind = require("valgrind")

    def total(count: int, first: int) -> int:
        run = subprocess.run(
            [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", PYTHON, __file__, key, str(first),
             str(200 + count)],
            cwd=ROOT, env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return int(re.search(r"Collected : (\d+)", run.stderr).group(1))

    return (total(sends, 3_000_000) - total(0, 2_000_000)) / sends


def wsgi_application():
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "smsplatform.settings"
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


def main() -> dict:
    sends = int(os.environ.get("BENCH_PROFILE_SENDS", "3000"))
    fresh_database(DATABASE)
    redis_flush()
    env = platform_env(DATABASE, API_RATE_LIMIT="1000000/s")
    manage(env, "migrate", "--no-input")
    key = manage(env, "createaccount", "Bench", "--credits", "10000000", "--sender", "Bench").splitlines()[-1]
    os.environ.update(env)
    application = wsgi_application()
    send_all(application, key, 0, 200)  # warm: connections, imports, caches

    wall, cpu = time.perf_counter(), time.process_time()
    send_all(application, key, 1000, sends)
    wall_us = (time.perf_counter() - wall) / sends * 1e6
    cpu_us = (time.process_time() - cpu) / sends * 1e6

    cpu_stats = profiled(application, key, 500000, sends, timer=time.process_time)
    cpu_scale = cpu_us / cumulative(cpu_stats, LAYERS[0][1])
    wall_stats = profiled(application, key, 800000, sends, timer=time.perf_counter)
    wall_scale = wall_us / cumulative(wall_stats, LAYERS[0][1])
    counted = int(os.environ.get("BENCH_PROFILE_COUNTED_SENDS", "300"))
    return {
        "benchmark": "sms_send_profile",
        "sends": sends,
        "gateway": "fake, no delivery reports",
        "per_send_us": {"wall": round(wall_us, 1), "cpu": round(cpu_us, 1)},
        "cpu_layers_us": {name: round(cumulative(cpu_stats, functions) * cpu_scale, 1) for name, functions in LAYERS},
        "waits_us": {name: round(cumulative(wall_stats, functions) * wall_scale, 1) for name, functions in WAITS},
        "instructions_per_send": round(instructions_per_send(env, key, counted)) if counted else None,
        "note": "layers nest as listed: each includes those indented under it in docs/performance.md",
    }


if __name__ == "__main__":
    if len(sys.argv) == 4:  # under callgrind: only the sends (key, first number, count)
        send_all(wsgi_application(), sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
    else:
        print(json.dumps(main(), indent=2))
