"""The Twilio backend against a real HTTP server on loopback (tests/gateways/twilio_api.py), and its callbacks."""

import base64
import socket
import time

import pytest
from django.http.request import HttpHeaders

from gateways.backends.twilio import TwilioGateway, twilio_signature
from gateways.base import CallbackRefused, OutboundSms, Receipt, ReceiptStatus, SubmitResult, SubmitStatus
from gateways.handler import gateways

from .twilio_api import FakeTwilioApi

ACCOUNT_SID = "AC" + "a1" * 16
AUTH_TOKEN = "our-auth-token"
CALLBACK_URL = "https://sms.example.co.zw/gateways/twilio/status"
MESSAGE_SID = "SM" + "b2" * 16


def sms(body: str = "ok Hello", *, number: int = 1) -> OutboundSms:
    return OutboundSms(
        message_id=str(number), recipient=f"+2637712345{number:02d}", sender="MyBrand", text=body, encoding="GSM-7"
    )


def form_of(message: OutboundSms) -> dict[str, str]:
    return {"To": message.recipient, "Body": message.text}


@pytest.fixture
def api():
    with FakeTwilioApi(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN) as api:
        yield api


@pytest.fixture
def make_gateway(api):
    """Build a TwilioGateway talking to the fake API; every one built is closed after the test."""
    built = []

    def make(**options) -> TwilioGateway:
        defaults = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "base_url": api.base_url}
        gateway = TwilioGateway(alias="twilio", **{**defaults, **options})
        built.append(gateway)
        return gateway

    yield make
    for gateway in built:
        gateway.close()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


# Sending


def test_a_message_is_posted_as_a_form_with_basic_auth(api, make_gateway):
    message = sms("ok Hello from Harare")

    [result] = make_gateway(status_callback_url=CALLBACK_URL).send_messages([message], timeout=5)

    assert result == SubmitResult.accepted(FakeTwilioApi.sid_of(form_of(message)))
    [request] = api.requests
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.authorization == "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert request.content_type == "application/x-www-form-urlencoded"
    assert request.form == {
        "To": "+263771234501",
        "From": "MyBrand",
        "Body": "ok Hello from Harare",
        "StatusCallback": CALLBACK_URL,
    }


def test_without_a_status_callback_url_no_status_callback_is_sent(api, make_gateway):
    make_gateway().send_messages([sms()], timeout=5)

    assert "StatusCallback" not in api.requests[0].form


def test_wait_false_changes_nothing_as_twilio_answers_every_post(make_gateway):
    [result] = make_gateway().send_messages([sms()], timeout=5, wait=False)

    assert result.status == SubmitStatus.ACCEPTED


def test_an_empty_batch_sends_nothing(api, make_gateway):
    assert make_gateway().send_messages([], timeout=5) == []
    assert api.requests == []


def test_a_mixed_batch_answers_each_message_in_order(make_gateway):
    messages = [
        sms("ok first", number=1),
        sms("invalid-to second", number=2),
        sms("ok third", number=3),
        sms("throttled fourth", number=4),
        sms("http-500 fifth", number=5),
        sms("failed sixth", number=6),
        sms("garbage seventh", number=7),
    ]

    results = make_gateway().send_messages(messages, timeout=5)

    assert results == [
        SubmitResult.accepted(FakeTwilioApi.sid_of(form_of(messages[0]))),
        SubmitResult.rejected("The 'To' number +263771234502 is not a valid phone number.", "twilio:21211"),
        SubmitResult.accepted(FakeTwilioApi.sid_of(form_of(messages[2]))),
        SubmitResult.retry("Twilio answered HTTP 429: Too Many Requests", "twilio:20429"),
        SubmitResult.retry("Twilio answered HTTP 500.", "twilio:http_500"),
        SubmitResult.rejected("Twilio marked the message failed.", "twilio:30007"),
        SubmitResult.retry("Twilio's answer has no message sid.", "gateway:bad_response"),
    ]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, SubmitResult.rejected("Twilio refused the message (HTTP 400).", "twilio:http_400")),
        (404, SubmitResult.rejected("Twilio refused the message (HTTP 404).", "twilio:http_404")),
        # Our credentials, Twilio's timeout or our rate limit: another gateway may send the message.
        (401, SubmitResult.retry("Twilio answered HTTP 401.", "twilio:http_401")),
        (403, SubmitResult.retry("Twilio answered HTTP 403.", "twilio:http_403")),
        (408, SubmitResult.retry("Twilio answered HTTP 408.", "twilio:http_408")),
        (429, SubmitResult.retry("Twilio answered HTTP 429.", "twilio:http_429")),
        (500, SubmitResult.retry("Twilio answered HTTP 500.", "twilio:http_500")),
        (503, SubmitResult.retry("Twilio answered HTTP 503.", "twilio:http_503")),
        # Not followed: a redirect would turn the POST into a GET (an http:// base_url is our mistake).
        (301, SubmitResult.retry("Twilio answered HTTP 301.", "twilio:http_301")),
    ],
)
def test_an_error_status_without_a_twilio_body_is_rejected_or_retried(make_gateway, status, expected):
    [result] = make_gateway().send_messages([sms(f"http-{status} hello")], timeout=5)

    assert result == expected


def test_a_wrong_auth_token_is_retried_not_rejected(api, make_gateway):
    [result] = make_gateway(auth_token="not-our-token").send_messages([sms()], timeout=5)

    assert result == SubmitResult.retry("Twilio answered HTTP 401: Authenticate", "twilio:20003")


def test_a_slow_answer_times_out_for_retry(make_gateway):
    started = time.monotonic()

    [result] = make_gateway(timeout=0.3).send_messages([sms("slow hello")], timeout=5)

    assert result == SubmitResult.retry("Twilio did not answer in time.", "gateway:timeout")
    assert time.monotonic() - started < 1.5


def test_a_refused_connection_is_retried(make_gateway):
    [result] = make_gateway(base_url=closed_port_url()).send_messages([sms()], timeout=5)

    assert result.status == SubmitStatus.RETRY
    assert result.error_code == "gateway:connection"
    assert result.error.startswith("Could not reach Twilio: ")


def test_a_batch_reuses_connections_and_sends_concurrency_at_a_time(api, make_gateway):
    api.delay = 0.05  # long enough for requests to overlap
    gateway = make_gateway(concurrency=4)
    messages = [sms(f"ok message {number}", number=number) for number in range(20)]

    first = gateway.send_messages(messages, timeout=10)
    second = gateway.send_messages(messages, timeout=10)

    assert [result.status for result in first + second] == [SubmitStatus.ACCEPTED] * 40
    assert len(api.requests) == 40
    assert api.most_in_flight == 4
    # Kept alive within a batch and from one batch to the next.
    assert api.connections <= 4


def test_close_closes_the_connections_and_a_later_send_opens_new_ones(api, make_gateway):
    gateway = make_gateway(concurrency=1)
    gateway.send_messages([sms()], timeout=5)
    gateway.close()

    [result] = gateway.send_messages([sms()], timeout=5)

    assert result.status == SubmitStatus.ACCEPTED
    assert api.connections == 2


def test_the_whole_batch_stops_at_the_timeout(api, make_gateway):
    messages = [sms(f"slow message {number}", number=number) for number in range(8)]
    started = time.monotonic()

    results = make_gateway(concurrency=2).send_messages(messages, timeout=0.5)

    assert time.monotonic() - started < 1.0
    assert results == [SubmitResult.retry("Twilio did not answer in time.", "gateway:timeout")] * 8
    # The messages still queued at the deadline were never sent.
    assert len(api.requests) < len(messages)


def test_an_answer_trickling_in_cannot_outlast_the_timeout(make_gateway):
    # Each byte arrives well within the read timeout; the whole answer takes seconds.
    started = time.monotonic()

    [result] = make_gateway().send_messages([sms("trickle hello")], timeout=0.5)

    assert time.monotonic() - started < 1.0
    assert result == SubmitResult.retry("Twilio did not answer in time.", "gateway:timeout")


# Options


def test_building_the_backend_through_the_handler_opens_no_connection(api, settings):
    settings.SMS_GATEWAYS = {
        "default": {
            "BACKEND": "gateways.backends.twilio.TwilioGateway",
            "OPTIONS": {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "base_url": api.base_url},
        }
    }

    assert isinstance(gateways["default"], TwilioGateway)
    assert api.connections == 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"account_sid": ""}, "account_sid"),
        ({"auth_token": "  "}, "auth_token"),
        ({"auth_token": None}, "auth_token"),
        ({"base_url": "ftp://api.twilio.com"}, "base_url"),
        ({"base_url": "api.twilio.com"}, "base_url"),
        ({"status_callback_url": "/gateways/twilio/status"}, "status_callback_url"),
        ({"timeout": 0}, "timeout"),
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": 2.5}, "concurrency"),
    ],
)
def test_a_bad_option_is_a_value_error(options, message):
    with pytest.raises(ValueError, match=message):
        TwilioGateway(alias="twilio", **{"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, **options})


def test_a_missing_or_unknown_option_is_a_type_error():
    with pytest.raises(TypeError, match="auth_token"):
        TwilioGateway(alias="twilio", account_sid=ACCOUNT_SID)
    with pytest.raises(TypeError, match="concurency"):
        TwilioGateway(alias="twilio", account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, concurency=2)


# Status callbacks


def test_the_signature_matches_twilios_published_example():
    # The example of Twilio's request-validation documentation and of its helper libraries' tests.
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675309",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
    }

    signature = twilio_signature("https://mycompany.com/myapp.php?foo=1&bar=2", params, "12345")

    assert signature == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def callback_gateway(**options) -> TwilioGateway:
    """A gateway for callbacks only: it sends nothing, so it needs no API."""
    defaults = {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "status_callback_url": CALLBACK_URL}
    return TwilioGateway(alias="twilio", **{**defaults, **options})


def callback_params(status: str, **extra: str) -> dict[str, str]:
    """What Twilio POSTs to a StatusCallback."""
    return {
        "ApiVersion": "2010-04-01",
        "AccountSid": ACCOUNT_SID,
        "MessageSid": MESSAGE_SID,
        "SmsSid": MESSAGE_SID,
        "MessageStatus": status,
        "SmsStatus": status,
        "From": "MyBrand",
        "To": "+263771234501",
        **extra,
    }


def signed(params: dict[str, str], *, token: str = AUTH_TOKEN, url: str = CALLBACK_URL) -> dict[str, str]:
    return {"X-Twilio-Signature": twilio_signature(url, params, token)}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (callback_params("delivered"), Receipt("twilio", MESSAGE_SID, ReceiptStatus.DELIVERED)),
        (
            callback_params("undelivered", ErrorCode="30003"),
            Receipt(
                "twilio", MESSAGE_SID, ReceiptStatus.UNDELIVERED, "Not delivered (Twilio error 30003)", "twilio:30003"
            ),
        ),
        (
            callback_params("failed", ErrorCode="30008"),
            Receipt(
                "twilio", MESSAGE_SID, ReceiptStatus.UNDELIVERED, "Not delivered (Twilio error 30008)", "twilio:30008"
            ),
        ),
        (
            callback_params("failed"),
            Receipt("twilio", MESSAGE_SID, ReceiptStatus.UNDELIVERED, "Not delivered (failed)", "twilio:failed"),
        ),
        (callback_params("sent"), Receipt("twilio", MESSAGE_SID, ReceiptStatus.INTERIM)),
        (callback_params("queued"), Receipt("twilio", MESSAGE_SID, ReceiptStatus.INTERIM)),
    ],
)
def test_a_genuine_callback_is_the_messages_receipt(params, expected):
    assert callback_gateway().status_callback(url=CALLBACK_URL, params=params, headers=signed(params)) == [expected]


def test_the_signature_header_is_read_from_djangos_request_headers():
    gateway = callback_gateway()
    params = callback_params("delivered")
    headers = HttpHeaders({"HTTP_X_TWILIO_SIGNATURE": twilio_signature(CALLBACK_URL, params, AUTH_TOKEN)})

    [receipt] = gateway.status_callback(url=CALLBACK_URL, params=params, headers=headers)

    assert receipt.status == ReceiptStatus.DELIVERED


def test_the_signature_is_checked_against_the_configured_url_not_the_one_the_request_arrived_on():
    # Behind a proxy terminating TLS the request arrives on http://, another host and port.
    arrived_on = "http://web:8000/gateways/twilio/status"
    gateway = callback_gateway()
    params = callback_params("delivered")

    assert gateway.status_callback(url=arrived_on, params=params, headers=signed(params))
    with pytest.raises(CallbackRefused):
        gateway.status_callback(url=arrived_on, params=params, headers=signed(params, url=arrived_on))


def tampered() -> tuple[dict[str, str], dict[str, str]]:
    headers = signed(callback_params("undelivered", ErrorCode="30003"))
    return callback_params("delivered"), headers


def signed_for_another_account() -> tuple[dict[str, str], dict[str, str]]:
    params = callback_params("delivered", AccountSid="AC" + "ff" * 16)
    return params, signed(params)


def signed_without_message_sid() -> tuple[dict[str, str], dict[str, str]]:
    params = callback_params("delivered")
    del params["MessageSid"]
    return params, signed(params)


@pytest.mark.parametrize(
    ("params", "headers"),
    [
        pytest.param(*tampered(), id="a tampered parameter"),
        pytest.param(callback_params("sent"), signed(callback_params("sent"), token="another-token"), id="wrong token"),
        pytest.param(callback_params("sent"), {}, id="no signature header"),
        pytest.param(callback_params("sent"), {"X-Twilio-Signature": "Ünïcode"}, id="a non-ASCII signature"),
        pytest.param(*signed_for_another_account(), id="another account"),
        pytest.param(*signed_without_message_sid(), id="no MessageSid"),
    ],
)
def test_a_callback_that_is_not_genuine_or_not_ours_is_refused(params, headers):
    gateway = callback_gateway()

    with pytest.raises(CallbackRefused):
        gateway.status_callback(url=CALLBACK_URL, params=params, headers=headers)


def test_without_a_status_callback_url_every_callback_is_refused():
    gateway = callback_gateway(status_callback_url="")
    params = callback_params("delivered")

    with pytest.raises(CallbackRefused, match="status_callback_url"):
        gateway.status_callback(url=CALLBACK_URL, params=params, headers=signed(params))
