"""`manage.py createowner`: a staff user of one account, who signs in to the dashboard and sees only that account."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.models import User
from tests.factories import UserFactory, api_key_for

PASSWORD = "correct horse battery staple"


def createowner(*args) -> str:
    out = io.StringIO()
    call_command("createowner", *args, stdout=out)
    return out.getvalue().strip()


@pytest.fixture
def owner_password(monkeypatch):
    monkeypatch.setenv("DJANGO_OWNER_PASSWORD", PASSWORD)


def test_the_owner_signs_in_and_sees_only_their_account(owner_password, account, other_account):
    api_key_for(account, name="Mine")
    api_key_for(other_account, name="Theirs")

    output = createowner("--account", account.name, "--email", "Tendai@Acme.example", "--no-input")

    assert output == f"Created Tendai@Acme.example, owner of {account.name}: they sign in at /admin/."
    client = Client()
    signed_in = client.post("/admin/login/?next=/admin/", {"username": "Tendai@Acme.example", "password": PASSWORD})
    assert signed_in.status_code == 302 and signed_in.url == "/admin/"
    keys = client.get("/admin/accounts/apikey/").content.decode()
    accounts = client.get("/admin/accounts/account/").content.decode()
    assert "Mine" in keys and "Theirs" not in keys
    assert account.name in accounts and other_account.name not in accounts
    owner = User.objects.get(username="Tendai@Acme.example")
    assert owner.is_staff and not owner.is_superuser
    assert owner.account == account
    assert owner.email == "Tendai@acme.example"  # the domain lower-cased


def test_the_account_by_id_and_a_username_of_ones_own(owner_password, account):
    createowner("--account", str(account.pk), "--email", "ops@acme.example", "--username", "tendai", "--no-input")

    assert User.objects.get(username="tendai").account == account


def test_the_password_is_asked_twice_on_a_terminal(monkeypatch, account):
    answers = iter([PASSWORD, PASSWORD])
    monkeypatch.setattr("getpass.getpass", lambda prompt="Password: ": next(answers))
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)

    createowner("--account", account.name, "--email", "ops@acme.example")

    assert User.objects.get(username="ops@acme.example").check_password(PASSWORD)


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        (["--account", "Nobody", "--no-input"], "No account named or with id 'Nobody'."),
        (["--account", "{account}", "--username", "taken", "--no-input"], "A user with that username already exists."),
        (["--account", "{account}", "--email", "not-an-email", "--no-input"], "Enter a valid email address."),
    ],
)
def test_bad_arguments_create_nobody(owner_password, account, arguments, error):
    UserFactory(username="taken")
    arguments = [argument.format(account=account.name) for argument in arguments]
    if "--email" not in arguments:
        arguments += ["--email", "ops@acme.example"]

    with pytest.raises(CommandError) as raised:
        createowner(*arguments)

    assert str(raised.value) == error
    assert not User.objects.filter(account=account).exists()


def test_without_a_terminal_or_a_password_it_says_how(monkeypatch, account):
    monkeypatch.delenv("DJANGO_OWNER_PASSWORD", raising=False)

    with pytest.raises(CommandError, match="use --no-input and set DJANGO_OWNER_PASSWORD"):
        createowner("--account", account.name, "--email", "ops@acme.example")
    with pytest.raises(CommandError, match="The password cannot be blank"):
        createowner("--account", account.name, "--email", "ops@acme.example", "--no-input")
    assert not User.objects.filter(account=account).exists()
