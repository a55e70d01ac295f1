"""What the campaign tests do in the test process that a worker would do (run the batches and the preparation),
and their data."""

from campaigns.services import campaign_batch, campaign_prepare
from contacts.models import Contact, Group


def run_batches(campaign_id) -> None:
    while campaign_batch(campaign_id=campaign_id) == 0:
        pass


def run_preparation(campaign_id) -> int:
    """Prepare every chunk left, as the chain of campaign_prepare_next tasks would; returns how many ran."""
    chunks = 1
    while campaign_prepare(campaign_id=campaign_id):
        chunks += 1
    return chunks


def url(campaign_id, action: str = "") -> str:
    return f"/api/v1/campaigns/{campaign_id}/" + (f"{action}/" if action else "")


def make_group(account, size: int) -> Group:
    """A group of `size` new contacts, in bulk."""
    group = Group.objects.create(account=account, name="Everyone")
    contacts = Contact.objects.bulk_create(
        Contact(account=account, phone=f"+26377{n:07d}", first_name=f"Name{n}") for n in range(size)
    )
    Group.contacts.through.objects.bulk_create(
        Group.contacts.through(group_id=group.pk, contact_id=contact.pk) for contact in contacts
    )
    return group
