import factory
from django.utils import timezone

from accounts.models import Account, User
from accounts.services import api_key_create
from billing.services import credits_topup
from contacts.models import Contact, Group
from messaging.models import Message, SenderId, Tester


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Account {n}")

    @factory.post_generation
    def credits(account, create, extracted, **kwargs):
        """`AccountFactory(credits=10)` tops the account up through the ledger, as real credits arrive."""
        if extracted:
            credits_topup(account_id=account.pk, amount=extracted, description="Test top-up")
            account.refresh_from_db(fields=["sms_credits"])


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("password")


def api_key_for(account: Account, name: str = "Test") -> str:
    """A new key of the account; returns the secret."""
    return api_key_create(account=account, name=name)[1]


def balance(account: Account) -> int:
    """The account's SMS credits as stored now."""
    return Account.objects.values_list("sms_credits", flat=True).get(pk=account.pk)


class SenderIdFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SenderId

    account = factory.SubFactory(AccountFactory)
    name = "MyBrand"
    purpose = "Order notifications"
    status = SenderId.Status.APPROVED
    reviewed_at = factory.LazyFunction(timezone.now)


class TesterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tester

    account = factory.SubFactory(AccountFactory)
    phone = "+263771234567"
    verified_at = factory.LazyFunction(timezone.now)


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Group

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Group {n}")
    description = ""


class ContactFactory(factory.django.DjangoModelFactory):
    """`ContactFactory(account=…, groups=[group, …])` adds the contact to those groups."""

    class Meta:
        model = Contact
        skip_postgeneration_save = True

    account = factory.SubFactory(AccountFactory)
    phone = factory.Sequence(lambda n: f"+26377{n % 10_000_000:07d}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")

    @factory.post_generation
    def groups(contact, create, extracted, **kwargs):
        if create and extracted:
            contact.groups.add(*extracted)


class MessageFactory(factory.django.DjangoModelFactory):
    """A queued message row, not charged: for what happens after the charge (outcomes, receipts).
    Tests of refunds send through the API, so that the ledger adds up."""

    class Meta:
        model = Message

    account = factory.SubFactory(AccountFactory)
    recipient = factory.Sequence(lambda n: f"+26377{n % 10_000_000:07d}")
    sender = "MyBrand"
    text = "Hello!"
    encoding = "GSM-7"
    segments = 1
    credits = 1
