import pytest

from billing.models import Transaction
from messaging.models import Message

QUOTE_URL = "/api/v1/sms/quote/"


def quote(client, **body):
    return client.post(QUOTE_URL, body, format="json")


def test_quote_of_a_gsm_message(api_client):
    response = quote(api_client, message="Hello!", to="0771234567")

    assert response.status_code == 200
    assert response.json() == {
        "encoding": "GSM-7",
        "characters": 6,
        "segments": 1,
        "credits": 1,
        "non_gsm_characters": [],
    }


def test_quote_names_the_characters_that_force_ucs2(api_client):
    body = quote(api_client, message="Mhoro ça va 😀 " + "a" * 60).json()

    assert body["encoding"] == "UCS-2"
    assert body["segments"] == 2
    assert body["credits"] == 2
    assert body["non_gsm_characters"] == ["ç", "😀"]


def test_quote_counts_extension_characters_twice(api_client):
    assert quote(api_client, message="€" * 80).json()["segments"] == 1
    assert quote(api_client, message="€" * 81).json()["segments"] == 2


def test_quote_spends_nothing(api_client, account):
    quote(api_client, message="Hello!")

    assert Message.objects.count() == 0
    assert Transaction.objects.filter(account=account).count() == 1


@pytest.mark.parametrize(
    ("body", "field"), [({}, "message"), ({"message": 5}, "message"), ({"message": "hi", "to": "12"}, "to")]
)
def test_quote_validates_its_input(api_client, body, field):
    response = quote(api_client, **body)

    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_quote_needs_a_key(anonymous_client, db):
    assert quote(anonymous_client, message="hi").status_code == 401
