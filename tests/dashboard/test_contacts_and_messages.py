"""Contacts, messages, sender IDs and the ledger in the dashboard: search by number however it is written,
filters, the CSV import with its row report, bulk group changes, and nothing of another account's."""

from django.core.files.uploadedfile import SimpleUploadedFile

from billing.models import Transaction
from contacts.models import Contact
from messaging.models import SenderId
from tests.factories import ContactFactory, GroupFactory, MessageFactory


def csv_file(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("contacts.csv", text.encode(), content_type="text/csv")


def test_the_contacts_search_finds_a_number_written_locally_or_internationally(owner_client, account, other_account):
    ContactFactory(account=account, phone="+263771234567", first_name="Tendai")
    ContactFactory(account=account, phone="+263779999999", first_name="Rudo")
    ContactFactory(account=other_account, phone="+263771234567", first_name="Theirs")

    for term in ("0771234567", "+263771234567", "263 77 123 4567"):
        page = owner_client.get("/admin/contacts/contact/", {"q": term}).content.decode()
        assert "Tendai" in page and "Rudo" not in page and "Theirs" not in page, term
    assert "Rudo" in owner_client.get("/admin/contacts/contact/", {"q": "Rudo"}).content.decode()


def test_the_messages_search_finds_a_recipient_however_it_is_written(owner_client, account, other_account):
    MessageFactory(account=account, recipient="+263771234567", text="Yours")
    MessageFactory(account=account, recipient="+263770000000", text="Another")
    MessageFactory(account=other_account, recipient="+263771234567", text="Theirs")

    page = owner_client.get("/admin/messaging/message/", {"q": "0771234567"}).content.decode()

    assert "Yours" in page and "Another" not in page and "Theirs" not in page


def test_the_messages_list_filters_by_status_sender_campaign_and_dates(owner_client, account):
    MessageFactory(account=account, text="Delivered one", status="delivered", sender="MyBrand")
    MessageFactory(account=account, text="Failed one", status="failed", sender="Other")

    delivered = owner_client.get("/admin/messaging/message/", {"status__exact": "delivered"}).content.decode()
    future = owner_client.get("/admin/messaging/message/", {"created_at_from": "2099-01-01"}).content.decode()
    bad_date = owner_client.get("/admin/messaging/message/", {"created_at_from": "soon"})

    assert "Delivered one" in delivered and "Failed one" not in delivered
    assert "Delivered one" not in future and "0 messages" in future
    assert bad_date.status_code == 302 and "e=1" in bad_date.headers["Location"]  # the admin's "bad filter" page


def test_an_owner_imports_a_csv_into_a_group_and_sees_the_rows_refused(owner_client, account):
    group = GroupFactory(account=account, name="VIP")
    upload = csv_file("phone,first_name\n0771234567,Tendai\nnot a number,Rudo\n0772222222,\n")

    response = owner_client.post("/admin/contacts/contact/import/", {"file": upload, "group": group.pk})

    page = response.content.decode()
    assert "<strong>2</strong> created" in page and "<strong>1</strong> refused" in page
    assert "<td>2</td>" in page  # the refused row's number
    assert set(group.contacts.values_list("phone", flat=True)) == {"+263771234567", "+263772222222"}


def test_an_import_without_a_phone_column_is_refused_whole(owner_client, account):
    response = owner_client.post("/admin/contacts/contact/import/", {"file": csv_file("name\nTendai\n")})

    assert "phone" in response.content.decode()
    assert not Contact.objects.exists()


def test_an_import_into_another_accounts_group_is_refused(owner_client, other_account):
    theirs = GroupFactory(account=other_account)

    response = owner_client.post(
        "/admin/contacts/contact/import/", {"file": csv_file("phone\n0771234567\n"), "group": theirs.pk}
    )

    assert "Select a valid choice" in response.content.decode()
    assert not Contact.objects.exists()


def test_bulk_actions_add_contacts_to_and_remove_them_from_a_group(owner_client, account, other_account):
    group = GroupFactory(account=account)
    contacts = ContactFactory.create_batch(3, account=account)
    selected = [contact.pk for contact in contacts[:2]]

    owner_client.post("/admin/contacts/contact/", {"action": "group_add", "group": group.pk,
                                                    "_selected_action": selected})  # fmt: skip
    assert set(group.contacts.values_list("pk", flat=True)) == set(selected)

    owner_client.post("/admin/contacts/contact/", {"action": "group_remove", "group": group.pk,
                                                    "_selected_action": selected[:1]})  # fmt: skip
    assert list(group.contacts.values_list("pk", flat=True)) == selected[1:]

    theirs = GroupFactory(account=other_account)
    refused = owner_client.post("/admin/contacts/contact/", {"action": "group_add", "group": theirs.pk,
                                                              "_selected_action": selected}, follow=True)  # fmt: skip
    assert "Choose the group beside the action." in refused.content.decode()
    assert not theirs.contacts.exists()


def test_the_contacts_list_shows_groups_and_filters_by_the_owners_groups_only(owner_client, account, other_account):
    vip = GroupFactory(account=account, name="VIP")
    GroupFactory(account=other_account, name="TheirGroup")
    ContactFactory(account=account, first_name="Tendai", groups=[vip])
    ContactFactory(account=account, first_name="Rudo")

    page = owner_client.get("/admin/contacts/contact/", {"group": vip.pk}).content.decode()

    assert "Tendai" in page and "Rudo" not in page
    assert "TheirGroup" not in page


def test_an_owner_requests_a_sender_id_and_sees_it_pending(owner_client, account, other_account):
    response = owner_client.post("/admin/messaging/senderid/add/", {"name": "MyShop", "purpose": "Order updates"})

    sender = SenderId.objects.get()
    assert response.status_code == 302
    assert (sender.account, sender.name, sender.purpose, sender.status) == (account, "MyShop", "Order updates",
                                                                             "pending")  # fmt: skip
    assert "pending" in owner_client.get("/admin/messaging/senderid/").content.decode()

    again = owner_client.post("/admin/messaging/senderid/add/", {"name": "MyShop", "purpose": ""})
    bad = owner_client.post("/admin/messaging/senderid/add/", {"name": "Way too long a name", "purpose": ""})
    assert "already has this sender ID" in again.content.decode()
    assert bad.status_code == 200
    assert SenderId.objects.count() == 1


def test_an_owner_cannot_approve_their_own_sender_id(owner_client, account):
    sender = SenderId.objects.create(account=account, name="MyShop")

    owner_client.post("/admin/messaging/senderid/", {"action": "approve", "_selected_action": [sender.pk]})

    sender.refresh_from_db()
    assert sender.status == "pending"


def test_a_ledger_reference_opens_the_message_it_paid_for_and_nothing_of_another_account(
    owner_client, api_client, sender, other_account
):
    message_id = api_client.post(
        "/api/v1/sms/send/", {"to": "0771234567", "sender": "MyBrand", "message": "Hi"}, format="json"
    ).json()["message_id"]
    theirs = MessageFactory(account=other_account)

    ledger = owner_client.get("/admin/billing/transaction/").content.decode()
    opened = owner_client.get(f"/admin/reference/{message_id}/")
    refused = owner_client.get(f"/admin/reference/{theirs.pk}/")

    assert f'href="/admin/reference/{message_id}/"' in ledger
    assert opened.headers["Location"] == f"/admin/messaging/message/{message_id}/change/"
    assert refused.headers["Location"] == "/admin/billing/transaction/"
    assert Transaction.objects.filter(reference=message_id).exists()


def test_another_owners_rows_are_not_reachable_by_url(owner_client, other_account):
    message = MessageFactory(account=other_account)
    contact = ContactFactory(account=other_account)
    sender = SenderId.objects.create(account=other_account, name="Theirs")

    for url in (f"/admin/messaging/message/{message.pk}/change/", f"/admin/contacts/contact/{contact.pk}/change/",
                f"/admin/messaging/senderid/{sender.pk}/change/"):  # fmt: skip
        response = owner_client.get(url, follow=True)
        assert response.redirect_chain[-1][0] == "/admin/", url
        assert "doesn\u2019t exist" in response.content.decode()  # the admin's notice


def test_the_export_streams_every_filtered_row_of_the_list_made_safe_for_spreadsheets(
    owner_client, account, other_account
):
    MessageFactory.create_batch(120, account=account, status="delivered")  # more than a page of the list
    MessageFactory(account=account, status="delivered", text='=HYPERLINK("http://evil")')
    MessageFactory(account=account, status="failed", text="Not exported")
    MessageFactory(account=other_account, status="delivered", text="Theirs")

    page = owner_client.get("/admin/messaging/message/", {"status__exact": "delivered"}).content.decode()
    response = owner_client.get("/admin/messaging/message/export/", {"status__exact": "delivered"})

    assert 'href="/admin/messaging/message/export/?status__exact=delivered"' in page
    assert response["Content-Type"].startswith("text/csv")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == 1 + 121
    body = "\n".join(lines)
    assert "'=HYPERLINK" in body
    assert "Not exported" not in body and "Theirs" not in body


def test_a_file_that_is_not_a_csv_is_refused_with_a_message_not_a_crash(owner_client, account):
    binary = SimpleUploadedFile("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", content_type="image/png")

    response = owner_client.post("/admin/contacts/contact/import/", {"file": binary})

    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert not Contact.objects.exists()
