"""Campaigns from the dashboard: create with a preview, send, pause, resume, cancel, watch the progress."""

import pytest

from campaigns.models import Campaign
from messaging.models import Message
from tests.factories import ContactFactory, GroupFactory, SenderIdFactory


@pytest.fixture
def group(account):
    group = GroupFactory(account=account, name="Customers")
    ContactFactory(account=account, phone="+263771000001", first_name="Tendai", groups=[group])
    ContactFactory(account=account, phone="+263771000002", first_name="Rudo", groups=[group])
    return group


def create(owner_client, group, **fields):
    data = {"name": "Promo", "group": group.pk, "sender": "MyBrand", "message": "Hi {name}!"} | fields
    return owner_client.post("/admin/campaigns/campaign/add/", data)


def test_the_preview_renders_the_template_for_a_real_contact_and_estimates_the_credits(owner_client, group, sender):
    preview = owner_client.get("/admin/campaigns/campaign/preview/", {"group": group.pk, "message": "Hi {name}!"})

    answer = preview.json()
    assert answer["recipients"] == 2 and answer["credits"] == 2
    assert answer["sample"]["text"] in ("Hi Tendai!", "Hi Rudo!")


def test_the_preview_names_a_bad_placeholder_and_refuses_another_accounts_group(
    owner_client, group, other_account, sender
):
    bad = owner_client.get("/admin/campaigns/campaign/preview/", {"group": group.pk, "message": "Hi {nmae}"})
    theirs = owner_client.get(
        "/admin/campaigns/campaign/preview/", {"group": GroupFactory(account=other_account).pk, "message": "Hi"}
    )
    nonsense = owner_client.get("/admin/campaigns/campaign/preview/", {"group": "nope", "message": "Hi"})

    assert bad.status_code == 400 and "Unknown placeholder {nmae}" in bad.json()["error"]
    assert theirs.status_code == 400 and theirs.json()["error"] == "Invalid group_id: No such group in this account."
    assert nonsense.status_code == 400


def test_an_owner_creates_a_draft_sends_it_and_it_reserves_its_credits(owner_client, account, group, sender):
    response = create(owner_client, group)

    campaign = Campaign.objects.get()
    assert response.headers["Location"] == f"/admin/campaigns/campaign/{campaign.pk}/change/"
    assert (campaign.account, campaign.status, campaign.estimated_credits) == (account, "draft", 2)
    page = owner_client.get(response.headers["Location"]).content.decode()
    assert 'id="campaign-send"' in page and "Draft: not sent" in page

    owner_client.post(f"/admin/campaigns/campaign/{campaign.pk}/send/")

    campaign.refresh_from_db()
    account.refresh_from_db()
    assert campaign.status in ("sending", "completed")
    assert Message.objects.filter(campaign=campaign).count() == 2
    assert account.sms_credits == 98


def test_a_campaign_the_service_refuses_shows_its_error_and_creates_nothing(owner_client, account, group, sender):
    SenderIdFactory(account=account, name="Waiting", status="pending")

    bad_template = create(owner_client, group, message="Hi {nmae}")
    not_approved = create(owner_client, group, sender="Waiting")

    assert "Unknown placeholder {nmae}" in bad_template.content.decode()
    assert "Select a valid choice" in not_approved.content.decode()  # only approved senders are offered
    assert not Campaign.objects.exists()


def test_pause_resume_and_cancel_from_the_detail_page_follow_the_state_machine(owner_client, account, group, sender):
    create(owner_client, group)
    campaign = Campaign.objects.get()
    Campaign.objects.filter(pk=campaign.pk).update(status="sending")
    url = f"/admin/campaigns/campaign/{campaign.pk}"

    owner_client.post(f"{url}/pause/")
    campaign.refresh_from_db()
    assert campaign.status == "paused"
    assert 'id="campaign-resume"' in owner_client.get(f"{url}/change/").content.decode()

    refused = owner_client.post(f"{url}/pause/", follow=True)  # not offered to a paused campaign
    assert "A paused campaign cannot be paused here." in refused.content.decode()

    owner_client.post(f"{url}/cancel/")
    campaign.refresh_from_db()
    assert campaign.status == "cancelled"
    assert 'class="submit-row campaign-actions"' not in owner_client.get(f"{url}/change/").content.decode()


def test_the_progress_endpoint_tells_sent_delivered_and_failed_apart(owner_client, account, group, sender):
    create(owner_client, group)
    campaign = Campaign.objects.get()
    owner_client.post(f"/admin/campaigns/campaign/{campaign.pk}/send/")

    answer = owner_client.get(f"/admin/campaigns/campaign/{campaign.pk}/progress/").json()

    assert answer["stats"]["recipients"] == 2
    assert answer["status"] in ("sending", "completed")
    assert "progress-" in answer["html"]


def test_another_owners_campaign_is_not_reachable_by_url(owner_client, other_account):
    theirs = Campaign.objects.create(account=other_account, name="Theirs", message="Hi", sender_name="X",
                                     group=GroupFactory(account=other_account), status="sending")  # fmt: skip
    url = f"/admin/campaigns/campaign/{theirs.pk}"

    assert owner_client.get(f"{url}/change/", follow=True).redirect_chain[-1][0] == "/admin/"
    assert owner_client.get(f"{url}/progress/").status_code == 404
    assert owner_client.post(f"{url}/cancel/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "sending"
