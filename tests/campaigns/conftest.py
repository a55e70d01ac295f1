import pytest

from tests.factories import ContactFactory, GroupFactory


@pytest.fixture
def group(account):
    return GroupFactory(account=account, name="Customers")


@pytest.fixture
def members(account, group):
    """Three members of `group`, one of them opted out."""
    return [
        ContactFactory(account=account, phone="+263771000001", first_name="Tendai", last_name="Moyo", groups=[group]),
        ContactFactory(account=account, phone="+263771000002", first_name="Rudo", last_name="Ncube", groups=[group]),
        ContactFactory(
            account=account, phone="+263771000003", first_name="Out", last_name="Opted", opted_out=True, groups=[group]
        ),
    ]


@pytest.fixture
def create_campaign(api_client, sender, group):
    def create(**overrides):
        body = {
            "name": "March Promo",
            "message": "Hi {name}, enjoy 20% off this week!",
            "sender_name": "MyBrand",
            "group_id": str(group.pk),
        } | overrides
        return api_client.post("/api/v1/campaigns/", body, format="json")

    return create
