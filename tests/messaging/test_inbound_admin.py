"""The dashboard of two-way messaging: operators assign inbound numbers and see unmatched messages; owners see
their own numbers and messages, and add and remove their opt-outs."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from contacts.models import Contact
from messaging.models import InboundMessage, InboundNumber, OptOut
from messaging.services import opt_out_add
from tests.factories import ContactFactory, UserFactory


def test_an_operator_assigns_a_number_typed_any_way_with_its_keyword_upper_case(superuser_client, account):
    response = superuser_client.post(
        "/admin/messaging/inboundnumber/add/",
        {"number": "077 200 0111", "keyword": " acme ", "account": account.pk, "gateway": ""},
    )

    assert response.status_code == 302
    assert list(InboundNumber.objects.values_list("number", "keyword", "account_id")) == [
        ("+263772000111", "ACME", account.pk)
    ]


@pytest.mark.parametrize(
    ("keyword", "error"),
    [("stop", "STOP is how a phone opts out or back in"), ("two words", "A keyword is one word")],
)
def test_an_opt_out_word_or_two_words_cannot_be_a_keyword(superuser_client, account, keyword, error):
    response = superuser_client.post(
        "/admin/messaging/inboundnumber/add/", {"number": "34567", "keyword": keyword, "account": account.pk}
    )

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not InboundNumber.objects.exists()


def test_a_number_and_keyword_belong_to_one_account_only(superuser_client, account, other_account):
    InboundNumber.objects.create(number="34567", keyword="ACME", account=account)

    response = superuser_client.post(
        "/admin/messaging/inboundnumber/add/", {"number": "34567", "keyword": "acme", "account": other_account.pk}
    )

    assert response.status_code == 200
    assert InboundNumber.objects.count() == 1


def test_an_owner_sees_their_numbers_and_messages_but_cannot_assign_numbers(owner_client, account, other_account):
    InboundNumber.objects.create(number="+263772000111", account=account)
    InboundNumber.objects.create(number="+263772000999", account=other_account)
    for owner, text in [(account, "Mine"), (other_account, "Theirs"), (None, "Nobodys")]:
        InboundMessage.objects.create(account=owner, gateway="g", sender="+263771000001", recipient="x", text=text)

    numbers = owner_client.get("/admin/messaging/inboundnumber/").content.decode()
    messages = owner_client.get("/admin/messaging/inboundmessage/").content.decode()

    assert "+263772000111" in numbers
    assert "+263772000999" not in numbers
    assert "Mine" in messages
    assert "Theirs" not in messages
    assert "Nobodys" not in messages
    assert owner_client.get("/admin/messaging/inboundnumber/add/").status_code == 403
    mine = InboundNumber.objects.get(account=account)
    assert owner_client.post(f"/admin/messaging/inboundnumber/{mine.pk}/delete/", {"post": "yes"}).status_code == 403
    assert InboundNumber.objects.filter(pk=mine.pk).exists()


def test_operators_find_the_messages_that_matched_no_number(superuser_client, account):
    InboundMessage.objects.create(account=account, gateway="g", sender="+263771000001", recipient="x", text="Mine")
    InboundMessage.objects.create(account=None, gateway="g", sender="+263771000003", recipient="y", text="Nobodys")

    page = superuser_client.get("/admin/messaging/inboundmessage/?account__isempty=1").content.decode()

    assert "Nobodys" in page
    assert "Mine" not in page


def test_an_owner_adds_and_removes_an_opt_out_and_the_contact_follows(owner_client, account):
    contact = ContactFactory(account=account, phone="+263771234567")

    invalid = owner_client.post("/admin/messaging/optout/add/", {"phone": "12345"})
    added = owner_client.post("/admin/messaging/optout/add/", {"phone": "077 123 4567"})
    contact.refresh_from_db()
    marked = contact.opted_out
    opt_out = OptOut.objects.get(account=account)
    removed = owner_client.post(f"/admin/messaging/optout/{opt_out.pk}/delete/", {"post": "yes"})

    assert "Enter a valid phone number." in invalid.content.decode()
    assert added.status_code == 302
    assert marked
    assert removed.status_code == 302
    assert not OptOut.objects.exists()
    assert not Contact.objects.get(pk=contact.pk).opted_out


def test_an_owner_sees_only_their_opt_outs(owner_client, account, other_account):
    opt_out_add(account_id=account.pk, phone="+263771000001")
    opt_out_add(account_id=other_account.pk, phone="+263771000002")

    page = owner_client.get("/admin/messaging/optout/").content.decode()

    assert "+263771000001" in page
    assert "+263771000002" not in page


def test_an_owner_imports_a_suppression_list_typed_and_as_a_csv_file(owner_client, account, other_account):
    contact = ContactFactory(account=account, phone="+263771000003")
    csv_file = SimpleUploadedFile("list.csv", b"name,phone\nTendai,0771000002\nRudo,0771000003\nBad,123\n")

    listed = owner_client.get("/admin/messaging/optout/").content.decode()
    page = owner_client.post(
        "/admin/messaging/optout/import/", {"phones": "0771000001\n\n+263 77 100 0002", "file": csv_file}
    ).content.decode()

    assert "Import a suppression list" in listed
    assert "<strong>3</strong> added, 0 had opted out already, 1 not valid." in page
    assert set(OptOut.objects.filter(account=account).values_list("phone", flat=True)) == {
        "+263771000001",
        "+263771000002",
        "+263771000003",
    }
    assert not OptOut.objects.filter(account=other_account).exists()
    contact.refresh_from_db()
    assert contact.opted_out


def test_an_operator_imports_a_suppression_list_for_the_account_chosen(superuser_client, account):
    without_account = superuser_client.post("/admin/messaging/optout/import/", {"phones": "0771000001"})
    imported = superuser_client.post("/admin/messaging/optout/import/", {"phones": "0771000001", "account": account.pk})

    assert "Choose the account the numbers opt out of." in without_account.content.decode()
    assert "<strong>1</strong> added" in imported.content.decode()
    assert list(OptOut.objects.values_list("account_id", "phone")) == [(account.pk, "+263771000001")]


def test_staff_without_an_account_cannot_import(db, account):
    client = Client()
    client.force_login(UserFactory(is_staff=True))

    assert client.post("/admin/messaging/optout/import/", {"phones": "0771000001"}).status_code == 403
    assert not OptOut.objects.exists()
