"""The search indexes exist on PostgreSQL and match the SQL Django writes for `?search=`."""

import pytest
from django.db import connection

from contacts import importing
from contacts.models import Contact
from contacts.selectors import contact_search_q
from tests.factories import ContactFactory

from .helpers import IMPORT_URL


def plan(queryset) -> str:
    with connection.cursor() as cursor:
        # A few test rows would be read whole; forbidding that shows whether an index can serve the query.
        cursor.execute("SET LOCAL enable_seqscan = off")
    return queryset.explain()


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("term", "index"),
    [
        ("tendai", "contact_first_name_trgm"),
        ("tendai", "contact_last_name_trgm"),
        ("1234567", "contact_phone_trgm"),
    ],
)
def test_substring_search_uses_the_trigram_indexes(account, term, index):
    ContactFactory(account=account, first_name="Tendai", last_name="Moyo", phone="+263771234567")

    assert index in plan(Contact.objects.filter(contact_search_q(term)).order_by())


@pytest.mark.postgres
def test_phone_prefix_search_uses_the_unique_index_whatever_the_collation(account):
    Contact.objects.bulk_create(Contact(account=account, phone=f"+26378{n:07d}") for n in range(2000))
    ContactFactory(account=account, phone="+263771234567")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE contacts_contact")

    query_plan = plan(Contact.objects.filter(account=account).filter(contact_search_q("0771")).order_by())

    assert "contact_unique_phone_per_account" in query_plan
    assert "~>=~" in query_plan  # a range on the index (varchar_pattern_ops), not a filter over the account's rows


@pytest.mark.postgres
def test_a_big_import_refreshes_statistics_when_it_commits(api_client, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(importing, "REFRESH_STATISTICS_AFTER", 3)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api_client.post(IMPORT_URL, b"phone\n0771111111\n0772222222\n0773333333\n", content_type="text/csv")

    assert response.json()["created"] == 3
    assert len(callbacks) == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'contacts_contact'")
        assert cursor.fetchone()[0] == 3  # ANALYZE counted the rows (in this test's open transaction)


@pytest.mark.postgres
def test_a_small_import_leaves_statistics_to_autovacuum(api_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        api_client.post(IMPORT_URL, b"phone\n0771111111\n", content_type="text/csv")

    assert callbacks == []
