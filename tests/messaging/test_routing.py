"""Routing by prefix, failover, the circuit breaker and provider status callbacks, through the API, with the
Twilio-shaped backend talking to a real HTTP server on loopback."""

from urllib.parse import urlencode

import pytest

from gateways.backends.twilio import twilio_signature
from gateways.checks import check_sms_gateways
from gateways.circuit import circuit_close, circuit_is_open
from gateways.router import routes_for, usable_routes
from messaging.models import Message
from tests.factories import balance
from tests.gateways.twilio_api import FakeTwilioApi

ACCOUNT_SID = "AC" + "c3" * 16
AUTH_TOKEN = "routing-token"
CALLBACK_URL = "https://sms.example.co.zw/api/v1/gateways/twilio/status/"
FAKE = {"BACKEND": "gateways.backends.fake.FakeGateway", "OPTIONS": {"delivery_delay": None}}


@pytest.fixture
def twilio_api():
    with FakeTwilioApi(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN) as api:
        yield api


@pytest.fixture
def routed(settings, twilio_api):
    """Econet numbers (+26377) go to Twilio first, then the fake; NetOne (+26371) to the fake only."""
    settings.SMS_GATEWAYS = {
        "default": FAKE,
        "twilio": {
            "BACKEND": "gateways.backends.twilio.TwilioGateway",
            "OPTIONS": {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "base_url": twilio_api.base_url,
                        "status_callback_url": CALLBACK_URL, "timeout": 2},
        },
    }  # fmt: skip
    settings.SMS_ROUTES = {"+26377": ["twilio", "default"], "+26371": ["default"]}
    return twilio_api


def send(client, text="Hello", to="0771234567"):
    return client.post("/api/v1/sms/send/", {"to": to, "sender": "MyBrand", "message": text}, format="json")


def test_the_longest_matching_prefix_wins_and_the_default_catches_the_rest(settings):
    settings.SMS_GATEWAYS = {"default": FAKE, "econet": FAKE, "econet78": FAKE}
    settings.SMS_ROUTES = {"+26377": ["econet"], "+263778": ["econet78", "econet"]}

    assert routes_for("+263771234567") == ("econet",)
    assert routes_for("+263778123456") == ("econet78", "econet")
    assert routes_for("+263712345678") == ("default",)
    assert routes_for("+447700900123") == ("default",)


def test_a_message_goes_to_the_first_gateway_of_its_route(api_client, sender, routed):
    body = send(api_client, "ok Hello").json()

    message = Message.objects.get(pk=body["message_id"])
    assert (body["status"], message.gateway) == ("sent", "twilio")
    assert [part.gateway_message_id for part in message.parts.all()] == [
        FakeTwilioApi.sid_of({"To": "+263771234567", "Body": "ok Hello"})
    ]
    assert [(request.form["To"], request.form["StatusCallback"]) for request in routed.requests] == [
        ("+263771234567", CALLBACK_URL)
    ]


def test_a_gateway_answering_retry_fails_over_to_the_next_within_the_request(api_client, sender, routed, outbox):
    body = send(api_client, "http-503 Hello").json()

    message = Message.objects.get(pk=body["message_id"])
    assert (body["status"], message.gateway, message.error) == ("sent", "default", "")
    assert len(routed.requests) == 1
    assert [sms.text for sms in outbox] == ["http-503 Hello"]


def test_a_rejection_does_not_fail_over_and_is_refunded_with_its_code(api_client, account, sender, routed, outbox):
    body = send(api_client, "invalid-to Hello").json()

    message = Message.objects.get(pk=body["message_id"])
    assert (body["status"], body["sms_credits"]) == ("failed", 100)
    assert (message.error_code, message.gateway) == ("twilio:21211", "")
    assert "not a valid phone number" in message.error
    assert list(outbox) == []
    assert balance(account) == 100


def test_a_route_with_one_gateway_never_touches_the_others(api_client, sender, routed, outbox):
    assert send(api_client, "ok Hello", to="0712345678").json()["status"] == "sent"

    assert routed.requests == []
    assert len(outbox) == 1


def test_a_gateway_failing_repeatedly_is_skipped_until_its_circuit_closes(api_client, sender, routed, settings):
    settings.SMS_CIRCUIT_FAILURES = 2
    for _ in range(2):
        assert send(api_client, "http-500 Hello").json()["status"] == "sent"  # through the fake
    assert circuit_is_open("twilio")

    assert send(api_client, "ok Hello").json()["status"] == "sent"

    assert len(routed.requests) == 2  # the third message did not even try Twilio
    assert Message.objects.filter(gateway="twilio").count() == 0
    circuit_close("twilio")
    send(api_client, "ok Hello")
    assert Message.objects.filter(gateway="twilio").count() == 1


def test_when_every_gateway_fails_the_message_is_queued_and_its_retry_starts_with_another(
    api_client, sender, routed, settings
):
    settings.SMS_GATEWAYS = {**settings.SMS_GATEWAYS, "default": {**FAKE, "OPTIONS": {"mode": "fail"}}}

    body = send(api_client, "http-503 Hello").json()

    message = Message.objects.get(pk=body["message_id"])
    assert (body["status"], message.gateway, message.error_code) == ("queued", "default", "fake:unavailable")
    assert usable_routes(message.recipient, last_failed=message.gateway) == ["twilio", "default"]
    assert usable_routes(message.recipient, last_failed="twilio") == ["default", "twilio"]


def test_with_every_circuit_open_a_message_waits_without_trying_any_gateway(api_client, sender, routed, settings):
    settings.SMS_CIRCUIT_FAILURES = 1
    settings.SMS_GATEWAYS = {**settings.SMS_GATEWAYS, "default": {**FAKE, "OPTIONS": {"mode": "fail"}}}
    send(api_client, "http-503 Hello")  # opens both circuits

    body = send(api_client, "ok Hello").json()

    message = Message.objects.get(pk=body["message_id"])
    assert (body["status"], message.error_code) == ("queued", "gateway:unavailable")
    assert len(routed.requests) == 1


def test_a_campaign_routes_each_message_by_its_own_number(api_client, account, sender, routed, outbox):
    from campaigns.services import campaign_batch
    from tests.factories import ContactFactory, GroupFactory

    group = GroupFactory(account=account)
    ContactFactory(account=account, phone="+263771000001", first_name="ok", groups=[group])
    ContactFactory(account=account, phone="+263712000002", first_name="ok", groups=[group])
    campaign = api_client.post(
        "/api/v1/campaigns/",
        {"name": "Mixed", "message": "{name} Hello", "sender_name": "MyBrand", "group_id": str(group.pk)},
        format="json",
    ).json()
    api_client.post(f"/api/v1/campaigns/{campaign['id']}/send/")

    campaign_batch(campaign_id=campaign["id"])

    assert dict(Message.objects.values_list("recipient", "gateway")) == {
        "+263771000001": "twilio",
        "+263712000002": "default",
    }


# Provider status callbacks


def callback(client, params: dict, *, token: str = AUTH_TOKEN, alias: str = "twilio"):
    signature = twilio_signature(CALLBACK_URL, params, token)
    return client.post(
        f"/api/v1/gateways/{alias}/status/",
        urlencode(params),
        content_type="application/x-www-form-urlencoded",  # as Twilio posts it
        HTTP_X_TWILIO_SIGNATURE=signature,
    )


@pytest.fixture
def sent_by_twilio(api_client, sender, routed) -> Message:
    body = send(api_client, "ok Hello").json()
    return Message.objects.get(pk=body["message_id"])


def status_params(message: Message, status: str, **extra) -> dict:
    sid = message.parts.get().gateway_message_id
    return {"MessageSid": sid, "MessageStatus": status, "AccountSid": ACCOUNT_SID, "To": message.recipient, **extra}


def test_a_signed_delivered_callback_delivers_the_message(anonymous_client, sent_by_twilio):
    response = callback(anonymous_client, status_params(sent_by_twilio, "delivered"))

    assert response.status_code == 204
    sent_by_twilio.refresh_from_db()
    assert sent_by_twilio.status == "delivered"


def test_an_undelivered_callback_records_the_providers_error(anonymous_client, sent_by_twilio):
    callback(anonymous_client, status_params(sent_by_twilio, "sent"))  # interim: nothing changes
    sent_by_twilio.refresh_from_db()
    assert sent_by_twilio.status == "sent"

    callback(anonymous_client, status_params(sent_by_twilio, "undelivered", ErrorCode="30003"))

    sent_by_twilio.refresh_from_db()
    assert (sent_by_twilio.status, sent_by_twilio.error_code) == ("undelivered", "twilio:30003")


def test_a_callback_with_a_bad_signature_is_a_403_and_changes_nothing(anonymous_client, sent_by_twilio):
    response = callback(anonymous_client, status_params(sent_by_twilio, "delivered"), token="guessed")

    assert response.status_code == 403
    assert response.json() == {"error": "This callback is not signed by the gateway.", "code": "callback_refused"}
    sent_by_twilio.refresh_from_db()
    assert sent_by_twilio.status == "sent"


@pytest.mark.parametrize("alias", ["nope", "default"])  # unknown, and a gateway that takes no callbacks
def test_a_callback_to_an_unknown_or_callbackless_gateway_is_a_403(anonymous_client, sent_by_twilio, alias):
    response = callback(anonymous_client, status_params(sent_by_twilio, "delivered"), alias=alias)

    assert response.status_code == 403
    assert response.json()["code"] == "callback_refused"


def test_a_customers_api_key_is_no_signature(api_client, sent_by_twilio):
    response = api_client.post(
        "/api/v1/gateways/twilio/status/",
        urlencode(status_params(sent_by_twilio, "delivered")),
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 403
    assert response.json()["code"] == "callback_refused"
    sent_by_twilio.refresh_from_db()
    assert sent_by_twilio.status == "sent"


def test_a_callback_that_is_not_a_form_is_a_415(anonymous_client, routed):
    response = anonymous_client.post("/api/v1/gateways/twilio/status/", {"MessageSid": "x"}, format="json")

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


# The system check


@pytest.mark.parametrize(
    ("routes", "error_id"),
    [
        ({"26377": ["default"]}, "gateways.E011"),
        ({"+26377": []}, "gateways.E012"),
        ({"+26377": "default"}, "gateways.E012"),
        ({"+26377": ["econet"]}, "gateways.E013"),
    ],
)
def test_the_system_check_refuses_bad_routes(settings, routes, error_id):
    settings.SMS_ROUTES = routes

    assert error_id in [error.id for error in check_sms_gateways(None)]


def test_the_system_check_builds_each_backend_so_a_bad_option_fails_at_start_up(settings):
    settings.SMS_GATEWAYS = {
        "default": FAKE,
        "twilio": {
            "BACKEND": "gateways.backends.twilio.TwilioGateway",
            "OPTIONS": {"account_sid": "", "auth_token": "x"},
        },
    }

    errors = check_sms_gateways(None)

    assert [error.id for error in errors] == ["gateways.E006"]
    assert "account_sid" in errors[0].msg
