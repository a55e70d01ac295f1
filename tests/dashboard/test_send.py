"""Sending an SMS from the dashboard: the API's service, its rules and its errors."""

from billing.models import Transaction
from billing.services import credits_debit
from messaging.models import Message
from tests.factories import SenderIdFactory


def test_an_owner_sends_an_sms_from_the_form_and_lands_on_the_message(owner_client, account, sender, outbox):
    response = owner_client.post("/admin/send/", {"to": "0771234567", "sender": "MyBrand", "message": "Hello!"})

    message = Message.objects.get()
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/messaging/message/{message.pk}/change/"
    assert (message.account, message.recipient, message.status) == (account, "+263771234567", "sent")
    account.refresh_from_db()
    assert account.sms_credits == 99
    assert len(outbox) == 1
    page = owner_client.get(response.headers["Location"]).content.decode()
    assert "Message to +263771234567 sent: 1 segment(s), 1 credit(s); 99 credits left." in page


def test_the_form_offers_only_the_accounts_approved_senders(owner_client, account, other_account, sender):
    SenderIdFactory(account=account, name="Pending", status="pending")
    SenderIdFactory(account=other_account, name="TheirBrand")

    choices = owner_client.get("/admin/send/").context["form"].fields["sender"].choices

    assert choices == [("MyBrand", "MyBrand")]


def test_a_send_the_api_refuses_shows_the_apis_error_and_changes_nothing(owner_client, account, sender):
    account_credits = account.sms_credits
    cases = [
        ({"to": "12", "sender": "MyBrand", "message": "Hi"}, "Enter a valid phone number"),
        ({"to": "0771234567", "sender": "MyBrand", "message": "x" * 2000}, "segments"),
    ]
    for data, error in cases:
        response = owner_client.post("/admin/send/", data)
        assert response.status_code == 200
        assert error in response.content.decode()

    assert not Message.objects.exists()
    account.refresh_from_db()
    assert account.sms_credits == account_credits
    assert Transaction.objects.filter(type="debit").count() == 0


def test_a_send_beyond_the_balance_is_refused_with_the_apis_words(owner_client, account, sender):
    credits_debit(account_id=account.pk, amount=account.sms_credits, description="Spent", reference="test")

    response = owner_client.post("/admin/send/", {"to": "0771234567", "sender": "MyBrand", "message": "Hi"})

    assert "Insufficient SMS credits." in response.content.decode()
    assert not Message.objects.exists()


def test_the_quote_counts_segments_and_names_what_forces_ucs2(owner_client):
    gsm = owner_client.get("/admin/send/quote/", {"message": "Hello!"}).json()
    ucs2 = owner_client.get("/admin/send/quote/", {"message": "Mhoro 😀 é"}).json()

    assert gsm == {"encoding": "GSM-7", "characters": 6, "segments": 1, "credits": 1, "non_gsm_characters": [],
                   "too_long": False}  # fmt: skip
    assert ucs2["encoding"] == "UCS-2" and ucs2["non_gsm_characters"] == ["😀"]


def test_an_operator_without_an_account_cannot_send_from_the_dashboard(superuser_client):
    assert superuser_client.get("/admin/send/").status_code == 403


def test_the_send_page_needs_a_login(client):
    response = client.get("/admin/send/")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login/")
