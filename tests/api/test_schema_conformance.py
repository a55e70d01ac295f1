"""The OpenAPI schema tells the truth: schemathesis sends generated requests, valid and not, to every operation
of `/api/v1/schema/` through the WSGI app, and checks every answer against the schema: no server error, only
documented statuses, content types and headers, bodies that match their schemas.

The client is the account the schema's examples describe — credits, the approved sender ID `MyBrand`, a group
with a contact, a draft campaign, a sent message, with the examples' ids — and every path id points at one of
them, so the answers checked are successes as well as errors. Bounded for CI: a fixed seed, deterministic
generation and a few cases per operation.
"""

import tempfile
from pathlib import Path

import hypothesis
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis.configuration import set_hypothesis_home_dir

from billing.services import credits_topup
from campaigns.apis import CAMPAIGN_ID_EXAMPLE
from campaigns.models import Campaign
from contacts.apis import CONTACT_ID_EXAMPLE, GROUP_ID_EXAMPLE
from messaging.apis import MESSAGE_ID_EXAMPLE
from webhooks.apis import DELIVERY_ID_EXAMPLE
from webhooks.models import WebhookDelivery

from ..factories import ContactFactory, GroupFactory, MessageFactory

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
]
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20261124,
        "parameters": {
            "path.group_id": GROUP_ID_EXAMPLE,
            "path.contact_id": CONTACT_ID_EXAMPLE,
            "path.campaign_id": CAMPAIGN_ID_EXAMPLE,
            "path.message_id": MESSAGE_ID_EXAMPLE,
            "path.delivery_id": DELIVERY_ID_EXAMPLE,
        },
        "generation": {
            "max-examples": 10,
            "deterministic": True,
            "database": "none",
            # Each request carries the account's key: generated ones would only ever be refused.
            "with-security-parameters": False,
        },
        "checks": {"enabled": False} | {name: {"enabled": True} for name in CHECKS},
        "suppress-health-check": ["all"],
    }
)
WORKFLOWS = hypothesis.settings(
    max_examples=15,
    stateful_step_count=6,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)

# Hypothesis writes caches (the code's constants, Unicode tables) from collection on: not into the project.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "smsplatform-hypothesis")
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application(), config=CONFIG)


@pytest.fixture
def _requests_keep_the_test_transaction():
    """What Django's test client does: a WSGI request would otherwise close the database connection at its
    end, and with it the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def headers(_requests_keep_the_test_transaction, settings, account, api_key, sender) -> dict[str, str]:
    """The headers of the examples' account."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]  # schemathesis's WSGI client's Host
    credits_topup(account_id=account.pk, amount=10_000, description="Schema conformance")
    group = GroupFactory(account=account, id=GROUP_ID_EXAMPLE)
    ContactFactory(account=account, id=CONTACT_ID_EXAMPLE, groups=[group])
    Campaign.objects.create(
        id=CAMPAIGN_ID_EXAMPLE,
        account=account,
        name="March Promo",
        message="Hi {name}!",
        sender_name=sender.name,
        group=group,
    )
    message = MessageFactory(id=MESSAGE_ID_EXAMPLE, account=account, sender=sender.name)
    WebhookDelivery.objects.create(
        id=DELIVERY_ID_EXAMPLE, account=account, type="message.status", url="https://example.com/hooks",
        origin="https://example.com", message=message, message_status="sent", state="failed",
        created_at=message.created_at,
    )  # fmt: skip
    return {"X-API-KEY": api_key}


@schema.parametrize()
def test_every_operation_answers_as_documented(case, headers):
    case.call_and_validate(headers=headers)


def test_workflows_answer_as_documented(headers):
    """Chains of calls the links between operations allow (create something, then read, change or delete it),
    each answer checked the same way."""

    class Workflows(schema.as_state_machine()):
        def setup(self):
            # Every scenario starts from the same data: Hypothesis replays scenarios, and the same calls must
            # get the same answers (what was created before would now be a 409).
            self.savepoint = transaction.savepoint_create()

        def teardown(self):
            transaction.savepoint_rollback(self.savepoint)

        def get_call_kwargs(self, case):
            return {"headers": headers}

    Workflows.run(settings=WORKFLOWS)


OPERATIONS = {
    f"{method.upper()} {path}": operation
    for path, methods in schema.raw_schema["paths"].items()
    for method, operation in methods.items()
}


@pytest.mark.parametrize("label", OPERATIONS)
def test_every_operation_has_a_summary_a_description_and_examples(label):
    operation = OPERATIONS[label]
    bodies = list(operation.get("requestBody", {}).get("content", {}).values())
    for status, response in operation["responses"].items():
        if status.startswith("2"):
            bodies += response.get("content", {}).values()

    assert operation["summary"]
    assert operation["description"]
    assert all(body.get("examples") for body in bodies)


def test_statuses_are_enums_with_stable_names():
    components = schema.raw_schema["components"]["schemas"]

    assert components["MessageOutput"]["properties"]["status"] == {"$ref": "#/components/schemas/MessageStatusEnum"}
    assert components["MessageStatusEnum"]["enum"] == ["queued", "sent", "delivered", "undelivered", "failed"]
    assert components["SenderIdStatusEnum"]["enum"] == ["pending", "approved", "rejected"]
    assert components["CampaignStatusEnum"]["enum"] == [
        "draft",
        "scheduled",
        "sending",
        "paused",
        "completed",
        "cancelled",
    ]
    assert components["TransactionTypeEnum"]["enum"] == ["topup", "debit", "refund", "adjustment"]


def test_the_delete_of_group_members_documents_its_body():
    members = schema.raw_schema["paths"]["/api/v1/contacts/groups/{group_id}/contacts/"]

    assert members["delete"]["requestBody"] == members["post"]["requestBody"]
