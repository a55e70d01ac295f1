"""plain_input agrees with DRF: whatever it validates, DRF's parser and the serializer validate to the same data;
whatever else, it leaves to them."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from messaging.apis import MessageSendApi
from smsplatform.api.fields import StrictCharField
from smsplatform.api.parsers import JsonParser
from smsplatform.api.plain_input import plain_input

SendInput = MessageSendApi.SendInputSerializer
PLAIN = {"to": "0771234567", "sender": "MyBrand", "message": "Hello!"}


def drf_request(body: bytes, content_type: str = "application/json", parsers=(JsonParser,)) -> Request:
    django_request = APIRequestFactory().post("/api/v1/sms/send/", body, content_type=content_type)
    return Request(django_request, parsers=[parser() for parser in parsers])


def drf_validated(body: bytes) -> dict | None:
    """What DRF validates the body to, or None where it refuses it."""
    serializer = SendInput(data=drf_request(body).data)
    return dict(serializer.validated_data) if serializer.is_valid() else None


def test_a_plain_send_is_validated_as_the_serializer_would():
    body = json.dumps(PLAIN | {"callback_url": " https://example.com/hook ", "unknown": [1]}).encode()

    expected = PLAIN | {"transactional": False, "callback_url": "https://example.com/hook"}
    assert plain_input(SendInput, drf_request(body)) == expected == drf_validated(body)


def test_optional_fields_take_the_serializers_defaults():
    body = json.dumps(PLAIN | {"to": "  0771234567\t", "message": "  spaced  "}).encode()

    validated = plain_input(SendInput, drf_request(body))
    assert validated == {"to": "0771234567", "sender": "MyBrand", "message": "  spaced  ", "transactional": False}
    assert validated == drf_validated(body)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b'["a list"]',
        b'{"to": NaN, "sender": "MyBrand", "message": "Hi"}',
        b'{"to": "0771234567", "sender": "MyBrand", "message": "Hi", "extra": Infinity}',
        b"\xef\xbb\xbf" + json.dumps(PLAIN).encode(),  # a byte order mark
        json.dumps(PLAIN).encode("utf-16"),
        b"[" * 20_000 + b"]" * 20_000,
        json.dumps(PLAIN | {"message": "\x00"}).encode(),
        json.dumps(PLAIN | {"message": "\ud800"}).encode(),
        json.dumps(PLAIN | {"to": " "}).encode(),
        json.dumps(PLAIN | {"sender": "x" * 51}).encode(),
        json.dumps(PLAIN | {"transactional": "true"}).encode(),
        json.dumps(PLAIN | {"message": 42}).encode(),
        json.dumps({"to": "0771234567", "sender": "MyBrand"}).encode(),
    ],
)
def test_anything_not_plainly_valid_is_left_to_drf(body):
    assert plain_input(SendInput, drf_request(body)) is None


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/json; charset=latin-1", "application/x-www-form-urlencoded"]
)
def test_a_body_that_is_not_utf8_json_is_left_to_drf(content_type):
    assert plain_input(SendInput, drf_request(json.dumps(PLAIN).encode(), content_type)) is None


def test_a_view_that_takes_no_json_is_left_to_drf():
    from rest_framework.parsers import FormParser

    assert plain_input(SendInput, drf_request(json.dumps(PLAIN).encode(), parsers=(FormParser,))) is None


def test_a_callable_default_is_called_for_each_request():
    calls = []

    class Stamped(serializers.Serializer):
        to = StrictCharField()
        stamp = StrictCharField(required=False, default=lambda: str(len(calls.append(1) or calls)))

    first, second = (plain_input(Stamped, drf_request(b'{"to": "x"}')) for _ in range(2))
    assert (first, second) == ({"to": "x", "stamp": "1"}, {"to": "x", "stamp": "2"})


def test_a_serializer_it_cannot_mirror_is_refused_on_first_use():
    class WithHook(serializers.Serializer):
        to = StrictCharField()

        def validate_to(self, value):
            return value

    class WithInteger(serializers.Serializer):
        count = serializers.IntegerField()

    for serializer_class in (WithHook, WithInteger):
        with pytest.raises(TypeError, match="not mirrored"):
            plain_input(serializer_class, drf_request(b'{"to": "x", "count": 1}'))


_TEXT = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=" \t\n\x00\u00a0\u2003\ud800", max_size=4),
    st.sampled_from(["", " ", "0771234567", " MyBrand ", "x" * 32, "x" * 33, "x" * 50, "x" * 51, "x" * 2001]),
)
_NUMBER = st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False))
_VALUE = st.one_of(_TEXT, st.booleans(), st.none(), _NUMBER, st.lists(st.integers()))
_BODY = st.dictionaries(
    st.sampled_from(["to", "sender", "message", "transactional", "callback_url", "other"]), _VALUE, max_size=6
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_BODY)
def test_whatever_it_validates_drf_validates_to_the_same(body):
    raw = json.dumps(body).encode()

    # Every body DRF takes is taken (the fast path is the common path), and validated to the same data.
    assert plain_input(SendInput, drf_request(raw)) == drf_validated(raw)


def test_the_send_endpoint_validates_a_plain_body_without_the_serializer(api_client, sender, monkeypatch):
    built = []

    class CountedInput(SendInput):
        def __init__(self, *args, **kwargs):
            if "data" in kwargs:  # one that validates a body (plain_input reads the fields of one without)
                built.append(kwargs["data"])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(MessageSendApi, "SendInputSerializer", CountedInput)

    assert api_client.post("/api/v1/sms/send/", PLAIN, format="json").status_code == 201
    assert built == []
    refused = api_client.post("/api/v1/sms/send/", PLAIN | {"to": 42}, format="json")
    assert refused.status_code == 400
    assert refused.json()["fields"] == {"to": ["Must be a string."]}
    assert len(built) == 1


def test_a_fields_own_validators_decide_as_in_drf():
    from django.core.validators import MaxLengthValidator, RegexValidator

    class Limited(serializers.Serializer):
        code = StrictCharField(validators=[MaxLengthValidator(3), RegexValidator("^[a-z]+$")])

    for value, taken in (("abc", True), ("abcd", False), ("AB", False)):
        body = json.dumps({"code": value}).encode()
        serializer = Limited(data=drf_request(body).data)
        assert serializer.is_valid() is taken
        assert plain_input(Limited, drf_request(body)) == (serializer.validated_data if taken else None)
