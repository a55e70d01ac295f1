"""The session, user and message middleware serve the dashboard and skip the API; CSRF still guards the dashboard."""

from django.test import Client

from tests.factories import UserFactory

SEND = {"to": "0771234567", "sender": "MyBrand", "message": "Hello!"}


def test_the_dashboard_still_refuses_a_post_without_its_csrf_token(db):
    UserFactory(username="owner", password="a-long-password", is_staff=True)
    client = Client(enforce_csrf_checks=True)
    credentials = {"username": "owner", "password": "a-long-password"}

    assert client.post("/admin/login/", credentials).status_code == 403

    token = client.get("/admin/login/").cookies["csrftoken"].value
    logged_in = client.post("/admin/login/", credentials | {"csrfmiddlewaretoken": token})
    assert logged_in.status_code == 302
    assert "sessionid" in logged_in.cookies
    assert client.get("/admin/").status_code == 200


def test_an_api_request_is_answered_without_sessions_or_csrf(api_key, sender, owner_client):
    # A browser logged in to the dashboard, with its cookies, and no CSRF token: the key alone counts.
    owner_client.handler.enforce_csrf_checks = True
    sent = owner_client.post("/api/v1/sms/send/", SEND, content_type="application/json", HTTP_X_API_KEY=api_key)

    assert sent.status_code == 201
    assert not sent.cookies  # no session saved, no CSRF cookie set
    assert (sent["X-Frame-Options"], sent["X-Content-Type-Options"]) == ("DENY", "nosniff")
    assert "Cookie" not in sent.get("Vary", "")


def test_a_dashboard_session_does_not_authenticate_the_api(owner_client, sender):
    response = owner_client.post("/api/v1/sms/send/", SEND, content_type="application/json")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
