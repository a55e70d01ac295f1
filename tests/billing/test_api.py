from billing.services import credits_debit, credits_topup

BALANCE_URL = "/api/v1/billing/balance/"
TRANSACTIONS_URL = "/api/v1/billing/transactions/"


def test_balance_is_the_accounts_credits(api_client, account):
    credits_debit(account_id=account.pk, amount=7)

    response = api_client.get(BALANCE_URL)

    assert response.status_code == 200
    assert response.json() == {"sms_credits": 93}


def test_balance_is_per_account(api_client, other_client):
    assert api_client.get(BALANCE_URL).json() == {"sms_credits": 100}
    assert other_client.get(BALANCE_URL).json() == {"sms_credits": 50}


def test_transactions_list_newest_first_with_the_documented_fields(api_client, account):
    credits_debit(account_id=account.pk, amount=2, description="SMS to +263771234567", reference="msg-1")

    response = api_client.get(TRANSACTIONS_URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert body["next"] is None
    assert body["previous"] is None
    debit, topup = body["transactions"]
    assert set(debit) == {"id", "type", "amount", "balance_after", "description", "reference", "created_at"}
    assert (debit["type"], debit["amount"], debit["balance_after"], debit["reference"]) == ("debit", -2, 98, "msg-1")
    assert (topup["type"], topup["amount"], topup["balance_after"]) == ("topup", 100, 100)
    assert debit["created_at"].endswith("Z")


def test_transactions_are_paginated(api_client, account, django_assert_max_num_queries):
    for _ in range(6):
        credits_topup(account_id=account.pk, amount=1)

    api_client.get(BALANCE_URL)  # the key's lookup is cached and its use recorded from here on
    with django_assert_max_num_queries(2):  # the count and the page
        first = api_client.get(TRANSACTIONS_URL, {"page_size": 5}).json()
    second = api_client.get(first["next"]).json()

    assert first["count"] == 7
    assert len(first["transactions"]) == 5
    assert len(second["transactions"]) == 2
    assert second["next"] is None
    assert second["previous"] is not None
    ids = [row["id"] for row in first["transactions"] + second["transactions"]]
    assert len(set(ids)) == 7


def test_page_size_is_capped_at_500(api_client, account):
    body = api_client.get(TRANSACTIONS_URL, {"page_size": 10_000}).json()

    assert "page_size=" not in (body["next"] or "")
    assert len(body["transactions"]) == 1


def test_a_page_past_the_end_is_a_json_404(api_client):
    response = api_client.get(TRANSACTIONS_URL, {"page": 99})

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_another_accounts_transactions_are_never_listed(api_client, other_client, other_account):
    credits_debit(account_id=other_account.pk, amount=1, reference="theirs")

    references = [row["reference"] for row in api_client.get(TRANSACTIONS_URL).json()["transactions"]]

    assert "theirs" not in references
    assert other_client.get(TRANSACTIONS_URL).json()["count"] == 2
