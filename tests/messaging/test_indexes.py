"""The messages table's contact index: one per campaign and contact, found by contact when one is deleted, and
holding no entry for a single send (which has no contact)."""

import pytest
from django.db import IntegrityError, connection, transaction

from campaigns.models import Campaign
from contacts.services import contact_delete
from messaging.models import Message
from tests.factories import ContactFactory, MessageFactory


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
