import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Account
from messaging.models import SenderId, Tester
from tests.factories import SenderIdFactory, TesterFactory, UserFactory

SENDERS_URL = "/api/v1/sms/senders/"


def test_request_a_sender_id(api_client, account):
    response = api_client.post(SENDERS_URL, {"name": "MyBrand", "purpose": "Order notifications"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "name", "status", "purpose", "created_at", "reviewed_at", "rejection_reason"}
    assert (body["name"], body["status"], body["purpose"]) == ("MyBrand", "pending", "Order notifications")
    assert body["reviewed_at"] is None
    assert SenderId.objects.get(pk=body["id"]).account == account


@pytest.mark.parametrize("name", ["Abc", "My Brand-1", "A+B&C_D", "ABCDEFGHIJK", "Shop24"])
def test_valid_sender_names(api_client, name):
    assert api_client.post(SENDERS_URL, {"name": name}, format="json").status_code == 201


@pytest.mark.parametrize("name", ["AB", "ABCDEFGHIJKL", "12345", "My.Brand", "Brand!", "Bränd", "", 123, None, "---"])
def test_invalid_sender_names_are_a_400(api_client, name):
    response = api_client.post(SENDERS_URL, {"name": name}, format="json")

    assert response.status_code == 400
    assert "name" in response.json()["fields"]
    assert SenderId.objects.count() == 0


def test_a_name_the_account_already_has_is_a_409_in_any_case(api_client, account):
    SenderIdFactory(account=account, name="MyBrand")

    response = api_client.post(SENDERS_URL, {"name": "MYBRAND"}, format="json")

    assert response.status_code == 409
    assert response.json() == {
        "error": "This account already has a sender ID named 'MYBRAND'.",
        "code": "sender_exists",
    }


def test_another_account_may_register_the_same_name(api_client, other_account):
    SenderIdFactory(account=other_account, name="MyBrand")

    assert api_client.post(SENDERS_URL, {"name": "MyBrand"}, format="json").status_code == 201


def test_list_senders_of_this_account_only(api_client, account, other_account):
    SenderIdFactory(account=account, name="Mine", status="pending", reviewed_at=None)
    SenderIdFactory(account=other_account, name="Theirs")

    senders = api_client.get(SENDERS_URL).json()["senders"]

    assert [(sender["name"], sender["status"]) for sender in senders] == [("Mine", "pending")]


def test_testers_lists_verified_numbers_of_this_account(api_client, account, other_account):
    TesterFactory(account=account, phone="+263771111111")
    TesterFactory(account=account, phone="+263772222222", verified_at=None)
    TesterFactory(account=other_account, phone="+263773333333")

    response = api_client.get("/api/v1/sms/testers/")

    assert response.status_code == 200
    testers = response.json()["testers"]
    assert [tester["phone"] for tester in testers] == ["+263771111111"]
    assert set(testers[0]) == {"id", "phone", "verified_at"}


@pytest.mark.parametrize("path", [SENDERS_URL, "/api/v1/sms/testers/", "/api/v1/sms/history/"])
def test_messaging_lists_need_a_key(db, path):
    assert APIClient().get(path).status_code == 401


def call(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_reviewsender_approves_and_rejects(account):
    SenderIdFactory(account=account, name="MyBrand", status="pending", reviewed_at=None)

    call("reviewsender", account.name, "mybrand", "--approve")
    sender = SenderId.objects.get()
    assert sender.status == "approved"
    assert sender.reviewed_at is not None

    call("reviewsender", account.name, "MyBrand", "--reject", "--reason", "Trademark")
    sender.refresh_from_db()
    assert (sender.status, sender.rejection_reason) == ("rejected", "Trademark")


def test_reviewsender_needs_a_reason_to_reject_and_a_known_sender(account):
    SenderIdFactory(account=account, name="MyBrand", status="pending")

    with pytest.raises(CommandError, match="reason"):
        call("reviewsender", account.name, "MyBrand", "--reject")
    with pytest.raises(CommandError, match="no sender ID"):
        call("reviewsender", account.name, "Other", "--approve")


def test_createaccount_with_senders_and_testers(db):
    secret = call(
        "createaccount", "Acme", "--sandbox", "--sender", "Acme", "--sender", "AcmeAlerts", "--tester", "0771234567"
    ).splitlines()[-1]

    account = Account.objects.get(name="Acme")
    assert sorted(SenderId.objects.filter(account=account, status="approved").values_list("name", flat=True)) == [
        "Acme",
        "AcmeAlerts",
    ]
    assert Tester.objects.get(account=account).phone == "+263771234567"
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=secret)
    assert client.get("/api/v1/sms/testers/").json()["testers"][0]["phone"] == "+263771234567"


def test_createaccount_refuses_an_invalid_tester_and_creates_nothing(db):
    with pytest.raises(CommandError, match="not a valid phone number"):
        call("createaccount", "Acme", "--tester", "12")
    assert not Account.objects.exists()


def test_superuser_approves_in_the_dashboard_and_an_owner_cannot(account):
    sender = SenderIdFactory(account=account, name="MyBrand", status="pending", reviewed_at=None)
    owner = Client()
    owner.force_login(UserFactory(is_staff=True, account=account))
    operator = Client()
    operator.force_login(UserFactory(is_staff=True, is_superuser=True))

    owner.post("/admin/messaging/senderid/", {"action": "approve", "_selected_action": [sender.pk]})
    sender.refresh_from_db()
    assert sender.status == "pending"

    operator.post("/admin/messaging/senderid/", {"action": "approve", "_selected_action": [sender.pk]})
    sender.refresh_from_db()
    assert sender.status == "approved"


def test_rejecting_in_the_dashboard_needs_a_reason(account):
    sender = SenderIdFactory(account=account, name="MyBrand", status="pending", reviewed_at=None)
    operator = Client()
    operator.force_login(UserFactory(is_staff=True, is_superuser=True))

    operator.post("/admin/messaging/senderid/", {"action": "reject", "_selected_action": [sender.pk], "reason": ""})
    sender.refresh_from_db()
    assert sender.status == "pending"

    operator.post(
        "/admin/messaging/senderid/", {"action": "reject", "_selected_action": [sender.pk], "reason": "Misleading"}
    )
    sender.refresh_from_db()
    assert (sender.status, sender.rejection_reason) == ("rejected", "Misleading")


def test_an_owner_sees_and_requests_but_cannot_edit_sender_ids_in_the_dashboard(account):
    sender = SenderIdFactory(account=account, name="MyBrand", status="pending", reviewed_at=None)
    owner = Client()
    owner.force_login(UserFactory(is_staff=True, account=account))

    assert "MyBrand" in owner.get("/admin/messaging/senderid/").content.decode()
    assert owner.get("/admin/messaging/senderid/add/").status_code == 200  # a request: pending until reviewed
    owner.post(f"/admin/messaging/senderid/{sender.pk}/change/", {"name": "Renamed", "purpose": ""})
    sender.refresh_from_db()
    assert sender.name == "MyBrand"
