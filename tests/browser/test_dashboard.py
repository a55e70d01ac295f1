"""The dashboard in a real browser: signing in through the form, and an owner seeing only their account."""

import pytest

from campaigns.services import campaign_create
from tests.factories import ContactFactory, GroupFactory, MessageFactory, SenderIdFactory


def test_login_page_is_styled_by_the_admin_stylesheet(browser):
    browser.open("/admin/login/")

    browser.wait_for("#login-form")
    assert browser.stylesheet_applied("admin/css/base.css")  # served by the live server, as WhiteNoise does
    assert browser.driver.execute_script("return getComputedStyle(document.body).margin") == "0px"  # not 8px


def test_owner_signs_in_through_the_form_and_lands_on_the_dashboard(browser, owner):
    browser.open("/admin/")
    assert browser.path == "/admin/login/?next=/admin/"

    browser.fill(username=owner.username, password="password")
    browser.submit("#login-form [type=submit]")

    assert browser.path == "/admin/"
    assert owner.username.upper() in browser.find("#user-tools").text.upper()


def test_a_wrong_password_stays_on_the_login_form(browser, owner):
    browser.open("/admin/login/")

    browser.fill(username=owner.username, password="not the password")
    browser.submit("#login-form [type=submit]")

    assert browser.path == "/admin/login/"
    assert "correct username and password" in browser.find(".errornote").text


def test_owner_sees_only_their_own_messages(owner_browser, account, other_account):
    MessageFactory(account=account, recipient="+263771000001")
    MessageFactory(account=account, recipient="+263771000002")
    MessageFactory(account=other_account, recipient="+263779999999")

    owner_browser.open("/admin/messaging/message/")

    rows = owner_browser.rows()
    assert len(rows) == 2
    assert "+263771000001" in owner_browser.text
    assert "+263779999999" not in owner_browser.text


def _their_message(account):
    return MessageFactory(account=account, recipient="+263779999999", text="Their secret")


def _their_campaign(account):
    SenderIdFactory(account=account, name="Theirs")
    group = GroupFactory(account=account)
    return campaign_create(
        account_id=account.pk, name="Their campaign", message="Their secret", sender_name="Theirs", group_id=group.pk
    )


def _their_contact(account):
    return ContactFactory(account=account, phone="+263779999999", first_name="Their", last_name="Secret")


@pytest.mark.parametrize(
    ("path", "make"),
    [
        ("/admin/messaging/message/{}/change/", _their_message),
        ("/admin/campaigns/campaign/{}/change/", _their_campaign),
        ("/admin/contacts/contact/{}/change/", _their_contact),
    ],
    ids=["message", "campaign", "contact"],
)
def test_owner_cannot_open_another_accounts_row(owner_browser, other_account, path, make):
    theirs = make(other_account)

    owner_browser.open(path.format(theirs.pk))

    # As for an id that does not exist: the admin sends them home, saying so.
    assert owner_browser.path == "/admin/"
    assert any("doesn\N{RIGHT SINGLE QUOTATION MARK}t exist" in message for message in owner_browser.messages())
    assert "Secret" not in owner_browser.text
    assert "+263779999999" not in owner_browser.text


def test_owner_opens_their_ledger(owner_browser, account, other_account):
    owner_browser.open("/admin/billing/transaction/")

    rows = owner_browser.rows()
    assert len(rows) == 1  # their top-up; not other_account's
    assert "Test top-up" in rows[0]
    assert "100" in rows[0]
