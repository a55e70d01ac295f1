"""`/` sends people to the dashboard; every other unknown path stays a JSON 404."""

import pytest
from django.test import Client

from .test_errors import assert_error


@pytest.mark.parametrize("method", ["get", "head", "post"])
def test_the_root_redirects_to_the_dashboard(db, method):
    response = getattr(Client(enforce_csrf_checks=True), method)("/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_only_the_root_redirects(db):
    assert Client().get("/?next=x")["Location"] == "/admin/"
    for path in ("/index.html", "/api/", "/api/v1/"):
        assert_error(Client().get(path), 404, "not_found")
