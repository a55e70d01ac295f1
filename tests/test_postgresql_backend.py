"""smsplatform.postgresql: a reused connection is health-checked at the start of a request unless it served one
within the last WARM_SECONDS."""

import pytest
from django.db import Error, connections

from smsplatform.postgresql import base

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def own_connection():
    """A connection of its own (the test's is inside a transaction), closed at the end."""
    connection = connections.create_connection("default")
    connection.settings_dict["CONN_HEALTH_CHECKS"] = True
    yield connection
    connection.close()


def backend_pid(connection) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def serve_request(connection) -> int:
    """What Django does around a request (close_old_connections at its start and end), using the connection."""
    connection.close_if_unusable_or_obsolete()
    pid = backend_pid(connection)
    connection.close_if_unusable_or_obsolete()
    return pid


def terminate(pid: int) -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])


def test_a_connection_that_died_while_idle_is_replaced_at_the_next_request(own_connection):
    first = serve_request(own_connection)
    own_connection.warm_until = 0.0  # idle for longer than WARM_SECONDS
    terminate(first)

    assert serve_request(own_connection) != first


def test_a_warm_connection_is_not_checked_and_one_that_failed_is_replaced_after(own_connection):
    first = serve_request(own_connection)
    assert own_connection.warm_until > 0
    terminate(first)

    # Within the warm second the request's first statement goes out unchecked and fails...
    own_connection.close_if_unusable_or_obsolete()
    with pytest.raises(Error):
        backend_pid(own_connection)
    own_connection.close_if_unusable_or_obsolete()
    # ...and the failure closes the connection: the next request opens a new one.
    assert serve_request(own_connection) != first


def test_the_backend_is_used_for_postgresql(settings):
    assert settings.DATABASES["default"]["ENGINE"] == "smsplatform.postgresql"
    assert isinstance(connections["default"], base.DatabaseWrapper)
