"""Imports of the same phones at once, committing for real: on PostgreSQL (INSERT … ON CONFLICT DO NOTHING) and on
SQLite (look up, then insert, under the write lock the import's transaction takes up front), as `make run` has it."""

import pytest
from rest_framework.test import APIClient

from contacts.models import Contact
from tests.billing.test_concurrency import run_concurrently
from tests.factories import AccountFactory, api_key_for

from .helpers import IMPORT_URL

IMPORTS = 4


@pytest.mark.django_db(transaction=True)
def test_concurrent_imports_of_the_same_phones_all_succeed_and_store_each_phone_once():
    account = AccountFactory()
    key = api_key_for(account)
    phones = [f"0771{n:06d}" for n in range(300)]

    def import_phones(index: int):
        client = APIClient()
        client.credentials(HTTP_X_API_KEY=key)
        body = "phone,first_name\n" + "".join(f"{phone},Import{index}\n" for phone in phones)
        return client.post(IMPORT_URL, body.encode(), content_type="text/csv")

    responses = run_concurrently(import_phones, IMPORTS)

    assert [response.status_code for response in responses] == [200] * IMPORTS, responses
    results = [response.json() for response in responses]
    assert sum(result["created"] for result in results) == len(phones)  # each phone created by one import
    assert {result["created"] + result["updated"] for result in results} == {len(phones)}
    assert Contact.objects.filter(account=account).count() == len(phones)
    # The names of whichever import committed last, on every contact.
    assert Contact.objects.filter(account=account).values("first_name").distinct().count() == 1
