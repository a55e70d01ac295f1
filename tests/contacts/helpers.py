CONTACTS_URL = "/api/v1/contacts/"
GROUPS_URL = "/api/v1/contacts/groups/"
IMPORT_URL = "/api/v1/contacts/import/"
CONTACT_FIELDS = {"id", "phone", "first_name", "last_name", "group_ids", "opted_out", "created_at", "updated_at"}
GROUP_FIELDS = {"id", "name", "description", "contact_count", "created_at"}


def contact_url(contact_id) -> str:
    return f"{CONTACTS_URL}{contact_id}/"


def group_url(group_id) -> str:
    return f"{GROUPS_URL}{group_id}/"


def members_url(group_id) -> str:
    return f"{GROUPS_URL}{group_id}/contacts/"


def assert_error(response, status: int, code: str) -> dict:
    """A JSON error in the API's shape; returns its body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["error"], str)
    assert body["error"]
    return body
