"""`?page=` and `?page_size=` on every paginated list: a positive integer, or a 400 that names the parameter."""

import pytest
from rest_framework.test import APIClient

from campaigns.models import Campaign
from tests.factories import ContactFactory, GroupFactory

from .test_errors import assert_error

LISTS = ["/api/v1/contacts/", "/api/v1/billing/transactions/", "/api/v1/campaigns/", "/api/v1/campaigns/{id}/messages/"]


@pytest.fixture
def list_url(account):
    """Each paginated list of `account`, by its path template."""

    def url(template: str) -> str:
        if "{id}" not in template:
            return template
        campaign = Campaign.objects.create(
            account=account, name="Promo", message="Hi", sender_name="MyBrand", group=GroupFactory(account=account)
        )
        return template.format(id=campaign.pk)

    return url


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("value", ["abc", "0", "-1", "1.5", "1e3"])
def test_a_page_that_is_not_a_positive_integer_is_a_400(api_client, list_url, path, value):
    body = assert_error(api_client.get(list_url(path), {"page": value}), 400, "invalid")

    assert list(body["fields"]) == ["page"]
    assert body["error"].startswith("Invalid page: ")


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("value", ["abc", "0", "-5"])
def test_a_page_size_that_is_not_a_positive_integer_is_a_400(api_client, list_url, path, value):
    body = assert_error(api_client.get(list_url(path), {"page_size": value}), 400, "invalid")

    assert list(body["fields"]) == ["page_size"]


def test_numbers_are_served_and_anything_else_is_named(api_client, account):
    ContactFactory.create_batch(3, account=account)

    second = api_client.get("/api/v1/contacts/", {"page": "2", "page_size": "2"}).json()
    default = api_client.get("/api/v1/contacts/", {"page": "", "page_size": ""}).json()  # empty: the defaults
    refused = api_client.get("/api/v1/contacts/", {"page": "0", "page_size": "x"})

    assert (second["count"], len(second["contacts"]), second["next"]) == (3, 1, None)
    assert second["previous"] == "http://testserver/api/v1/contacts/?page_size=2"
    assert (len(default["contacts"]), default["next"]) == (3, None)
    assert assert_error(refused, 400, "invalid")["fields"] == {
        "page": ["Ensure this value is greater than or equal to 1."],
        "page_size": ["A valid integer is required."],
    }


@pytest.mark.parametrize("path", LISTS)
def test_a_page_past_the_end_is_a_404(api_client, list_url, path):
    body = assert_error(api_client.get(list_url(path), {"page": "999"}), 404, "not_found")

    assert body["error"] == "Page 999 is past the end of the list."


def test_the_schema_says_page_and_page_size_are_at_least_1(db):
    schema = APIClient().get("/api/v1/schema/", {"format": "json"}).json()

    parameters = {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/contacts/"]["get"]["parameters"]}
    assert parameters["page"] == {"type": "integer", "minimum": 1}
    assert parameters["page_size"] == {"type": "integer", "minimum": 1}
