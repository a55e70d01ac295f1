"""The dashboard: an account owner sees and edits only their own contacts and groups."""

from contacts.models import Contact, Group
from tests.factories import ContactFactory, GroupFactory


def test_owner_sees_only_their_own_contacts_and_groups(owner_client, account, other_account):
    ContactFactory(account=account, first_name="Mine")
    ContactFactory(account=other_account, first_name="Theirs")
    mine = GroupFactory(account=account, name="MyGroup")
    ContactFactory(account=account, groups=[mine])
    GroupFactory(account=other_account, name="TheirGroup")

    contacts_page = owner_client.get("/admin/contacts/contact/").content.decode()
    groups_page = owner_client.get("/admin/contacts/group/").content.decode()

    assert "Mine" in contacts_page
    assert "Theirs" not in contacts_page
    assert "MyGroup" in groups_page
    assert "TheirGroup" not in groups_page


def test_owner_cannot_open_another_accounts_contact(owner_client, other_account):
    theirs = ContactFactory(account=other_account)

    response = owner_client.get(f"/admin/contacts/contact/{theirs.pk}/change/")

    assert response.status_code == 302


def test_owner_picks_groups_only_from_their_account(owner_client, account, other_account):
    GroupFactory(account=account, name="MyGroup")
    GroupFactory(account=other_account, name="TheirGroup")

    page = owner_client.get("/admin/contacts/contact/add/").content.decode()

    assert "MyGroup" in page
    assert "TheirGroup" not in page


def test_owner_adds_a_contact_to_their_account_with_the_phone_normalised(owner_client, account, other_account):
    group = GroupFactory(account=account)

    response = owner_client.post(
        "/admin/contacts/contact/add/",
        {"phone": "077 123 4567", "first_name": "Tendai", "groups": [group.pk], "account": other_account.pk},
    )

    assert response.status_code == 302
    contact = Contact.objects.get()
    assert (contact.account, contact.phone) == (account, "+263771234567")
    assert list(contact.groups.all()) == [group]


def test_a_duplicate_phone_or_group_name_is_a_form_error_not_a_crash(owner_client, account):
    ContactFactory(account=account, phone="+263771234567")
    GroupFactory(account=account, name="VIP")

    contact_page = owner_client.post("/admin/contacts/contact/add/", {"phone": "0771234567"})
    group_page = owner_client.post("/admin/contacts/group/add/", {"name": "vip"})

    assert contact_page.status_code == 200
    assert "already has a contact with this phone" in contact_page.content.decode()
    assert group_page.status_code == 200
    assert "already has a group with this name" in group_page.content.decode()
    assert Contact.objects.count() == 1
    assert Group.objects.count() == 1


def test_an_invalid_phone_is_a_form_error(owner_client):
    response = owner_client.post("/admin/contacts/contact/add/", {"phone": "12345"})

    assert "Enter a valid phone number." in response.content.decode()
    assert not Contact.objects.exists()


def test_superuser_cannot_put_a_contact_in_another_accounts_group(superuser_client, account, other_account):
    theirs = GroupFactory(account=other_account)

    response = superuser_client.post(
        "/admin/contacts/contact/add/", {"account": account.pk, "phone": "0771234567", "groups": [theirs.pk]}
    )

    assert "Choose groups of the contact" in response.content.decode()
    assert not Contact.objects.exists()


def test_group_list_shows_member_counts(superuser_client, account):
    group = GroupFactory(account=account, name="VIP")
    ContactFactory(account=account, groups=[group])

    page = superuser_client.get("/admin/contacts/group/").content.decode()

    assert "VIP" in page
    assert 'class="field-member_count">1<' in page
