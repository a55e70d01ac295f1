"""The messages table's contact index: one per campaign and contact, found by contact when one is deleted, and
holding no entry for a single send (which has no contact)."""

import pytest
from django.db import IntegrityError, connection, transaction

from campaigns.models import Campaign
from contacts.services import contact_delete
from messaging.models import Message
from tests.factories import ContactFactory, MessageFactory
from tests.messaging.test_send import send


@pytest.fixture
def campaign(account):
    return Campaign.objects.create(account=account, name="March Promo", message="Hi", sender_name="MyBrand")


def test_one_contact_gets_one_message_per_campaign_and_single_sends_have_none(account, campaign):
    contact = ContactFactory(account=account)
    MessageFactory(account=account, campaign=campaign, contact=contact)
    MessageFactory(account=account)
    MessageFactory(account=account)  # two single sends: no contact, no conflict

    with pytest.raises(IntegrityError), transaction.atomic():
        MessageFactory(account=account, campaign=campaign, contact=contact)

    assert Message.objects.filter(account=account).count() == 3


def test_deleting_a_contact_keeps_its_campaign_messages_without_it(account, campaign):
    contact = ContactFactory(account=account)
    message = MessageFactory(account=account, campaign=campaign, contact=contact)

    contact_delete(contact=contact)

    message.refresh_from_db()
    assert message.contact_id is None


@pytest.mark.postgres
def test_a_deleted_contacts_messages_are_found_by_the_index_not_by_reading_the_table(account, campaign):
    contact = ContactFactory(account=account)
    MessageFactory(account=account, campaign=campaign, contact=contact)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a few test rows would be read whole otherwise

    # The query Django's SET_NULL runs for a deleted contact.
    query_plan = Message.objects.filter(contact__in=[contact]).order_by().explain()

    assert "message_unique_per_contact_campaign" in query_plan


def messages_scanned_whole() -> int:
    """How many times this transaction read the messages table from end to end."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relname = 'messaging_message'")
        return cursor.fetchone()[0]


@pytest.mark.postgres
def test_a_single_send_finds_its_message_by_key_in_a_plan_made_for_a_small_table(api_client, sender, outbox):
    """A connection keeps the generic plan of a statement it prepared: one made while the messages table was small
    scanned the whole table on each send after it, as the table grew (the plan changes only with the table's
    statistics, never where autovacuum is off)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")  # the plan a prepared statement keeps
    scanned = messages_scanned_whole()

    for phone in ("0771234567", "0771234568", "0771234569"):
        assert send(api_client, to=phone).json()["status"] == "sent"

    assert messages_scanned_whole() == scanned
    assert Message.objects.filter(status="sent").count() == 3
