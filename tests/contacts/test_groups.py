import uuid

import pytest

from contacts.models import Contact, Group
from tests.factories import ContactFactory, GroupFactory

from .helpers import GROUP_FIELDS, GROUPS_URL, assert_error, group_url, members_url

# --- Groups ---------------------------------------------------------------------------------------


def test_create_a_group(api_client, account):
    response = api_client.post(GROUPS_URL, {"name": "VIP", "description": "Best customers"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == GROUP_FIELDS
    assert (body["name"], body["description"], body["contact_count"]) == ("VIP", "Best customers", 0)
    assert body["created_at"].endswith("Z")
    assert Group.objects.get(pk=body["id"]).account == account


def test_description_is_optional(api_client):
    assert api_client.post(GROUPS_URL, {"name": "VIP"}, format="json").json()["description"] == ""


def test_a_name_the_account_has_is_a_409_in_any_case(api_client, account):
    GroupFactory(account=account, name="VIP")

    response = api_client.post(GROUPS_URL, {"name": "vip"}, format="json")

    assert response.status_code == 409
    assert response.json() == {"error": "This account already has a group named 'vip'.", "code": "group_exists"}
    assert Group.objects.count() == 1


def test_another_account_may_use_the_same_name(api_client, other_account):
    GroupFactory(account=other_account, name="VIP")

    assert api_client.post(GROUPS_URL, {"name": "VIP"}, format="json").status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": 5},
        {"name": None},
        {"name": "x" * 101},
        {"name": "A", "description": 1},
    ],
)
def test_bad_group_input_is_a_400_and_creates_nothing(api_client, body):
    assert_error(api_client.post(GROUPS_URL, body, format="json"), 400, "invalid")
    assert not Group.objects.exists()


def test_list_groups_newest_first_with_member_counts_in_one_query(
    api_client, account, other_account, django_assert_num_queries
):
    first, second = GroupFactory(account=account, name="First"), GroupFactory(account=account, name="Second")
    for _ in range(3):
        ContactFactory(account=account, groups=[first, second])
    ContactFactory(account=account, groups=[second])
    GroupFactory(account=other_account, name="Theirs")
    api_client.get("/api/v1/billing/balance/")  # the key's lookup is cached from here on

    with django_assert_num_queries(1):
        response = api_client.get(GROUPS_URL)

    assert response.status_code == 200
    groups = response.json()["groups"]
    assert [(group["name"], group["contact_count"]) for group in groups] == [("Second", 4), ("First", 3)]
    assert set(groups[0]) == GROUP_FIELDS


def test_get_one_group(api_client, account):
    group = GroupFactory(account=account, name="VIP")
    ContactFactory(account=account, groups=[group])

    body = api_client.get(group_url(group.pk)).json()

    assert (body["id"], body["name"], body["contact_count"]) == (str(group.pk), "VIP", 1)


def test_patch_a_group(api_client, account):
    group = GroupFactory(account=account, name="VIP", description="old")
    ContactFactory(account=account, groups=[group])

    response = api_client.patch(group_url(group.pk), {"description": "new"}, format="json")

    assert response.status_code == 200
    assert (response.json()["name"], response.json()["description"], response.json()["contact_count"]) == (
        "VIP",
        "new",
        1,
    )
    assert api_client.patch(group_url(group.pk), {"name": "Gold"}, format="json").json()["name"] == "Gold"
    group.refresh_from_db()
    assert (group.name, group.description) == ("Gold", "new")


def test_renaming_a_group_to_another_groups_name_is_a_409(api_client, account):
    GroupFactory(account=account, name="Gold")
    group = GroupFactory(account=account, name="VIP")

    assert_error(api_client.patch(group_url(group.pk), {"name": "GOLD"}, format="json"), 409, "group_exists")
    group.refresh_from_db()
    assert group.name == "VIP"


@pytest.mark.parametrize("body", [{"name": ""}, {"name": 5}, {"description": None}, {"name": "x" * 101}])
def test_bad_group_patch_is_a_400(api_client, account, body):
    group = GroupFactory(account=account, name="VIP")

    assert_error(api_client.patch(group_url(group.pk), body, format="json"), 400, "invalid")
    group.refresh_from_db()
    assert group.name == "VIP"


def test_put_on_a_group_is_a_405(api_client, account):
    group = GroupFactory(account=account)

    assert_error(api_client.put(group_url(group.pk), {"name": "X"}, format="json"), 405, "method_not_allowed")


def test_deleting_a_group_keeps_its_contacts(api_client, account):
    group = GroupFactory(account=account)
    contact = ContactFactory(account=account, groups=[group])

    response = api_client.delete(group_url(group.pk))

    assert response.status_code == 204
    assert not Group.objects.exists()
    assert Contact.objects.get() == contact
    assert api_client.get(f"/api/v1/contacts/{contact.pk}/").json()["group_ids"] == []


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_unknown_group_is_a_json_404(api_client, method):
    for path in (group_url(uuid.uuid4()), group_url("not-a-uuid")):
        assert_error(getattr(api_client, method)(path, {"name": "X"}, format="json"), 404, "not_found")


def test_another_accounts_group_is_a_404_and_stays_as_it_is(api_client, other_account):
    theirs = GroupFactory(account=other_account, name="Theirs")
    member = ContactFactory(account=other_account, groups=[theirs])
    other_member = ContactFactory(account=other_account)
    ids = {"contact_ids": [str(member.pk), str(other_member.pk)]}

    for response in (
        api_client.get(group_url(theirs.pk)),
        api_client.patch(group_url(theirs.pk), {"name": "Mine"}, format="json"),
        api_client.delete(group_url(theirs.pk)),
        api_client.post(members_url(theirs.pk), ids, format="json"),
        api_client.delete(members_url(theirs.pk), ids, format="json"),
    ):
        assert "Theirs" not in str(assert_error(response, 404, "not_found"))
    theirs.refresh_from_db()
    assert theirs.name == "Theirs"
    assert list(theirs.contacts.all()) == [member]
    assert "Theirs" not in str(api_client.get(GROUPS_URL).json())


def test_groups_need_a_key(anonymous_client, db):
    assert_error(anonymous_client.get(GROUPS_URL), 401, "not_authenticated")
    assert_error(anonymous_client.post(members_url(uuid.uuid4()), {}, format="json"), 401, "not_authenticated")


# --- Members --------------------------------------------------------------------------------------


@pytest.fixture
def group(account):
    return GroupFactory(account=account, name="VIP")


def test_add_members_answers_how_many_were_added(api_client, account, group):
    first, second = ContactFactory(account=account), ContactFactory(account=account)

    response = api_client.post(members_url(group.pk), {"contact_ids": [str(first.pk), str(second.pk)]}, format="json")

    assert response.status_code == 200
    assert response.json() == {"added": 2}
    assert set(group.contacts.all()) == {first, second}
    assert api_client.get(group_url(group.pk)).json()["contact_count"] == 2


def test_adding_members_again_adds_nothing(api_client, account, group):
    member = ContactFactory(account=account, groups=[group])
    new = ContactFactory(account=account)
    ids = [str(member.pk), str(new.pk), str(new.pk)]

    assert api_client.post(members_url(group.pk), {"contact_ids": ids}, format="json").json() == {"added": 1}
    assert api_client.post(members_url(group.pk), {"contact_ids": ids}, format="json").json() == {"added": 0}
    assert group.contacts.count() == 2


def test_another_accounts_contacts_are_refused_by_id_and_nothing_is_added(api_client, account, other_account, group):
    mine, theirs = ContactFactory(account=account), ContactFactory(account=other_account)
    unknown = uuid.uuid4()

    response = api_client.post(
        members_url(group.pk), {"contact_ids": [str(mine.pk), str(theirs.pk), str(unknown)]}, format="json"
    )

    body = assert_error(response, 400, "invalid")
    assert body["fields"] == {"contact_ids": [f"No such contact in this account: {theirs.pk}, {unknown}."]}
    assert not group.contacts.exists()


def test_an_error_names_at_most_20_ids(api_client, group):
    unknown = [str(uuid.uuid4()) for _ in range(25)]

    body = assert_error(api_client.post(members_url(group.pk), {"contact_ids": unknown}, format="json"), 400, "invalid")

    message = body["fields"]["contact_ids"][0]
    assert message.endswith(" and 5 more.")
    assert unknown[19] in message
    assert unknown[20] not in message


@pytest.mark.parametrize(
    "body",
    [{}, {"contact_ids": []}, {"contact_ids": "x"}, {"contact_ids": ["not-a-uuid"]}, {"contact_ids": [1]}, []],
)
def test_bad_member_lists_are_a_400(api_client, account, group, body):
    ContactFactory(account=account)

    assert_error(api_client.post(members_url(group.pk), body, format="json"), 400, "invalid")
    assert_error(api_client.delete(members_url(group.pk), body, format="json"), 400, "invalid")
    assert not group.contacts.exists()


def test_remove_members_answers_how_many_were_removed_and_keeps_the_contacts(api_client, account, group):
    first, second = ContactFactory(account=account, groups=[group]), ContactFactory(account=account, groups=[group])
    not_member = ContactFactory(account=account)

    response = api_client.delete(
        members_url(group.pk), {"contact_ids": [str(first.pk), str(not_member.pk)]}, format="json"
    )

    assert response.status_code == 200
    assert response.json() == {"removed": 1}
    assert list(group.contacts.all()) == [second]
    assert Contact.objects.count() == 3


def test_removing_another_accounts_contact_is_refused_and_nothing_is_removed(api_client, account, other_account, group):
    member = ContactFactory(account=account, groups=[group])
    theirs = ContactFactory(account=other_account)

    response = api_client.delete(
        members_url(group.pk), {"contact_ids": [str(member.pk), str(theirs.pk)]}, format="json"
    )

    assert assert_error(response, 400, "invalid")["fields"] == {
        "contact_ids": [f"No such contact in this account: {theirs.pk}."]
    }
    assert list(group.contacts.all()) == [member]


def test_members_of_an_unknown_group_is_a_404(api_client, account):
    contact = ContactFactory(account=account)

    response = api_client.post(members_url(uuid.uuid4()), {"contact_ids": [str(contact.pk)]}, format="json")

    assert_error(response, 404, "not_found")
