"""The dashboard: superusers see everything, an account owner only their own account."""

import re

from django.test import Client

from accounts.keys import key_hash
from accounts.models import ApiKey
from billing.models import Transaction
from tests.factories import UserFactory, api_key_for


def test_owner_sees_only_their_own_keys(owner_client, account, other_account):
    api_key_for(account, name="Mine")
    api_key_for(other_account, name="Theirs")

    page = owner_client.get("/admin/accounts/apikey/").content.decode()

    assert "Mine" in page
    assert "Theirs" not in page


def test_owner_cannot_open_another_accounts_key(owner_client, other_account):
    theirs = ApiKey.objects.get(key_hash=key_hash(api_key_for(other_account)))

    response = owner_client.get(f"/admin/accounts/apikey/{theirs.pk}/change/", follow=True)

    assert response.redirect_chain[-1][0] == "/admin/"  # "does not exist", as for an unknown id
    assert "doesn\N{RIGHT SINGLE QUOTATION MARK}t exist" in response.content.decode()


def test_owner_sees_only_their_own_account_and_ledger(owner_client, account, other_account):
    accounts_page = owner_client.get("/admin/accounts/account/").content.decode()
    ledger_page = owner_client.get("/admin/billing/transaction/").content.decode()

    assert account.name in accounts_page
    assert other_account.name not in accounts_page
    assert "100" in ledger_page
    assert str(other_account.pk) not in ledger_page
    assert owner_client.get(f"/admin/accounts/account/{other_account.pk}/change/").status_code == 302


def test_owner_creates_a_key_for_their_account_and_sees_the_secret_once(owner_client, account, other_account):
    response = owner_client.post(
        "/admin/accounts/apikey/add/", {"name": "From dashboard", "account": other_account.pk}, follow=True
    )

    assert response.status_code == 200
    secret = re.search(r"smsk_[0-9A-Za-z]{42}", response.content.decode()).group(0)
    created = ApiKey.objects.get(name="From dashboard")
    assert created.account == account  # never another account, whatever the form says
    assert created.key_hash == key_hash(secret)
    assert secret not in owner_client.get(f"/admin/accounts/apikey/{created.pk}/change/").content.decode()


def test_owner_revokes_a_key_from_the_dashboard(owner_client, account):
    doomed = ApiKey.objects.get(key_hash=key_hash(api_key_for(account, name="Doomed")))

    owner_client.post("/admin/accounts/apikey/", {"action": "revoke", "_selected_action": [doomed.pk]}, follow=True)

    doomed.refresh_from_db()
    assert doomed.revoked_at is not None


def test_owner_cannot_top_up(owner_client, account):
    response = owner_client.post(
        "/admin/accounts/account/", {"action": "topup", "_selected_action": [account.pk], "amount": 1000}
    )

    assert response.status_code in (200, 302)
    account.refresh_from_db()
    assert account.sms_credits == 100


def test_superuser_tops_up_with_a_ledger_row(superuser_client, account, other_account):
    superuser_client.post(
        "/admin/accounts/account/",
        {"action": "topup", "_selected_action": [account.pk, other_account.pk], "amount": 25, "note": "Invoice 7"},
        follow=True,
    )

    account.refresh_from_db()
    other_account.refresh_from_db()
    assert (account.sms_credits, other_account.sms_credits) == (125, 75)
    row = Transaction.objects.filter(account=account).latest("created_at")
    assert (row.type, row.amount, row.balance_after, row.description) == ("topup", 25, 125, "Invoice 7")


def test_superuser_sees_every_account(superuser_client, account, other_account):
    page = superuser_client.get("/admin/accounts/account/").content.decode()

    assert account.name in page
    assert other_account.name in page


def test_ledger_rows_are_read_only_even_for_superusers(superuser_client, account):
    row = Transaction.objects.filter(account=account).first()

    assert superuser_client.get("/admin/billing/transaction/add/").status_code == 403
    assert superuser_client.get(f"/admin/billing/transaction/{row.pk}/delete/").status_code == 403
    superuser_client.post(f"/admin/billing/transaction/{row.pk}/change/", {"amount": 999})
    row.refresh_from_db()
    assert row.amount == 100


def test_staff_without_an_account_sees_nothing(db, account):
    client = Client()
    client.force_login(UserFactory(is_staff=True))

    assert client.get("/admin/accounts/apikey/").status_code == 403


def test_owner_sees_only_their_own_messages_and_senders(owner_client, account, other_account):
    from messaging.models import Message
    from tests.factories import SenderIdFactory

    for owner, text in ((account, "mine"), (other_account, "theirs")):
        Message.objects.create(
            account=owner, recipient="+263771234567", sender="MyBrand", text=text, encoding="GSM-7", segments=1,
            credits=1,
        )  # fmt: skip
    SenderIdFactory(account=other_account, name="TheirBrand")

    messages_page = owner_client.get("/admin/messaging/message/").content.decode()
    senders_page = owner_client.get("/admin/messaging/senderid/").content.decode()

    assert "1 message" in messages_page
    assert "TheirBrand" not in senders_page
    theirs = Message.objects.get(text="theirs")
    assert owner_client.get(f"/admin/messaging/message/{theirs.pk}/change/").status_code == 302


def test_owner_changes_the_answers_to_stop_and_start_and_the_low_credits_warning_and_nothing_else(
    owner_client, account, other_account
):
    response = owner_client.post(
        f"/admin/accounts/account/{account.pk}/change/",
        {"name": "Renamed", "is_sandbox": "on", "opt_out_reply": "Unsubscribed. Text START to rejoin.",
         "opt_in_reply": "", "low_credits_threshold": "500"},
    )  # fmt: skip

    account.refresh_from_db()
    assert response.status_code == 302
    assert (account.opt_out_reply, account.opt_in_reply) == ("Unsubscribed. Text START to rejoin.", "")
    assert account.low_credits_threshold == 500
    assert account.name != "Renamed"
    assert not account.is_sandbox
    assert owner_client.post(f"/admin/accounts/account/{other_account.pk}/change/", {}).status_code == 302
