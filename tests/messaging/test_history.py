import uuid

from messaging.models import Message
from tests.factories import SenderIdFactory

HISTORY_URL = "/api/v1/sms/history/"


def send(client, to="0771234567", message="Hello!"):
    return client.post("/api/v1/sms/send/", {"to": to, "sender": "MyBrand", "message": message}, format="json")


def test_history_lists_messages_newest_first_with_the_documented_fields(api_client, sender):
    first = send(api_client, message="first").json()["message_id"]
    second = send(api_client, message="second").json()["message_id"]

    messages = api_client.get(HISTORY_URL).json()["messages"]

    assert [message["message_id"] for message in messages] == [second, first]
    newest = messages[0]
    assert set(newest) == {
        "message_id", "channel", "recipient", "sender", "message", "status", "segments", "credits",
        "campaign_id", "error", "error_code", "created_at", "sent_at", "delivered_at",
    }  # fmt: skip
    assert newest["channel"] == "sms"
    assert newest["recipient"] == "+263771234567"
    assert (newest["message"], newest["status"], newest["segments"], newest["credits"]) == ("second", "sent", 1, 1)
    assert newest["campaign_id"] is None
    assert (newest["error"], newest["error_code"]) == ("", "")
    assert newest["created_at"].endswith("Z")
    assert newest["delivered_at"] is None


def test_history_keeps_the_last_100_in_one_query(api_client, account, django_assert_num_queries):
    Message.objects.bulk_create(
        Message(account=account, recipient="+263771234567", sender="MyBrand", text=str(n), encoding="GSM-7",
                segments=1, credits=1, status="sent")
        for n in range(105)
    )  # fmt: skip
    api_client.get("/api/v1/billing/balance/")  # the key's lookup is cached from here on

    with django_assert_num_queries(1):
        messages = api_client.get(HISTORY_URL).json()["messages"]

    assert len(messages) == 100


def test_history_never_shows_another_accounts_messages(api_client, other_client, other_account, sender):
    SenderIdFactory(account=other_account, name="MyBrand")
    send(other_client, message="theirs")

    assert api_client.get(HISTORY_URL).json() == {"messages": []}
    assert len(other_client.get(HISTORY_URL).json()["messages"]) == 1


def test_one_message_by_id(api_client, sender):
    message_id = send(api_client).json()["message_id"]

    response = api_client.get(f"/api/v1/sms/messages/{message_id}/")

    assert response.status_code == 200
    assert response.json()["message_id"] == message_id
    assert response.json()["status"] == "sent"


def test_another_accounts_message_is_a_404(api_client, other_client, sender):
    message_id = send(api_client).json()["message_id"]

    response = other_client.get(f"/api/v1/sms/messages/{message_id}")

    assert response.status_code == 404
    assert response.json() == {"error": "Message not found.", "code": "not_found"}
    assert api_client.get(f"/api/v1/sms/messages/{uuid.uuid4()}/").status_code == 404
