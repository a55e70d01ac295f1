from django.test import Client

from campaigns.models import Campaign
from tests.factories import GroupFactory, UserFactory


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
