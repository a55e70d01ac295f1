"""`manage.py fakesmsc`: its flags, its JSON control API, and a clean stop on SIGTERM (no database needed)."""

import asyncio
import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from gateways.management.commands.fakesmsc import Command, config_from_options, control_server
from gateways.smpp.fakesmsc import SmscConfig, run_in_thread
from gateways.smpp.pdu import CommandId, Status

from .client_helper import SmppTestClient

PROJECT = Path(__file__).resolve().parents[3]


def parse(*argv: str) -> SmscConfig:
    options = vars(Command().create_parser("manage.py", "fakesmsc").parse_args(argv))
    return config_from_options(options)


def test_every_config_field_has_a_flag_with_its_default():
    assert parse() == SmscConfig()


def test_flags_set_every_config_field():
    config = parse(
        *("--host", "0.0.0.0", "--port", "0", "--system-id", "acme", "--password", "pw"),
        *("--receipt-delay", "0.5", "--receipt-status", "undeliv"),
        *("--receipt-status-prefix", "+26371=EXPIRED", "--receipt-status-prefix", "26377=REJECTD"),
        *("--receipt-id-format", "dec", "--receipt-date-digits", "12", "--throttle-tps", "100"),
        *(
            "--reject-share",
            "0.25",
            "--reject-status",
            "ESME_RSUBMITFAIL",
            "--reject-prefix",
            "1",
            "--reject-prefix",
            "2",
        ),
        *("--seed", "9", "--response-delay", "0.01", "--drop-after", "1000", "--no-enquire-link-answers"),
        *("--gsm7-packed", "--keep-messages", "5"),
    )
    assert config == SmscConfig(
        host="0.0.0.0",
        port=0,
        system_id="acme",
        password="pw",
        receipt_delay=0.5,
        receipt_status="UNDELIV",
        receipt_status_by_prefix={"26371": "EXPIRED", "26377": "REJECTD"},
        receipt_id_format="dec",
        receipt_date_digits=12,
        throttle_tps=100,
        reject_share=0.25,
        reject_status=Status.ESME_RSUBMITFAIL,
        reject_prefixes=["1", "2"],
        seed=9,
        response_delay=0.01,
        drop_after=1000,
        answer_enquire_link=False,
        gsm7_packed=True,
        keep_messages=5,
    )
    assert set(dataclasses.asdict(config)) == {field.name for field in dataclasses.fields(SmscConfig)}


def test_no_receipts_and_a_numeric_reject_status():
    config = parse("--no-receipts", "--reject-status", "0x45")
    assert (config.receipt_delay, config.reject_status) == (None, Status.ESME_RSUBMITFAIL)


@pytest.fixture
def control():
    """A fake SMSC and the base URL of its control API."""
    with run_in_thread(SmscConfig(port=0, receipt_delay=None)) as smsc:
        server = control_server(smsc, 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield smsc, f"http://127.0.0.1:{server.server_address[1]}"
        server.shutdown()
        server.server_close()


def call(url: str, payload: dict | None = None, method: str | None = None) -> tuple[int, object]:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, method=method or ("GET" if data is None else "POST"))
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_the_control_api_reports_configures_injects_and_resets(control):
    smsc, base = control
    assert call(f"{base}/stats") == (200, smsc.stats())
    status, config = call(f"{base}/config", {"throttle_tps": 7, "reject_prefixes": ["26377"]})
    assert (status, config["throttle_tps"], config["reject_prefixes"]) == (200, 7, ["26377"])
    assert smsc.config.throttle_tps == 7
    assert call(f"{base}/inject", {"from": "263771234567", "to": "12345", "text": "hi"}) == (409, {"sent": False})

    async def scenario():
        async with await SmppTestClient.connect(smsc.port) as client:
            await client.bind(CommandId.BIND_TRANSCEIVER)
            injected = await asyncio.to_thread(
                call, f"{base}/inject", {"from": "263771234567", "to": "12345", "text": "hi"}
            )
            delivered = await client.next_deliver_sm()
            await client.submit("263781234567", "kept")
            await asyncio.to_thread(call, f"{base}/drop", method="POST")
            await client.wait_closed()
            return injected, delivered

    injected, delivered = asyncio.run(scenario())
    assert injected == (200, {"sent": True})
    assert delivered.fields["short_message"] == b"hi"
    assert [message["text"] for message in call(f"{base}/messages")[1]] == ["kept"]
    assert call(f"{base}/reset", method="POST")[1]["submit_sm"] == 0
    assert call(f"{base}/messages") == (200, [])


@pytest.mark.parametrize(
    ("path", "payload", "status"),
    [
        ("/config", {"no_such_field": 1}, 400),
        ("/config", {"receipt_date_digits": 9}, 400),
        ("/config", {"port": 1}, 400),
        ("/inject", {"from": "1"}, 400),
        ("/nowhere", {}, 404),
    ],
)
def test_the_control_api_answers_a_bad_request_with_its_error(control, path, payload, status):
    _, base = control
    answer_status, body = call(base + path, payload)
    assert answer_status == status
    assert body["error"]


def test_the_control_api_answers_json_nested_too_deep_with_a_bad_request(control):
    _, base = control
    request = urllib.request.Request(f"{base}/config", data=b"[" * 10_000 + b"]" * 10_000, method="POST")

    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=5)

    assert answer.value.code == 400
    assert json.load(answer.value)["error"].startswith("RecursionError")


def test_the_command_serves_until_sigterm_then_stops_cleanly():
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "fakesmsc", "--port", "0", "--control-port", "0", "--no-receipts"],
        cwd=PROJECT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        listening = process.stdout.readline()
        control_line = process.stdout.readline()
        assert listening.startswith("Fake SMSC listening on 127.0.0.1:"), listening + process.stderr.read()
        port = int(listening.rsplit(":", 1)[1])
        base = control_line.split()[-1]

        async def scenario():
            async with await SmppTestClient.connect(port) as client:
                return (await client.bind()).status

        assert asyncio.run(scenario()) == Status.ESME_ROK
        assert call(f"{base}/stats")[1]["binds"] == 1
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=10)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert stdout.startswith("Stopped: ")
