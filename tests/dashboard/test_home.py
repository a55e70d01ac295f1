"""The owner's home page: their figures, nobody else's, and a warning when credits run low."""

from datetime import timedelta

from django.utils import timezone

from campaigns.models import Campaign
from dashboard.selectors import home_figures
from messaging.models import Message
from tests.factories import GroupFactory, MessageFactory


def messages_on(account, days_ago: int, status: str, count: int, credits: int = 1):
    created = timezone.now() - timedelta(days=days_ago)
    ids = [m.pk for m in MessageFactory.create_batch(count, account=account, status=status, credits=credits)]
    Message.objects.filter(pk__in=ids).update(created_at=created)


def test_the_home_page_shows_the_owners_balance_usage_and_delivery_rates(owner_client, account, other_account):
    messages_on(account, 0, "delivered", 3, credits=2)
    messages_on(account, 0, "failed", 1, credits=2)  # refunded: no credits spent
    messages_on(account, 3, "undelivered", 1)
    messages_on(account, 20, "delivered", 4)
    messages_on(other_account, 0, "delivered", 50)

    response = owner_client.get("/admin/")

    home = response.context["home"]
    assert home.account == account
    assert (home.today.messages, home.today.credits) == (4, 6)
    assert home.delivery_rate_7 == 3 / 4  # delivered ÷ (delivered + undelivered)
    assert home.delivery_rate_30 == 7 / 8
    assert [day["delivered"] for day in home.days][-1] == 3 and len(home.days) == 30
    page = response.content.decode()
    assert 'id="balance">100<' in page
    assert "75 %" in page and "88 %" in page  # 7 and 30 days
    assert "<svg" in page and "Messages per day" in page
    assert "SMS Localhost" in page and "Django administration" not in page


def test_the_home_page_warns_when_credits_fall_below_the_accounts_threshold(owner_client, account):
    assert "running low" not in owner_client.get("/admin/").content.decode()  # 100 credits, threshold 100

    account.low_credits_threshold = 101
    account.save(update_fields=["low_credits_threshold"])

    assert "Credits are running low: 100 left" in owner_client.get("/admin/").content.decode()


def test_the_home_page_lists_the_latest_campaigns_with_a_cancelled_one_unlike_a_completed_one(owner_client, account):
    group = GroupFactory(account=account)
    for name, status in [("Done", "completed"), ("Stopped", "cancelled")]:
        campaign = Campaign.objects.create(account=account, name=name, message="Hi", sender_name="MyBrand",
                                           group=group, status=status)  # fmt: skip
        MessageFactory.create_batch(2, account=account, campaign=campaign, status="delivered")
        MessageFactory.create_batch(2 if status == "cancelled" else 0, account=account, campaign=campaign,
                                    status="failed", error_code="campaign:cancelled")  # fmt: skip

    page = owner_client.get("/admin/").content.decode()

    assert "progress-completed" in page and "<strong>Completed</strong> · 2 / 2" in page
    assert "progress-cancelled" in page and "<strong>Cancelled</strong> · 4 / 4" in page
    assert "2 failed, refunded" in page


def test_an_operator_sees_the_admin_index_not_an_owners_figures(superuser_client):
    response = superuser_client.get("/admin/")

    assert response.status_code == 200
    assert "home" not in response.context
    assert "Accounts" in response.content.decode()


def test_the_sites_root_leads_to_the_dashboard(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"


def test_the_home_pages_figures_take_four_queries_whatever_the_accounts_size(account, django_assert_num_queries):
    messages_on(account, 0, "delivered", 30)
    messages_on(account, 12, "failed", 30)
    campaign = Campaign.objects.create(account=account, name="C", message="Hi", sender_name="MyBrand",
                                       group=GroupFactory(account=account), status="sending")  # fmt: skip
    MessageFactory.create_batch(5, account=account, campaign=campaign)

    with django_assert_num_queries(4):  # the account, its usage report, its latest campaigns, their counts (rollup)
        home = home_figures(account_id=account.pk)

    assert home.today.messages == 35 and home.campaigns[0].stats["recipients"] == 5
