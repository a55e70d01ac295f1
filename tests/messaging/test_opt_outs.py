"""Opt-outs: a number that asked not to hear from an account again, whether or not it is a contact."""

import pytest

from billing.models import Transaction
from billing.services import credits_adjust
from campaigns.models import Campaign
from contacts.models import Contact
from messaging.models import IdempotencyKey, Message, OptOut
from messaging.services import opt_out_add
from tests.factories import ContactFactory, GroupFactory, balance

PHONE = "+263771234567"


def send(client, **overrides):
    body = {"to": "0771234567", "sender": "MyBrand", "message": "Your order shipped"} | overrides
    return client.post("/api/v1/sms/send/", body, format="json")


def test_adding_an_opt_out_marks_the_contact_and_a_second_add_changes_nothing(api_client, account):
    contact = ContactFactory(account=account, phone=PHONE)

    first = api_client.post("/api/v1/opt-outs/", {"phone": "0771234567"}, format="json")
    again = api_client.post("/api/v1/opt-outs/", {"phone": "+263 77 123 4567"}, format="json")

    assert first.status_code == 201
    assert first.json() == {"phone": PHONE, "source": "api", "created_at": first.json()["created_at"]}
    assert again.status_code == 200
    assert again.json() == first.json()
    assert OptOut.objects.filter(account=account).count() == 1
    contact.refresh_from_db()
    assert contact.opted_out


def test_the_list_is_newest_first_paginated_and_looks_a_number_up(api_client, account):
    for phone in ("+263771000001", "+263771000002", "+263771000003"):
        opt_out_add(account_id=account.pk, phone=phone)

    page = api_client.get("/api/v1/opt-outs/?page_size=2").json()
    found = api_client.get("/api/v1/opt-outs/", {"phone": "0771000002"}).json()

    assert page["count"] == 3
    assert [row["phone"] for row in page["opt_outs"]] == ["+263771000003", "+263771000002"]
    assert page["next"] is not None
    assert [row["phone"] for row in found["opt_outs"]] == ["+263771000002"]


def test_removing_an_opt_out_unmarks_the_contact_and_an_unknown_number_is_a_404(api_client, account):
    contact = ContactFactory(account=account, phone=PHONE)
    opt_out_add(account_id=account.pk, phone=PHONE)

    removed = api_client.delete("/api/v1/opt-outs/", {"phone": "0771234567"}, format="json")
    again = api_client.delete("/api/v1/opt-outs/", {"phone": "0771234567"}, format="json")

    assert removed.status_code == 204
    assert again.status_code == 404
    assert again.json() == {"error": "This number has not opted out.", "code": "not_found"}
    contact.refresh_from_db()
    assert not contact.opted_out


@pytest.mark.parametrize(
    ("body", "field"),
    [({"phone": "12345"}, "phone"), ({"phone": 771234567}, "phone"), ({}, "phone"), ({"phones": "0771"}, "phones")],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(api_client, body, field):
    path = "/api/v1/opt-outs/import/" if "phones" in body else "/api/v1/opt-outs/"

    response = api_client.post(path, body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]
    assert not OptOut.objects.exists()


def test_another_accounts_opt_outs_are_neither_seen_nor_removed(api_client, other_client, account):
    opt_out_add(account_id=account.pk, phone=PHONE)

    listed = other_client.get("/api/v1/opt-outs/").json()
    removed = other_client.delete("/api/v1/opt-outs/", {"phone": PHONE}, format="json")
    other_send_is_allowed = other_client.post("/api/v1/opt-outs/", {"phone": "0771000009"}, format="json")

    assert listed["count"] == 0
    assert removed.status_code == 404
    assert other_send_is_allowed.status_code == 201
    assert list(OptOut.objects.filter(account=account).values_list("phone", flat=True)) == [PHONE]


def test_without_a_key_every_opt_out_endpoint_is_a_401(anonymous_client):
    for method, path in [("get", "/api/v1/opt-outs/"), ("post", "/api/v1/opt-outs/"),
                         ("delete", "/api/v1/opt-outs/"), ("post", "/api/v1/opt-outs/import/")]:  # fmt: skip
        response = getattr(anonymous_client, method)(path, {"phone": PHONE}, format="json")
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"


def test_a_send_to_an_opted_out_number_is_refused_and_charges_nothing(api_client, account, sender, outbox):
    opt_out_add(account_id=account.pk, phone=PHONE)

    response = send(api_client)

    assert response.status_code == 403
    assert response.json() == {
        "error": f"{PHONE} has opted out of this account's messages; only transactional messages may go to it.",
        "code": "recipient_opted_out",
    }
    assert balance(account) == 100
    assert not Message.objects.exists()
    assert not outbox


def test_an_opted_out_number_is_refused_before_an_empty_balance_and_an_idempotency_key_is_not_kept(
    api_client, account, sender
):
    opt_out_add(account_id=account.pk, phone=PHONE)
    credits_adjust(account_id=account.pk, amount=-balance(account), description="Spent")

    response = api_client.post(
        "/api/v1/sms/send/",
        {"to": "0771234567", "sender": "MyBrand", "message": "Your order shipped"},
        format="json",
        headers={"Idempotency-Key": "order-4711"},
    )

    assert response.status_code == 403
    assert response.json()["code"] == "recipient_opted_out"
    assert not IdempotencyKey.objects.exists()
    assert not Message.objects.exists()
    assert Transaction.objects.filter(account=account).count() == 2  # the top-up and the adjustment alone


def test_a_transactional_message_goes_to_an_opted_out_number(api_client, account, sender, outbox):
    opt_out_add(account_id=account.pk, phone=PHONE)

    response = send(api_client, transactional=True)

    assert response.status_code == 201
    assert response.json()["status"] == "sent"
    assert balance(account) == 99
    assert [sms.recipient for sms in outbox] == [PHONE]


def test_transactional_must_be_a_boolean(api_client, sender):
    response = send(api_client, transactional="yes")

    assert response.status_code == 400
    assert response.json()["fields"] == {"transactional": ["Must be true or false."]}


def test_an_opt_out_of_one_account_does_not_stop_anothers_messages(api_client, other_account, sender, outbox):
    opt_out_add(account_id=other_account.pk, phone=PHONE)

    assert send(api_client).status_code == 201


def test_a_campaign_skips_a_number_that_opted_out_even_if_its_contact_is_not_marked(api_client, account, sender):
    group = GroupFactory(account=account)
    ContactFactory(account=account, phone="+263771000001", groups=[group])
    marked_apart = ContactFactory(account=account, phone="+263771000002", groups=[group])
    OptOut.objects.create(account=account, phone=marked_apart.phone)  # the flag and the opt-out disagree

    created = api_client.post(
        "/api/v1/campaigns/",
        {"name": "Promo", "message": "Hi {name}", "sender_name": "MyBrand", "group_id": str(group.pk)},
        format="json",
    ).json()
    api_client.post(f"/api/v1/campaigns/{created['id']}/send/")

    assert created["estimated_credits"] == 1
    assert list(Message.objects.filter(campaign_id=created["id"]).values_list("recipient", flat=True)) == [
        "+263771000001"
    ]
    assert Campaign.objects.get(pk=created["id"]).estimated_credits == 1


def test_a_contact_created_or_imported_with_an_opted_out_number_is_opted_out(api_client, account):
    opt_out_add(account_id=account.pk, phone="+263771000001")
    opt_out_add(account_id=account.pk, phone="+263771000002")

    created = api_client.post("/api/v1/contacts/", {"phone": "0771000001"}, format="json").json()
    api_client.post("/api/v1/contacts/import/", {"contacts": [{"phone": "0771000002"}]}, format="json")

    assert created["opted_out"] is True
    assert Contact.objects.get(phone="+263771000002").opted_out


def test_marking_a_contact_opted_out_or_back_in_adds_or_removes_its_numbers_opt_out(api_client, account):
    contact = ContactFactory(account=account, phone=PHONE)

    api_client.patch(f"/api/v1/contacts/{contact.pk}/", {"opted_out": True}, format="json")
    source = OptOut.objects.get(account=account, phone=PHONE).source
    api_client.patch(f"/api/v1/contacts/{contact.pk}/", {"opted_out": False}, format="json")

    assert source == "contact"
    assert not OptOut.objects.filter(account=account).exists()


def test_a_suppression_list_is_imported_in_bulk_with_bad_numbers_reported(api_client, account):
    ContactFactory(account=account, phone="+263771000002")
    opt_out_add(account_id=account.pk, phone="+263771000001")

    response = api_client.post(
        "/api/v1/opt-outs/import/",
        {"phones": ["0771000001", "0771000002", "+263 77 100 0003", "12345", 42, "0771000003"]},
        format="json",
    )

    assert response.status_code == 200
    assert response.json() == {
        "added": 2,
        "existing": 1,
        "failed": 2,
        "errors": [
            {"row": 4, "error": "Invalid phone: '12345' is not a valid number."},
            {"row": 5, "error": "Invalid phone: '42' is not a valid number."},
        ],
    }
    assert set(OptOut.objects.filter(account=account).values_list("phone", "source")) == {
        ("+263771000001", "api"),
        ("+263771000002", "import"),
        ("+263771000003", "import"),
    }
    assert Contact.objects.get(phone="+263771000002").opted_out
    assert not Transaction.objects.filter(type="debit").exists()
