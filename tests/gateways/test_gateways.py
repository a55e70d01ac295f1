import pytest

from gateways.backends.fake import FakeGateway
from gateways.base import BaseGateway, OutboundSms, SubmitStatus
from gateways.checks import check_sms_gateways
from gateways.handler import InvalidGatewayError, gateways

SMS = OutboundSms(message_id="1", recipient="+263771234567", sender="MyBrand", text="Hi", encoding="GSM-7")


def test_the_handler_builds_the_configured_backend_once(settings):
    settings.SMS_GATEWAYS = {
        "default": {"BACKEND": "gateways.backends.fake.FakeGateway", "OPTIONS": {"mode": "reject"}}
    }

    gateway = gateways["default"]

    assert isinstance(gateway, FakeGateway)
    assert gateway.mode == "reject"
    assert gateways["default"] is gateway


def test_an_unknown_alias_is_an_error():
    with pytest.raises(InvalidGatewayError):
        gateways["nope"]


def test_an_unknown_option_is_an_error(settings):
    settings.SMS_GATEWAYS = {"default": {"BACKEND": "gateways.backends.fake.FakeGateway", "OPTIONS": {"moed": "x"}}}

    with pytest.raises(TypeError, match="moed"):
        gateways["default"]


@pytest.mark.parametrize(
    ("configured", "error_id"),
    [
        ({}, "gateways.E001"),
        ({"other": {"BACKEND": "gateways.backends.fake.FakeGateway"}}, "gateways.E002"),
        ({"default": {"BACKEND": "gateways.backends.nope.Nope"}}, "gateways.E003"),
        ({"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}, "gateways.E004"),
        ({"default": {"BACKEND": "gateways.backends.fake.FakeGateway", "OPTIONS": []}}, "gateways.E005"),
    ],
)
def test_the_system_check_refuses_a_bad_setting(settings, configured, error_id):
    settings.SMS_GATEWAYS = configured

    assert error_id in [error.id for error in check_sms_gateways(None)]


def test_the_system_check_accepts_the_default_setting():
    assert check_sms_gateways(None) == []


def test_the_base_class_requires_send_messages():
    with pytest.raises(NotImplementedError, match="send_messages"):
        BaseGateway(alias="x").send_messages([SMS], timeout=1)


@pytest.mark.parametrize(("mode", "status"), [("accept", "accepted"), ("reject", "rejected"), ("fail", "retry")])
def test_the_fake_answers_as_configured_and_records_its_outbox(mode, status, outbox):
    with FakeGateway(alias="t", mode=mode, delivery_delay=None) as gateway:
        [result] = gateway.send_messages([SMS], timeout=1)

    assert result.status == SubmitStatus(status)
    assert len(result.part_ids) == (mode == "accept")
    assert list(outbox) == [SMS]


def test_the_fake_times_out_when_slower_than_the_timeout():
    [result] = FakeGateway(alias="t", latency=0.2, delivery_delay=None).send_messages([SMS], timeout=0.01)

    assert result.status == SubmitStatus.RETRY


def test_the_fake_refuses_an_unknown_mode():
    with pytest.raises(ValueError, match="mode"):
        FakeGateway(alias="t", mode="explode")
