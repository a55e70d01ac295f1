import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact
from tests.factories import ContactFactory, GroupFactory

from .helpers import CONTACT_FIELDS, CONTACTS_URL, assert_error, contact_url


def create(client, **body):
    return client.post(CONTACTS_URL, body, format="json")


# --- Create ---------------------------------------------------------------------------------------


def test_create_a_contact_as_the_seed_shows(api_client, account):
    response = create(api_client, phone="0771234567", first_name="John", last_name="Doe")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == CONTACT_FIELDS
    assert (body["phone"], body["first_name"], body["last_name"]) == ("+263771234567", "John", "Doe")
    assert body["group_ids"] == []
    assert body["opted_out"] is False
    assert body["created_at"].endswith("Z")
    assert body["updated_at"].endswith("Z")
    assert Contact.objects.get(pk=body["id"]).account == account


@pytest.mark.parametrize("phone", ["0771234567", "+263771234567", "263771234567", "00263771234567", "+263 77-123 4567"])
def test_phone_is_stored_in_e164_whatever_its_form(api_client, phone):
    assert create(api_client, phone=phone).json()["phone"] == "+263771234567"


def test_names_are_optional(api_client):
    body = create(api_client, phone="0771234567").json()

    assert (body["first_name"], body["last_name"]) == ("", "")


def test_create_in_groups_of_the_account(api_client, account):
    first, second = GroupFactory(account=account), GroupFactory(account=account)

    body = create(api_client, phone="0771234567", group_ids=[str(first.pk), str(second.pk), str(first.pk)]).json()

    assert sorted(body["group_ids"]) == sorted([str(first.pk), str(second.pk)])
    assert set(Contact.objects.get(pk=body["id"]).groups.all()) == {first, second}


def test_another_accounts_group_is_a_400_naming_it_and_creates_nothing(api_client, account, other_account):
    mine, theirs = GroupFactory(account=account), GroupFactory(account=other_account)
    unknown = uuid.uuid4()

    response = create(api_client, phone="0771234567", group_ids=[str(mine.pk), str(theirs.pk), str(unknown)])

    body = assert_error(response, 400, "invalid")
    assert body["fields"] == {"group_ids": [f"No such group in this account: {theirs.pk}, {unknown}."]}
    assert not Contact.objects.exists()
    assert not theirs.contacts.exists()


def test_a_phone_the_account_has_is_a_409_naming_the_contact(api_client, account):
    existing = ContactFactory(account=account, phone="+263771234567")

    response = create(api_client, phone="077 123 4567", first_name="Again")

    assert response.status_code == 409
    assert response.json() == {
        "error": "This account already has a contact with phone +263771234567.",
        "code": "contact_exists",
        "contact_id": str(existing.pk),
    }
    assert Contact.objects.count() == 1


def test_another_account_may_have_the_same_phone(api_client, other_account):
    ContactFactory(account=other_account, phone="+263771234567")

    assert create(api_client, phone="0771234567").status_code == 201


def test_opted_out_may_be_set_at_creation(api_client):
    assert create(api_client, phone="0771234567", opted_out=True).json()["opted_out"] is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "phone"),
        ({"phone": "12345"}, "phone"),
        ({"phone": "not a number"}, "phone"),
        ({"phone": 771234567}, "phone"),
        ({"phone": None}, "phone"),
        ({"phone": "0771234567", "first_name": 5}, "first_name"),
        ({"phone": "0771234567", "first_name": None}, "first_name"),
        ({"phone": "0771234567", "last_name": "x" * 101}, "last_name"),
        ({"phone": "0771234567", "last_name": ["Doe"]}, "last_name"),
        ({"phone": "0771234567", "opted_out": "true"}, "opted_out"),
        ({"phone": "0771234567", "opted_out": 1}, "opted_out"),
        ({"phone": "0771234567", "opted_out": None}, "opted_out"),
        ({"phone": "0771234567", "group_ids": "not-a-list"}, "group_ids"),
        ({"phone": "0771234567", "group_ids": ["not-a-uuid"]}, "group_ids"),
        ({"phone": "0771234567", "group_ids": [12345]}, "group_ids"),
        ({"phone": "0771234567", "group_ids": None}, "group_ids"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_creates_nothing(api_client, body, field):
    response = create(api_client, **body)

    body = assert_error(response, 400, "invalid")
    assert {name.split(".")[0] for name in body["fields"]} == {field}  # list items are named group_ids.0
    assert not Contact.objects.exists()


def test_unknown_fields_are_ignored(api_client):
    assert create(api_client, phone="0771234567", favourite_colour="blue").status_code == 201


# --- Read, update, delete ---------------------------------------------------------------------------


def test_get_one_contact(api_client, account):
    group = GroupFactory(account=account)
    contact = ContactFactory(account=account, phone="+263771234567", first_name="Rudo", groups=[group])

    response = api_client.get(contact_url(contact.pk))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == CONTACT_FIELDS
    assert (body["id"], body["phone"], body["first_name"]) == (str(contact.pk), "+263771234567", "Rudo")
    assert body["group_ids"] == [str(group.pk)]


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_unknown_or_malformed_contact_id_is_a_json_404(api_client, method):
    for path in (contact_url(uuid.uuid4()), contact_url("not-a-uuid"), contact_url(12345)):
        assert_error(getattr(api_client, method)(path, {"phone": "0771234567"}, format="json"), 404, "not_found")


def test_put_replaces_the_contact(api_client, account):
    old_group, new_group = GroupFactory(account=account), GroupFactory(account=account)
    contact = ContactFactory(account=account, phone="+263771234567", first_name="A", last_name="B", groups=[old_group])

    response = api_client.put(
        contact_url(contact.pk),
        {"phone": "0772222222", "first_name": "C", "group_ids": [str(new_group.pk)]},
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["phone"], body["first_name"], body["last_name"]) == ("+263772222222", "C", "")
    assert body["group_ids"] == [str(new_group.pk)]
    contact.refresh_from_db()
    assert (contact.phone, contact.first_name, contact.last_name) == ("+263772222222", "C", "")
    assert list(contact.groups.all()) == [new_group]


def test_put_needs_the_phone(api_client, account):
    contact = ContactFactory(account=account)

    body = assert_error(api_client.put(contact_url(contact.pk), {"first_name": "X"}, format="json"), 400, "invalid")

    assert "phone" in body["fields"]


def test_put_without_opted_out_keeps_it(api_client, account):
    """No update re-subscribes someone who opted out unless it says so."""
    contact = ContactFactory(account=account, opted_out=True)

    body = api_client.put(contact_url(contact.pk), {"phone": contact.phone}, format="json").json()

    assert body["opted_out"] is True


def test_patch_changes_only_the_fields_given(api_client, account):
    group = GroupFactory(account=account)
    contact = ContactFactory(account=account, phone="+263771234567", first_name="A", last_name="B", groups=[group])

    body = api_client.patch(contact_url(contact.pk), {"last_name": "Moyo"}, format="json").json()

    assert (body["phone"], body["first_name"], body["last_name"]) == ("+263771234567", "A", "Moyo")
    assert body["group_ids"] == [str(group.pk)]


def test_opt_out_and_back_in(api_client, account):
    contact = ContactFactory(account=account)

    assert api_client.patch(contact_url(contact.pk), {"opted_out": True}, format="json").json()["opted_out"] is True
    contact.refresh_from_db()
    assert contact.opted_out is True
    assert api_client.patch(contact_url(contact.pk), {"opted_out": False}, format="json").json()["opted_out"] is False


@pytest.mark.parametrize("value", ["true", "false", 1, 0, None, "yes"])
def test_opted_out_must_be_a_boolean(api_client, account, value):
    contact = ContactFactory(account=account)

    body = assert_error(api_client.patch(contact_url(contact.pk), {"opted_out": value}, format="json"), 400, "invalid")

    assert body["fields"] == {"opted_out": [body["fields"]["opted_out"][0]]}
    contact.refresh_from_db()
    assert contact.opted_out is False


def test_patch_group_ids_replaces_the_groups_and_refuses_another_accounts(api_client, account, other_account):
    mine, theirs = GroupFactory(account=account), GroupFactory(account=other_account)
    contact = ContactFactory(account=account)

    assert api_client.patch(contact_url(contact.pk), {"group_ids": [str(mine.pk)]}, format="json").status_code == 200
    response = api_client.patch(contact_url(contact.pk), {"group_ids": [str(theirs.pk)]}, format="json")

    assert assert_error(response, 400, "invalid")["fields"] == {
        "group_ids": [f"No such group in this account: {theirs.pk}."]
    }
    assert list(contact.groups.all()) == [mine]


def test_changing_the_phone_to_another_contacts_is_a_409(api_client, account):
    taken = ContactFactory(account=account, phone="+263772222222")
    contact = ContactFactory(account=account, phone="+263771111111")

    response = api_client.patch(contact_url(contact.pk), {"phone": "0772222222"}, format="json")

    assert assert_error(response, 409, "contact_exists")["contact_id"] == str(taken.pk)
    contact.refresh_from_db()
    assert contact.phone == "+263771111111"


def test_keeping_its_own_phone_is_no_conflict(api_client, account):
    contact = ContactFactory(account=account, phone="+263771111111")

    assert api_client.put(contact_url(contact.pk), {"phone": "0771111111"}, format="json").status_code == 200


def test_delete_a_contact_keeps_its_groups(api_client, account):
    group = GroupFactory(account=account)
    contact = ContactFactory(account=account, groups=[group])

    response = api_client.delete(contact_url(contact.pk))

    assert response.status_code == 204
    assert response.content == b""
    assert_error(api_client.get(contact_url(contact.pk)), 404, "not_found")
    assert not Contact.objects.exists()
    group.refresh_from_db()
    assert not group.contacts.exists()


def test_another_accounts_contact_is_a_404_and_stays_as_it_is(api_client, other_account):
    theirs = ContactFactory(account=other_account, phone="+263771234567", first_name="Theirs")
    path = contact_url(theirs.pk)

    for response in (
        api_client.get(path),
        api_client.put(path, {"phone": "0779999999"}, format="json"),
        api_client.patch(path, {"first_name": "Mine", "opted_out": True}, format="json"),
        api_client.delete(path),
    ):
        body = assert_error(response, 404, "not_found")
        assert "Theirs" not in str(body)
    theirs.refresh_from_db()
    assert (theirs.phone, theirs.first_name, theirs.opted_out) == ("+263771234567", "Theirs", False)


@pytest.mark.parametrize("path", [CONTACTS_URL, contact_url(uuid.uuid4())])
def test_contacts_need_a_key(anonymous_client, db, path):
    assert_error(anonymous_client.get(path), 401, "not_authenticated")


def test_paths_work_without_the_trailing_slash(api_client, account):
    created = api_client.post(CONTACTS_URL.rstrip("/"), {"phone": "0771234567"}, format="json")
    assert created.status_code == 201

    assert api_client.get(contact_url(created.json()["id"]).rstrip("/")).status_code == 200


# --- List -----------------------------------------------------------------------------------------


def test_list_is_paginated_newest_first(api_client, account):
    contacts = [ContactFactory(account=account) for _ in range(3)]

    response = api_client.get(CONTACTS_URL, {"page_size": 2})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "contacts"}
    assert body["count"] == 3
    assert body["previous"] is None
    assert [row["id"] for row in body["contacts"]] == [str(contacts[2].pk), str(contacts[1].pk)]
    assert set(body["contacts"][0]) == CONTACT_FIELDS
    second = api_client.get(body["next"]).json()
    assert [row["id"] for row in second["contacts"]] == [str(contacts[0].pk)]


def test_opted_out_contacts_stay_listed(api_client, account):
    ContactFactory(account=account, opted_out=True)

    assert api_client.get(CONTACTS_URL).json()["contacts"][0]["opted_out"] is True


def test_list_never_shows_another_accounts_contacts(api_client, other_client, account, other_account):
    ContactFactory(account=other_account, first_name="Theirs")

    assert api_client.get(CONTACTS_URL).json()["count"] == 0
    assert api_client.get(CONTACTS_URL, {"search": "Theirs"}).json()["count"] == 0
    assert other_client.get(CONTACTS_URL).json()["count"] == 1


def test_list_queries_do_not_grow_with_contacts_or_groups(api_client, account, django_assert_max_num_queries):
    groups = [GroupFactory(account=account) for _ in range(3)]
    for _ in range(30):
        ContactFactory(account=account, groups=groups)
    api_client.get("/api/v1/billing/balance/")  # the key's lookup is cached from here on

    with django_assert_max_num_queries(3):  # the count, the page, the page's group ids
        body = api_client.get(CONTACTS_URL).json()
    with django_assert_max_num_queries(4):  # and the group's check
        filtered = api_client.get(CONTACTS_URL, {"group_id": str(groups[0].pk), "search": "0"}).json()

    assert len(body["contacts"]) == 30
    assert all(len(row["group_ids"]) == 3 for row in body["contacts"])
    assert filtered["count"] == 30


# --- Search ---------------------------------------------------------------------------------------


@pytest.fixture
def people(account):
    return {
        "tendai": ContactFactory(account=account, phone="+263771234567", first_name="Tendai", last_name="Moyo"),
        "rudo": ContactFactory(account=account, phone="+263782345678", first_name="Rudo", last_name="Tendaishe"),
        "chipo": ContactFactory(account=account, phone="+263719876543", first_name="Chipo", last_name="Ncube"),
        "foreign": ContactFactory(account=account, phone="+27821234567", first_name="Thabo", last_name="Nkosi"),
    }


def search(client, term: str) -> set[str]:
    response = client.get(CONTACTS_URL, {"search": term})
    assert response.status_code == 200
    return {row["first_name"] for row in response.json()["contacts"]}


@pytest.mark.parametrize(
    ("term", "found"),
    [
        ("tendai", {"Tendai", "Rudo"}),  # first or last name, any case, any part
        ("MOYO", {"Tendai"}),
        ("ncu", {"Chipo"}),
        ("Tendai Moyo", {"Tendai"}),  # every word must match
        ("moyo tendai", {"Tendai"}),
        ("0771", {"Tendai"}),  # a local number as typed: 0 → +263
        ("077 123-4567", {"Tendai"}),
        ("07", {"Tendai", "Rudo", "Chipo"}),
        ("+26378", {"Rudo"}),
        ("0026378", {"Rudo"}),
        ("+27", {"Thabo"}),
        ("263782", {"Rudo"}),  # bare digits: anywhere in the number
        ("9876543", {"Chipo"}),
        ("1234567", {"Tendai", "Thabo"}),
        ("Tendai 0771", {"Tendai"}),
        ("nobody", set()),
        ("0779", set()),
        ("", {"Tendai", "Rudo", "Chipo", "Thabo"}),
        ("   ", {"Tendai", "Rudo", "Chipo", "Thabo"}),
    ],
)
def test_search_by_name_or_number(api_client, people, term, found):
    assert search(api_client, term) == found


def test_search_with_like_wildcards_matches_them_literally(api_client, account, people):
    ContactFactory(account=account, first_name="50%_off")

    assert search(api_client, "%") == {"50%_off"}
    assert search(api_client, "_") == {"50%_off"}


def test_search_longer_than_100_characters_is_a_400(api_client):
    assert_error(api_client.get(CONTACTS_URL, {"search": "x" * 101}), 400, "invalid")


# --- Filter by group --------------------------------------------------------------------------------


def test_filter_by_group(api_client, account, people):
    group = GroupFactory(account=account)
    group.contacts.add(people["tendai"], people["chipo"])

    body = api_client.get(CONTACTS_URL, {"group_id": str(group.pk)}).json()

    assert {row["first_name"] for row in body["contacts"]} == {"Tendai", "Chipo"}
    assert body["count"] == 2
    assert search_in_group(api_client, group, "ncube") == {"Chipo"}
    assert api_client.get(CONTACTS_URL, {"group_id": str(group.pk), "search": "ncube"}).json()["count"] == 1


def test_a_groups_members_are_counted_without_their_join_with_the_contacts(api_client, account):
    group = GroupFactory(account=account)
    for _ in range(7):
        ContactFactory(account=account, groups=[group])
    ContactFactory(account=account)  # not a member
    api_client.get("/api/v1/billing/balance/")  # the key's lookup is cached from here on

    with CaptureQueriesContext(connection) as queries:
        first = api_client.get(CONTACTS_URL, {"group_id": str(group.pk), "page_size": 5}).json()
    # Read now: the next request empties the connection's log, which captured_queries reads.
    counts = [query["sql"] for query in queries.captured_queries if "COUNT(*)" in query["sql"]]
    last = api_client.get(CONTACTS_URL, {"group_id": str(group.pk), "page_size": 5, "page": 2}).json()

    assert len(counts) == 1
    assert '"contacts_contact"' not in counts[0]  # the membership table alone
    assert (first["count"], len(first["contacts"]), first["next"] is not None) == (7, 5, True)
    assert (last["count"], len(last["contacts"]), last["next"]) == (7, 2, None)
    response = api_client.get(CONTACTS_URL, {"group_id": str(group.pk), "page_size": 5, "page": 3})
    assert_error(response, 404, "not_found")


def search_in_group(client, group, term):
    response = client.get(CONTACTS_URL, {"group_id": str(group.pk), "search": term})
    return {row["first_name"] for row in response.json()["contacts"]}


def test_an_empty_group_id_filters_nothing(api_client, people):
    assert api_client.get(CONTACTS_URL, {"group_id": ""}).json()["count"] == 4


@pytest.mark.parametrize("group_id", ["not-a-uuid", "12345", str(uuid.uuid4())])
def test_filter_by_an_unknown_or_malformed_group_is_a_404(api_client, group_id):
    assert_error(api_client.get(CONTACTS_URL, {"group_id": group_id}), 404, "not_found")


def test_filter_by_another_accounts_group_is_a_404(api_client, other_account):
    theirs = GroupFactory(account=other_account)
    ContactFactory(account=other_account, groups=[theirs])

    assert_error(api_client.get(CONTACTS_URL, {"group_id": str(theirs.pk)}), 404, "not_found")
