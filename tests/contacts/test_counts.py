"""The list's count of all an account's contacts comes from the changes the triggers write with every insert and
delete, not from counting the contacts: exact through every kind of write, before and after a compaction, under
concurrent writers (PostgreSQL), and only the account's own."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact, ContactCountChange
from contacts.services import contact_counts_compact, contact_create
from contacts.tasks import contact_counts_compact as contact_counts_compact_task
from tests.billing.test_concurrency import run_concurrently
from tests.factories import AccountFactory, ContactFactory

from .helpers import CONTACTS_URL, IMPORT_URL, contact_url


def listed_count(client) -> int:
    response = client.get(CONTACTS_URL)
    assert response.status_code == 200
    return response.json()["count"]


def counted(account) -> int:
    """What the list must say: the account's contacts, counted."""
    return Contact.objects.filter(account=account).count()


def test_the_count_follows_creates_imports_and_deletes_and_is_the_accounts_own(
    api_client, other_client, account, other_account
):
    ContactFactory.create_batch(3, account=other_account)
    assert listed_count(api_client) == 0

    created = [api_client.post(CONTACTS_URL, {"phone": f"+26377100000{n}"}, format="json") for n in range(3)]
    assert [response.status_code for response in created] == [201] * 3
    imported = api_client.post(
        IMPORT_URL, b"phone\n+263771000000\n+263772000001\n+263772000002\n", content_type="text/csv"
    )  # one of them exists: two new
    assert imported.json()["created"] == 2
    assert api_client.delete(contact_url(created[0].json()["id"])).status_code == 204

    with CaptureQueriesContext(connection) as queries:
        listed = listed_count(api_client)
    assert listed == counted(account) == 4
    assert not [query for query in queries if "COUNT(" in query["sql"].upper() and "contacts_contact" in query["sql"]]
    assert listed_count(other_client) == counted(other_account) == 3


def test_a_compaction_folds_each_account_into_one_row_and_forgets_a_deleted_one(api_client, account, settings):
    ContactFactory.create_batch(4, account=account)
    Contact.objects.filter(account=account).first().delete()
    gone = AccountFactory()
    ContactFactory.create_batch(2, account=gone)
    gone_id = gone.pk
    gone.delete()  # its contacts with it: +2 and -2
    assert ContactCountChange.objects.filter(account_id=gone_id).count() > 1
    changes = ContactCountChange.objects.count()  # more than one for each account

    assert contact_counts_compact() == changes
    assert list(ContactCountChange.objects.values_list("account_id", "contacts")) == [(account.pk, 3)]
    assert listed_count(api_client) == counted(account) == 3
    assert contact_counts_compact() == 0  # one row an account: nothing to fold
    assert contact_counts_compact_task() == 0
    assert settings.CELERY_BEAT_SCHEDULE["contact-counts-compact"]["task"] == contact_counts_compact_task.name


def test_a_contact_moved_to_another_account_counts_in_its_new_one(api_client, other_client, account, other_account):
    contact = ContactFactory(account=account)
    ContactFactory(account=account)

    Contact.objects.filter(pk=contact.pk).update(account=other_account)  # the admin can
    Contact.objects.filter(pk=contact.pk).update(first_name="Rudo")  # any other change counts nothing

    assert (listed_count(api_client), listed_count(other_client)) == (1, 1)


@pytest.mark.django_db(transaction=True)
def test_the_migration_counts_the_contacts_there_are_already():
    account = AccountFactory()
    ContactFactory.create_batch(3, account=account)
    call_command("migrate", "contacts", "0002", verbosity=0)  # no changes, no triggers
    ContactFactory(account=account)

    call_command("migrate", "contacts", verbosity=0)
    ContactFactory(account=account)

    assert sum(ContactCountChange.objects.filter(account_id=account.pk).values_list("contacts", flat=True)) == 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_deletes_and_compactions_keep_the_count_exact():
    account = AccountFactory()
    doomed = ContactFactory.create_batch(8, account=account)

    def work(index: int):
        if index % 4 == 3:
            return contact_counts_compact()
        if index % 4 == 2:
            return Contact.objects.filter(pk=doomed[index // 4].pk).delete()
        return contact_create(account_id=account.pk, phone=f"+2637720000{index:02d}")

    results = run_concurrently(work, 24)

    assert not [result for result in results if isinstance(result, Exception)]
    assert counted(account) == 8 + 12 - 6
    total = sum(ContactCountChange.objects.filter(account_id=account.pk).values_list("contacts", flat=True))
    assert total == counted(account)
