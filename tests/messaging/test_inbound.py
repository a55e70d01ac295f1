"""Inbound SMS: matched to the account of its number and keyword, reassembled, listed in the inbox, and STOP/START."""

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from accounts.models import Account
from billing.models import Transaction
from gateways.backends.twilio import twilio_signature
from gateways.base import InboundSms
from messaging.inbound import inbound_receive
from messaging.models import InboundMessage, InboundNumber, InboundPart, Message, OptOut
from messaging.services import message_retry_due, opt_out_add
from messaging.tasks import inbound_parts_expire
from tests.factories import AccountFactory, ContactFactory

NUMBER = "+263772000111"
SHORT_CODE = "34567"
PHONE = "+263771234567"


def receive(text: str, *, to: str = NUMBER, sender: str = "263771234567", gateway: str = "default", concat=None):
    return inbound_receive(
        messages=[InboundSms(gateway=gateway, sender=sender, recipient=to, text=text, concat=concat)]
    )


@pytest.fixture
def number(account):
    return InboundNumber.objects.create(number=NUMBER, account=account)


def test_a_message_to_an_accounts_number_is_its_own_with_the_phone_in_e164(number, account):
    [inbound] = receive("Hello there")

    assert (inbound.account_id, inbound.inbound_number, inbound.sender, inbound.recipient) == (
        account.pk,
        number,
        PHONE,
        NUMBER,
    )
    assert (inbound.text, inbound.keyword, inbound.parts) == ("Hello there", "", 1)


def test_our_number_matches_as_the_gateway_writes_it_without_a_plus(number, account):
    [inbound] = receive("Hi", to="263772000111")

    assert inbound.account_id == account.pk


def test_a_message_to_no_assigned_number_is_kept_for_the_operators_without_an_account(number):
    [inbound] = receive("Hi", to="+263772999999")

    assert inbound.account_id is None
    assert InboundMessage.objects.filter(account__isnull=True).count() == 1


def test_a_shared_short_code_routes_by_the_first_word_in_any_case(account, other_account):
    InboundNumber.objects.create(number=SHORT_CODE, account=account, keyword="ACME")
    InboundNumber.objects.create(number=SHORT_CODE, account=other_account, keyword="BETA")
    InboundNumber.objects.create(number=SHORT_CODE, account=other_account)  # what names no keyword

    [acme] = receive("acme when do you open?", to=SHORT_CODE)
    [beta] = receive("Beta hi", to=SHORT_CODE)
    [neither] = receive("hello", to=SHORT_CODE)

    assert (acme.account_id, acme.keyword, acme.text) == (account.pk, "ACME", "acme when do you open?")
    assert (beta.account_id, beta.keyword) == (other_account.pk, "BETA")
    assert (neither.account_id, neither.keyword) == (other_account.pk, "")


def test_a_number_assigned_for_one_gateway_takes_only_that_gateways_messages(account):
    InboundNumber.objects.create(number=NUMBER, account=account, gateway="econet")

    [through_econet] = receive("Hi", gateway="econet")
    [through_another] = receive("Hi", gateway="netone")

    assert through_econet.account_id == account.pk
    assert through_another.account_id is None


def test_a_long_message_is_stored_whole_once_its_last_part_arrives_in_any_order_and_twice(number, account):
    assert receive("world, ", concat=(7, 3, 2)) == []
    assert receive("world, ", concat=(7, 3, 2)) == []  # the SMSC delivered a part twice
    assert receive("Hello ", concat=(7, 3, 1)) == []
    [inbound] = receive("how are you?", concat=(7, 3, 3))

    assert (inbound.text, inbound.parts, inbound.account_id) == ("Hello world, how are you?", 3, account.pk)
    assert not InboundPart.objects.exists()
    assert InboundMessage.objects.count() == 1


def test_parts_of_two_long_messages_with_other_references_do_not_mix(number):
    receive("A1 ", concat=(1, 2, 1))
    receive("B1 ", concat=(2, 2, 1))
    [second] = receive("B2", concat=(2, 2, 2))
    [first] = receive("A2", concat=(1, 2, 2))

    assert (first.text, second.text) == ("A1 A2", "B1 B2")


@pytest.mark.parametrize("text", ["STOP", "stop", " Stop. ", "STOPALL", "unsubscribe", "Cancel", "END", "quit!"])
def test_stop_opts_the_phone_out_of_the_account_and_is_answered_once_from_the_number(number, account, text):
    contact = ContactFactory(account=account, phone=PHONE)

    receive(text)

    opt_out = OptOut.objects.get(account=account, phone=PHONE)
    assert opt_out.source == "keyword"
    contact.refresh_from_db()
    assert contact.opted_out
    [reply] = Message.objects.all()
    assert (reply.recipient, reply.sender, reply.status, reply.credits) == (PHONE, NUMBER, "queued", 1)
    assert reply.text == Account.objects.get(pk=account.pk).opt_out_reply
    assert Transaction.objects.filter(account=account, type="debit", amount=-1).count() == 1


def test_the_confirmation_leaves_through_the_gateway_from_the_inbound_number(
    number, account, outbox, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        receive("STOP")

    [task] = [task for task in enqueued if task.name == "messaging.tasks.message_retry"]
    message_retry_due(message_id=task.args[0])

    [sms] = outbox
    assert (sms.recipient, sms.sender) == (PHONE, NUMBER)
    assert Message.objects.get().status == "sent"


def test_a_second_stop_changes_nothing_and_is_not_answered_again(number, account):
    receive("STOP")
    receive("STOP")

    assert OptOut.objects.filter(account=account).count() == 1
    assert Message.objects.count() == 1


def test_start_opts_the_phone_back_in_with_its_own_answer(number, account):
    opt_out_add(account_id=account.pk, phone=PHONE)

    receive("START")

    assert not OptOut.objects.filter(account=account).exists()
    assert Message.objects.get().text == Account.objects.get(pk=account.pk).opt_in_reply


@pytest.mark.parametrize("text", ["Please don't stop", "stop it now", "STOPPED", "START over", ""])
def test_a_message_that_is_not_just_the_word_is_only_stored(number, account, text):
    receive(text)

    assert not OptOut.objects.exists()
    assert not Message.objects.exists()
    assert InboundMessage.objects.count() == 1


def test_stop_after_a_keyword_opts_out_of_that_keywords_account_only(account, other_account):
    InboundNumber.objects.create(number=SHORT_CODE, account=account, keyword="ACME")
    InboundNumber.objects.create(number=SHORT_CODE, account=other_account, keyword="BETA")

    receive("acme stop", to=SHORT_CODE)
    receive("ACME", to=SHORT_CODE)  # the keyword alone

    assert list(OptOut.objects.values_list("account_id", flat=True)) == [account.pk]


def test_a_stop_to_no_assigned_number_opts_out_of_nothing(number):
    receive("STOP", to="+263772999999")

    assert not OptOut.objects.exists()
    assert not Message.objects.exists()


def test_with_no_credits_the_stop_is_honoured_but_not_answered(db):
    penniless = AccountFactory(credits=0)
    InboundNumber.objects.create(number=NUMBER, account=penniless)

    receive("STOP")

    assert OptOut.objects.filter(account=penniless).exists()
    assert not Message.objects.exists()


def test_an_empty_reply_text_means_no_answer(number, account):
    Account.objects.filter(pk=account.pk).update(opt_out_reply="")

    receive("STOP")

    assert OptOut.objects.filter(account=account).exists()
    assert not Message.objects.exists()


# --- The inbox -----------------------------------------------------------------------------------


def test_the_inbox_lists_the_accounts_messages_newest_first_and_filters_them(api_client, number, account):
    receive("first", sender="263771000001")
    receive("second", sender="263771000002")
    InboundNumber.objects.create(number=SHORT_CODE, account=account)
    receive("third", to=SHORT_CODE, sender="263771000001")
    for minutes, text in enumerate(["first", "second", "third"]):  # times the API shows, in whole seconds
        InboundMessage.objects.filter(text=text).update(received_at=datetime(2026, 11, 24, 14, minutes, tzinfo=UTC))

    everything = api_client.get("/api/v1/sms/inbox/").json()
    by_number = api_client.get("/api/v1/sms/inbox/", {"number": "0772000111"}).json()
    by_sender = api_client.get("/api/v1/sms/inbox/", {"sender": "0771000001"}).json()
    recent = api_client.get("/api/v1/sms/inbox/", {"since": "2026-11-24T14:01:00Z", "until": "2026-11-24T14:02:00Z"})

    assert [row["text"] for row in everything["messages"]] == ["third", "second", "first"]
    assert everything["messages"][0] == {
        "id": everything["messages"][0]["id"],
        "from": "+263771000001",
        "to": SHORT_CODE,
        "text": "third",
        "keyword": "",
        "parts": 1,
        "received_at": everything["messages"][0]["received_at"],
    }
    assert [row["text"] for row in by_number["messages"]] == ["second", "first"]
    assert [row["text"] for row in by_sender["messages"]] == ["third", "first"]
    assert [row["text"] for row in recent.json()["messages"]] == ["second"]


def test_another_account_sees_nothing_of_the_inbox_and_unmatched_messages_are_nobodys(api_client, other_client, number):
    receive("for account")
    receive("for nobody", to="+263772999999")

    assert other_client.get("/api/v1/sms/inbox/").json()["count"] == 0
    assert [row["text"] for row in api_client.get("/api/v1/sms/inbox/").json()["messages"]] == ["for account"]


@pytest.mark.parametrize(
    ("query", "field"), [({"since": "yesterday"}, "since"), ({"sender": "12"}, "sender"), ({"page": "x"}, "page")]
)
def test_bad_inbox_filters_are_a_400_naming_them(api_client, query, field):
    response = api_client.get("/api/v1/sms/inbox/", query)

    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_the_inbox_needs_a_key(anonymous_client):
    assert anonymous_client.get("/api/v1/sms/inbox/").status_code == 401


# --- Twilio's inbound webhook ---------------------------------------------------------------------

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "twilio-auth-token"
INBOUND_URL = "https://sms.example.com/api/v1/gateways/twilio/inbound/"


@pytest.fixture
def twilio(settings):
    settings.SMS_GATEWAYS = {
        **settings.SMS_GATEWAYS,
        "twilio": {
            "BACKEND": "gateways.backends.twilio.TwilioGateway",
            "OPTIONS": {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "inbound_url": INBOUND_URL},
        },
    }


def twilio_inbound(client, params: dict, *, token: str = AUTH_TOKEN):
    return client.post(
        "/api/v1/gateways/twilio/inbound/",
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_TWILIO_SIGNATURE=twilio_signature(INBOUND_URL, params, token),
    )


INBOUND_FORM = {"AccountSid": ACCOUNT_SID, "MessageSid": "SM" + "1" * 32, "From": PHONE, "To": NUMBER, "Body": "Stop"}


def test_twilios_signed_inbound_message_is_stored_and_acted_on(anonymous_client, twilio, number, account):
    response = twilio_inbound(anonymous_client, INBOUND_FORM)

    assert response.status_code == 204
    inbound = InboundMessage.objects.get()
    assert (inbound.gateway, inbound.sender, inbound.recipient, inbound.text, inbound.account_id) == (
        "twilio",
        PHONE,
        NUMBER,
        "Stop",
        account.pk,
    )
    assert OptOut.objects.filter(account=account, phone=PHONE).exists()


def test_an_inbound_callback_not_signed_by_twilio_is_refused_and_stores_nothing(anonymous_client, twilio, number):
    response = twilio_inbound(anonymous_client, INBOUND_FORM, token="not-the-token")

    assert response.status_code == 403
    assert response.json() == {"error": "This callback is not signed by the gateway.", "code": "callback_refused"}
    assert not InboundMessage.objects.exists()


def test_a_gateway_without_inbound_callbacks_refuses_them(anonymous_client, number):
    response = anonymous_client.post(
        "/api/v1/gateways/default/inbound/", urlencode(INBOUND_FORM), content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 403
    assert not InboundMessage.objects.exists()


def test_a_customers_key_opens_no_inbound_callback(api_client, twilio, number):
    response = api_client.post(
        "/api/v1/gateways/twilio/inbound/", urlencode(INBOUND_FORM), content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 403
    assert not InboundMessage.objects.exists()


def test_parts_whose_siblings_never_come_are_forgotten_after_their_ttl(number, settings):
    receive("Hello ", concat=(9, 2, 1))
    receive("fresh ", concat=(10, 2, 1))
    InboundPart.objects.filter(reference=9).update(received_at=timezone.now() - timedelta(hours=25))

    assert inbound_parts_expire() == 1
    assert list(InboundPart.objects.values_list("reference", flat=True)) == [10]


def test_an_inbound_callback_that_is_not_a_form_is_a_415_and_stores_nothing(anonymous_client, twilio, number):
    response = anonymous_client.post("/api/v1/gateways/twilio/inbound/", INBOUND_FORM, format="json")

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert not InboundMessage.objects.exists()


def test_a_signed_inbound_callback_without_a_sender_is_refused(anonymous_client, twilio, number):
    form = {key: value for key, value in INBOUND_FORM.items() if key != "From"}

    response = twilio_inbound(anonymous_client, form)

    assert response.status_code == 403
    assert response.json()["code"] == "callback_refused"
    assert not InboundMessage.objects.exists()
