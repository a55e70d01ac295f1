import io
import os
import stat

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts.keys import key_hash, key_is_well_formed
from accounts.models import Account, ApiKey
from billing.models import Transaction


def run(*args) -> list[str]:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip().splitlines()


def test_createaccount_prints_a_working_key_last(db):
    lines = run("createaccount", "Acme", "--credits", "250", "--sandbox")

    secret = lines[-1]
    assert key_is_well_formed(secret)
    account = Account.objects.get(name="Acme")
    assert account.is_sandbox
    assert account.sms_credits == 250
    assert Transaction.objects.get(account=account).amount == 250
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=secret)
    assert client.get("/api/v1/billing/balance/").json() == {"sms_credits": 250}


def test_createaccount_refuses_a_duplicate_name_and_negative_credits(db):
    run("createaccount", "Acme")

    with pytest.raises(CommandError, match="exists already"):
        run("createaccount", "Acme")
    with pytest.raises(CommandError, match="negative"):
        run("createaccount", "Other", "--credits", "-5")
    assert Account.objects.count() == 1


def test_createapikey_by_name_or_id(account):
    by_name = run("createapikey", account.name, "--name", "CI")[-1]
    by_id = run("createapikey", str(account.pk))[-1]

    assert ApiKey.objects.get(key_hash=key_hash(by_name)).name == "CI"
    assert ApiKey.objects.get(key_hash=key_hash(by_id)).account == account


def test_createapikey_for_an_unknown_account_fails(db):
    with pytest.raises(CommandError, match="No account"):
        run("createapikey", "Nobody")


def test_topup_adds_a_ledger_row(account):
    lines = run("topup", account.name, "40", "--note", "Invoice 12")

    assert lines == ["Added 40 credits; balance 140."]
    row = Transaction.objects.filter(account=account).latest("created_at")
    assert (row.type, row.amount, row.description) == ("topup", 40, "Invoice 12")


@pytest.mark.parametrize("amount", ["0", "-3"])
def test_topup_refuses_non_positive_amounts(account, amount):
    with pytest.raises(CommandError):
        run("topup", account.name, amount)
    account.refresh_from_db()
    assert account.sms_credits == 100


def test_demo_makes_the_account_once_and_keeps_its_key_private(db, settings, tmp_path):
    settings.DEMO_API_KEY_FILE = tmp_path / "demo_api_key"

    first = run("demo")[-1]
    second = run("demo")[-1]

    assert first == second
    assert first.startswith("Demo API key: smsk_")
    secret = first.removeprefix("Demo API key: ")
    assert settings.DEMO_API_KEY_FILE.read_text().strip() == secret
    assert stat.S_IMODE(os.stat(settings.DEMO_API_KEY_FILE).st_mode) == 0o600
    account = Account.objects.get(name="Demo")
    assert account.sms_credits == 100
    assert list(account.sender_ids.values_list("name", "status")) == [("Demo", "approved")]
    assert ApiKey.objects.get(key_hash=key_hash(secret)).account == account


def test_demo_makes_a_new_key_when_the_stored_one_is_unknown(db, settings, tmp_path):
    settings.DEMO_API_KEY_FILE = tmp_path / "demo_api_key"
    settings.DEMO_API_KEY_FILE.write_text("smsk_from_an_old_database\n")

    secret = run("demo")[-1].removeprefix("Demo API key: ")

    assert key_is_well_formed(secret)
    assert settings.DEMO_API_KEY_FILE.read_text().strip() == secret
