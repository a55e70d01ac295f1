"""What an owner does in the dashboard, in a real browser: send an SMS, import contacts, create, launch and
watch a campaign (with a real Celery worker), export messages."""

import pytest

from campaigns.models import Campaign
from contacts.models import Contact
from messaging.models import Message
from tests.factories import ContactFactory, GroupFactory, MessageFactory
from tests.worker import broker_flush, celery_worker


def test_owner_sends_an_sms_from_the_form_with_a_live_segment_count(owner_browser, account, sender, outbox):
    owner_browser.open("/admin/")
    owner_browser.follow("Send an SMS")
    owner_browser.fill(to="0771234567", sender="MyBrand", message="Mhoro! Your order is ready 😀")

    owner_browser.wait_for_text("UCS-2 because of: 😀", css="#quote")
    assert "1 segment · 1 credit" in owner_browser.find("#quote").text
    owner_browser.submit("#send-button")

    assert owner_browser.messages() == ["Message to +263771234567 sent: 1 segment(s), 1 credit(s); 99 credits left."]
    assert owner_browser.path == f"/admin/messaging/message/{Message.objects.get().pk}/change/"
    assert [message.recipient for message in outbox] == ["+263771234567"]


def test_a_refused_send_shows_the_apis_error_and_spends_nothing(owner_browser, account, sender):
    owner_browser.open("/admin/send/")
    owner_browser.fill(to="not a number", sender="MyBrand", message="Hi")
    owner_browser.submit("#send-button")

    assert "Enter a valid phone number" in owner_browser.text
    assert not Message.objects.exists()
    account.refresh_from_db()
    assert account.sms_credits == 100


def test_owner_imports_a_csv_into_a_group_and_reads_the_rows_refused(owner_browser, account, tmp_path):
    GroupFactory(account=account, name="VIP")
    upload = tmp_path / "contacts.csv"
    upload.write_text("phone,first_name,last_name\n0771234567,Tendai,Moyo\n12,Bad,Row\n+263772222222,Rudo,\n")

    owner_browser.open("/admin/")
    owner_browser.follow("Import contacts")  # the header's quick action
    owner_browser.fill(file=upload, group="VIP")
    owner_browser.submit("#import-form [type=submit]")

    result = owner_browser.find("#import-result").text
    assert "2 created, 0 updated, 1 refused." in result
    assert owner_browser.rows("#import-errors tbody tr")[0].startswith("2 ")
    assert set(Contact.objects.filter(groups__name="VIP").values_list("phone", flat=True)) == {
        "+263771234567",
        "+263772222222",
    }


def test_owner_exports_the_filtered_messages_as_csv(owner_browser, account, other_account):
    MessageFactory(account=account, status="delivered", text="Delivered one")
    MessageFactory(account=account, status="failed", text="Failed one")
    MessageFactory(account=other_account, status="delivered", text="Theirs")

    owner_browser.open("/admin/messaging/message/")
    owner_browser.follow("Delivered")  # the status filter
    href = owner_browser.find("#export-csv").get_attribute("href")
    # What the link downloads, fetched by the page itself (with its session), as a click would.
    exported = owner_browser.driver.execute_async_script(
        "const done = arguments[arguments.length - 1]; fetch(arguments[0]).then(r => r.text()).then(done);", href
    )

    assert "Delivered one" in exported
    assert "Failed one" not in exported and "Theirs" not in exported


@pytest.mark.postgres
@pytest.mark.redis
def test_owner_creates_launches_and_watches_a_campaign_complete(owner_browser, account, sender, real_broker, tmp_path):
    group = GroupFactory(account=account, name="Customers")
    for n in range(20):
        ContactFactory(account=account, phone=f"+26377100{n:04d}", first_name=f"Name{n}", groups=[group])
    broker_flush()

    owner_browser.open("/admin/")
    owner_browser.follow("New campaign")
    owner_browser.fill(name="Spring sale", group="Customers", sender="MyBrand", message="Hi {name}, 20% off!")
    owner_browser.wait_for_text("20 recipient(s) · about 20 credit(s)", css="#preview")
    assert owner_browser.find("#preview-text").text.startswith("Hi Name")
    owner_browser.submit("#save-button")
    assert "saved as a draft" in owner_browser.messages()[0]

    with celery_worker(tmp_path, gateway_options={"delivery_delay": 0.2}):
        owner_browser.submit("#campaign-send")
        # The page follows the campaign by itself (it polls), then reloads once it is done.
        owner_browser.wait_for_text("Completed", css="#campaign-progress", timeout=60)
        # A completed campaign's page stops polling; receipts that come after it show on a reload.
        owner_browser.reload_until("20 delivered", css="#campaign-progress", timeout=30)

    campaign = Campaign.objects.get()
    assert campaign.status == "completed"
    account.refresh_from_db()
    assert account.sms_credits == 80
