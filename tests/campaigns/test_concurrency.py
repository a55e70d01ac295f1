"""Preparation racing itself and a cancel, committing for real on PostgreSQL: each chunk holds the campaign's
row lock, so a contact gets one message and the credits come back exactly once whatever the timing."""

import time

import pytest

from accounts.models import Account
from billing.models import Transaction
from campaigns.models import Campaign
from campaigns.services import campaign_cancel, campaign_create, campaign_send
from messaging.models import Message
from tests.billing.test_concurrency import assert_ledger_matches, run_concurrently
from tests.factories import AccountFactory, SenderIdFactory

from .helpers import make_group, run_preparation

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SIZE, CHUNK = 300, 20


@pytest.fixture
def sent(settings):
    """A campaign to SIZE recipients just sent: its first chunk written, the rest to prepare."""
    settings.CAMPAIGN_PREPARE_CHUNK = CHUNK
    account = AccountFactory(credits=SIZE + 100)
    SenderIdFactory(account=account, name="MyBrand")
    group = make_group(account, SIZE)
    campaign = campaign_create(
        account_id=account.pk, name="Race", message="Hi {name}!", sender_name="MyBrand", group_id=group.pk
    )
    return campaign_send(campaign=campaign)


def test_preparations_running_at_once_write_one_message_per_recipient(sent):
    run_concurrently(lambda _: run_preparation(sent.pk), 4)

    messages = Message.objects.filter(campaign=sent)
    assert messages.count() == messages.values("contact").distinct().count() == SIZE
    assert Campaign.objects.get(pk=sent.pk).prepared_at is not None
    assert list(Transaction.objects.filter(account=sent.account, type="debit").values_list("amount", flat=True)) == [
        -SIZE
    ]
    assert assert_ledger_matches(sent.account_id) == 100


@pytest.mark.parametrize("delay", [0, 0.01, 0.03, 0.06, 0.1])
def test_a_cancel_racing_the_preparation_refunds_everything_exactly_once(sent, delay):
    def race(index):
        if index == 0:
            return run_preparation(sent.pk)
        time.sleep(delay)  # lands before, inside or between the chunks
        return campaign_cancel(campaign=Campaign.objects.get(pk=sent.pk))

    preparation, cancelled = run_concurrently(race, 2)

    assert isinstance(cancelled, Campaign) and isinstance(preparation, int), (preparation, cancelled)
    campaign = Campaign.objects.get(pk=sent.pk)
    assert (campaign.status, campaign.credits_reserved) == ("cancelled", 0)
    messages = Message.objects.filter(campaign=sent)
    assert not messages.exclude(status="failed").exists()  # every message written was refunded, none is queued
    assert messages.values("contact").distinct().count() == messages.count()
    assert Account.objects.get(pk=sent.account_id).sms_credits == SIZE + 100  # all of it back, once
    assert_ledger_matches(sent.account_id)
