from django.test import Client

from campaigns.models import Campaign
from campaigns.services import campaign_create, campaign_send
from tests.factories import ContactFactory, GroupFactory, UserFactory

from .helpers import run_preparation


def campaign(account, name, status="sending"):
    return Campaign.objects.create(
        account=account, name=name, message="Hi", sender_name="MyBrand", group=GroupFactory(account=account),
        status=status,
    )  # fmt: skip


def test_owner_sees_their_campaigns_with_progress_and_pauses_one(account, other_account):
    mine = campaign(account, "Mine")
    campaign(other_account, "Theirs")
    owner = Client()
    owner.force_login(UserFactory(is_staff=True, account=account))

    page = owner.get("/admin/campaigns/campaign/").content.decode()
    assert "Mine" in page
    assert "Theirs" not in page
    assert "progress-sending" in page  # its bar

    owner.post("/admin/campaigns/campaign/", {"action": "pause", "_selected_action": [mine.pk]})
    mine.refresh_from_db()
    assert mine.status == "paused"


def test_an_illegal_action_is_reported_not_a_crash(account):
    done = campaign(account, "Done", status="completed")
    operator = Client()
    operator.force_login(UserFactory(is_staff=True, is_superuser=True))

    response = operator.post(
        "/admin/campaigns/campaign/", {"action": "cancel", "_selected_action": [done.pk]}, follow=True
    )

    assert response.status_code == 200
    assert "A completed campaign cannot be cancelled." in response.content.decode()
    done.refresh_from_db()
    assert done.status == "completed"


def test_the_campaign_page_and_its_poll_show_the_preparation_going_on(account, sender, settings):
    settings.CAMPAIGN_PREPARE_CHUNK = 2
    group = GroupFactory(account=account)
    ContactFactory.create_batch(5, account=account, groups=[group])
    draft = campaign_create(account_id=account.pk, name="Big", message="Hi {name}", sender_name="MyBrand",
                            group_id=group.pk)  # fmt: skip
    sending = campaign_send(campaign=draft)
    owner = Client()
    owner.force_login(UserFactory(is_staff=True, account=account))

    page = owner.get(f"/admin/campaigns/campaign/{sending.pk}/change/").content.decode()
    poll = owner.get(f"/admin/campaigns/campaign/{sending.pk}/progress/").json()

    assert "Preparing its messages: 2 of 5 written" in page
    assert "0 / 5" in page and "3 to prepare" in page  # the bar is out of the five expected
    assert (poll["status"], poll["live"]) == ("sending", True)
    assert poll["preparation"] == {"preparing": True, "prepared": 2, "expected": 5}
    run_preparation(sending.pk)
    poll = owner.get(f"/admin/campaigns/campaign/{sending.pk}/progress/").json()
    assert poll["preparation"] == {"preparing": False, "prepared": 5, "expected": 5}
    assert "Preparing" not in poll["html"]
