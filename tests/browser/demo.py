"""A month of one account, made through the services as it would have happened: the screenshots' data.

`demo_create()` replays a timeline in order, each step under a clock set to its moment, so that every
row (messages, receipts, ledger entries, campaigns) carries the date it would have had and the ledger's
balances follow its dates. The messages go through the fake gateway, set for each one to accept
(then a delivery receipt, or none), reject or fail for now. Seeded: the same data each run, dated
from today.
"""

import random
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from unittest import mock

from django.test import Client, override_settings
from django.utils import timezone

from accounts.services import account_create, api_key_create, api_key_revoke
from billing.services import credits_topup
from campaigns.models import Campaign
from campaigns.services import campaign_batch, campaign_cancel, campaign_create, campaign_send
from contacts.services import contact_create, group_create
from gateways.base import Receipt, ReceiptStatus
from messaging.delivery import receipts_apply
from messaging.models import Message, MessagePart, OptOut
from messaging.phone import phone_normalize
from messaging.services import message_send, opt_out_add, sender_add_approved, sender_create, sender_review
from tests.factories import UserFactory

from .helpers import FACTORY_PASSWORD

ACCOUNT = "Msasa Hardware"
SENDER = "MSASA"
OWNER = "tendai"
DAYS = 30
MESSAGES = 300

FIRST_NAMES = (  # noqa: SIM905  (a list of names is easier to read as a line of them)
    "Tendai Farai Chipo Tatenda Rudo Nyasha Tafadzwa Kudzai Rutendo Tinashe Blessing Precious Simbarashe "
    "Chiedza Tapiwa Vimbai Munashe Ruvimbo Tsitsi Takudzwa Anesu Nokuthula Sipho Thandiwe Kuda Panashe"
).split()
LAST_NAMES = (  # noqa: SIM905  (a list of names is easier to read as a line of them)
    "Moyo Ncube Sibanda Dube Mpofu Nyathi Chikwanha Mutasa Chirwa Gumbo Mhlanga Ndlovu Banda Zhou Marufu "
    "Chinotimba Mapfumo Makoni Chigumba Mlambo Mushonga Zvobgo"
).split()
PREFIXES = ("+26377", "+26378", "+26371", "+26373")  # Econet, Econet, NetOne, Telecel
TEXTS = (
    "Hi {first}, your order #{n} is ready for collection at our Borrowdale branch.",
    "Your Msasa Hardware verification code is {code}. It expires in 10 minutes.",
    "Hi {first}, delivery #{n} is on its way and should reach you before 5pm today.",
    "Reminder: your account balance of US${amount} is due on Friday. Pay at any branch or with EcoCash.",
    "Thank you for shopping at Msasa Hardware! Receipt #{n}: US${amount}. Reply STOP to opt out.",
    "Hi {first}, this weekend only: 20% off all paint, 15% off power tools and free delivery in Harare on orders "
    "over US$100. Visit any branch or order on WhatsApp 0772 000 000. Reply STOP to opt out.",
    "Makorokoto {first}! \N{PARTY POPPER} You have {points} loyalty points to spend before month end.",
)
# What happens to a message after it is sent, and how often.
OUTCOMES = {"delivered": 78, "sent": 8, "undelivered": 7, "failed": 5, "queued": 2}


@dataclass
class Demo:
    """What the screenshots need to sign in and to find the pages of single rows."""

    owner_username: str
    owner_password: str
    ids: dict[str, str] = field(default_factory=dict)  # "message", "campaign", "contact", "group" → a pk


class _Clock:
    """timezone.now() at a moment of the timeline, a millisecond later at each call: rows made in one
    step keep their order (a debit before its refund)."""

    def __init__(self, at: datetime):
        self.at = at

    def __call__(self) -> datetime:
        self.at += timedelta(milliseconds=1)
        return self.at


@contextmanager
def _clock(at: datetime):
    with mock.patch("django.utils.timezone.now", _Clock(at)):
        yield


@contextmanager
def _gateway(mode: str):
    """The fake gateway accepting, rejecting or failing for now, without delivery receipts of its own."""
    with override_settings(
        SMS_GATEWAYS={
            "default": {
                "BACKEND": "gateways.backends.fake.FakeGateway",
                "OPTIONS": {"mode": mode, "delivery_delay": None},
            }
        }
    ):
        yield


def _receipts(messages, *, status: str, error: str = "", error_code: str = "") -> None:
    parts = MessagePart.objects.filter(message__in=messages).values_list("gateway", "gateway_message_id")
    receipts_apply(
        [
            Receipt(gateway=gateway, part_id=part_id, status=status, error=error, error_code=error_code)
            for gateway, part_id in parts
        ]
    )


class _Timeline:
    def __init__(self, now: datetime):
        self.now = now
        self.steps: list[tuple[datetime, int, Callable[[], None]]] = []

    def at(self, when: datetime, step: Callable[[], None]) -> None:
        self.steps.append((when, len(self.steps), step))

    def day(self, days_ago: int, hour: int, minute: int = 0) -> datetime:
        return (self.now - timedelta(days=days_ago)).replace(hour=hour, minute=minute, second=0, microsecond=0)

    def run(self) -> None:
        for when, _, step in sorted(self.steps, key=lambda item: item[:2]):
            with _clock(when):
                step()


def demo_create(*, days: int = DAYS, messages: int = MESSAGES, seed: int = 2026) -> Demo:
    """One account with its owner, sender IDs, API keys, contacts in groups, `messages` messages over `days`
    days in every status, four campaigns (completed, cancelled, scheduled, draft) and their ledger."""
    rng = random.Random(seed)
    now = timezone.now()
    timeline = _Timeline(now)
    state: dict = {}
    demo = Demo(owner_username=OWNER, owner_password=FACTORY_PASSWORD)

    def open_account():
        account = account_create(name=ACCOUNT)
        credits_topup(account_id=account.pk, amount=5000, description="Top-up, invoice INV-1031", reference="INV-1031")
        sender_add_approved(account_id=account.pk, name=SENDER)
        UserFactory(
            username=OWNER,
            first_name="Tendai",
            last_name="Moyo",
            email="tendai@msasa.co.zw",
            is_staff=True,
            account=account,
        )
        state["account"] = account
        state["keys"] = {name: api_key_create(account=account, name=name) for name in ("Online shop", "Till system")}

    timeline.at(timeline.day(days, 8), open_account)
    timeline.at(
        timeline.day(days - 1, 9),
        lambda: state.update(old_key=api_key_create(account=state["account"], name="Old website")),
    )
    timeline.at(timeline.day(days - 20, 16), lambda: api_key_revoke(api_key=state["old_key"][0]))
    timeline.at(
        timeline.day(days - 18, 11),
        lambda: credits_topup(
            account_id=state["account"].pk, amount=10000, description="Top-up, invoice INV-1077", reference="INV-1077"
        ),
    )

    def senders_requested():
        account_id = state["account"].pk
        sender_review(
            sender=sender_create(account_id=account_id, name="FREECASH", purpose="Promotions"),
            approve=False,
            reason="Misleading: the name does not identify the business.",
        )

    timeline.at(timeline.day(days - 6, 10), senders_requested)
    timeline.at(
        timeline.day(1, 15),
        lambda: sender_create(account_id=state["account"].pk, name="MSASAPROMO", purpose="Weekend promotions"),
    )

    # Contacts: customers (some VIP), staff; a few opted out by replying STOP.
    people = _people(rng, 140)

    def groups_created():
        state["groups"] = {
            name: group_create(account_id=state["account"].pk, name=name, description=description)
            for name, description in (
                ("Customers", "Everyone who bought in the last year"),
                ("VIP", "Trade customers with an account"),
                ("Staff", "Branch managers and delivery drivers"),
            )
        }
        demo.ids["group"] = str(state["groups"]["Customers"].pk)

    def contact_added(index: int, phone: str, first: str, last: str):
        groups = state["groups"]
        if index < 125:
            group_ids = [groups["Customers"].pk] + ([groups["VIP"].pk] if index % 6 == 0 else [])
        else:
            group_ids = [groups["Staff"].pk]
        contact = contact_create(
            account_id=state["account"].pk, phone=phone, first_name=first, last_name=last, group_ids=group_ids
        )
        demo.ids["contact"] = str(contact.pk)  # the newest

    # The first hundred on the second day, the others one by one since.
    timeline.at(timeline.day(days - 1, 10), groups_created)
    for index, person in enumerate(people):
        if index < 100:
            when = timeline.day(days - 1, 10, 5)
        else:
            when = timeline.day(rng.randrange(1, days - 2), rng.randrange(8, 17), rng.randrange(60))
        timeline.at(when, partial(contact_added, index, *person))
    opted_out = people[7:100:31]
    for index, (phone, _, _) in enumerate(opted_out):
        timeline.at(
            timeline.day(days - 5 - 7 * index, 18, 30),
            lambda phone=phone: opt_out_add(account_id=state["account"].pk, phone=phone, source=OptOut.Source.KEYWORD),
        )

    _campaigns(timeline, state, demo, rng, days=days)
    _messages(
        timeline,
        state,
        demo,
        rng,
        people=[person for person in people if person not in opted_out],
        days=days,
        count=messages,
    )

    def keys_used():
        for _, secret in state["keys"].values():
            Client().get("/api/v1/billing/balance/", HTTP_X_API_KEY=secret, HTTP_HOST="localhost")

    timeline.at(now - timedelta(minutes=4), keys_used)
    timeline.run()
    return demo


def _people(rng: random.Random, count: int) -> list[tuple[str, str, str]]:
    phones: list[str] = []  # a list, not a set: the same order every run
    while len(phones) < count:
        phone = rng.choice(PREFIXES) + f"{rng.randrange(10**7):07d}"
        if phone_normalize(phone) == phone and phone not in phones:  # a number of a real range, once
            phones.append(phone)
    # Names dealt from decks shuffled again once dealt: each as often as another.
    firsts = [name for _ in range(count // len(FIRST_NAMES) + 1) for name in rng.sample(FIRST_NAMES, len(FIRST_NAMES))]
    lasts = [name for _ in range(count // len(LAST_NAMES) + 1) for name in rng.sample(LAST_NAMES, len(LAST_NAMES))]
    return list(zip(phones, firsts, lasts, strict=False))


def _campaigns(timeline: _Timeline, state: dict, demo: Demo, rng: random.Random, *, days: int) -> None:
    def create(name: str, message: str, group: str, scheduled_at=None) -> Campaign:
        campaign = campaign_create(
            account_id=state["account"].pk,
            name=name,
            message=message,
            sender_name=SENDER,
            group_id=state["groups"][group].pk,
            scheduled_at=scheduled_at,
        )
        state[name] = campaign
        return campaign

    def send_all(name: str, *, batch_size: int | None = None) -> None:
        campaign = campaign_send(campaign=state[name])
        with _gateway("accept"), override_settings(CAMPAIGN_BATCH_SIZE=batch_size or 500):
            while campaign_batch(campaign_id=campaign.pk) is not None and batch_size is None:
                pass

    def receipts(name: str) -> None:
        sent = list(
            Message.objects.filter(campaign=state[name], status=Message.Status.SENT).values_list("pk", flat=True)
        )
        rng.shuffle(sent)
        cut = len(sent) * 9 // 10
        _receipts(sent[:cut], status=ReceiptStatus.DELIVERED)
        _receipts(sent[cut:], status=ReceiptStatus.UNDELIVERED, error="Expired", error_code="dlr:EXPIRED")

    # Completed: every VIP.
    completed = "Trade account price list"
    message = "Hi {first_name}, the new trade price list is out: cement now US$11.50 a bag. Reply STOP to opt out."
    timeline.at(timeline.day(days - 5, 9), partial(create, completed, message, "VIP"))
    timeline.at(timeline.day(days - 5, 10), partial(send_all, completed))
    timeline.at(timeline.day(days - 5, 10, 3), partial(receipts, completed))
    timeline.at(timeline.day(days - 5, 10, 4), lambda: demo.ids.update(campaign=str(state[completed].pk)))

    # Cancelled after its first batch: the rest refunded in one entry.
    cancelled = "Public holiday opening hours"
    message = "Hi {first_name}, all Msasa Hardware branches open 9am to 1pm on Monday's public holiday."
    timeline.at(timeline.day(9, 14), partial(create, cancelled, message, "Customers"))
    timeline.at(timeline.day(9, 14, 30), partial(send_all, cancelled, batch_size=45))
    timeline.at(timeline.day(9, 14, 32), lambda: campaign_cancel(campaign=state[cancelled]))
    timeline.at(timeline.day(9, 14, 35), partial(receipts, cancelled))

    # Scheduled: credits reserved and its messages written (queued) now, sent in a few days. To the VIPs: a
    # small group, so that its queued messages do not dwarf the other days of the home page's chart.
    scheduled = "Month-end sale"
    message = "Hi {first_name}, our month-end sale starts Friday: up to 30% off garden tools. Reply STOP to opt out."
    timeline.at(
        timeline.day(1, 11),
        partial(create, scheduled, message, "VIP", scheduled_at=timeline.day(-4, 8)),
    )
    timeline.at(timeline.day(1, 11, 5), lambda: campaign_send(campaign=state[scheduled]))

    # A draft.
    timeline.at(
        timeline.day(0, 8) if timeline.now.hour >= 9 else timeline.day(1, 17),
        lambda: create("Staff safety briefing", "Hi {first_name}, safety briefing at 7:30 tomorrow, yard 2.", "Staff"),
    )


def _messages(
    timeline: _Timeline, state: dict, demo: Demo, rng: random.Random, *, people: list, days: int, count: int
) -> None:
    """`count` single sends over the days, more on weekdays and in business hours, in every outcome."""
    now = timeline.now
    weights = [3 if (now - timedelta(days=days_ago)).weekday() < 5 else 1 for days_ago in range(days)]
    for _ in range(count):
        days_ago = rng.choices(range(days), weights)[0]
        outcome = rng.choices(list(OUTCOMES), list(OUTCOMES.values()))[0]
        if outcome == "queued":
            when = now - timedelta(minutes=rng.randrange(2, 50))  # retried soon: only the last hour's are left
        else:
            when = timeline.day(days_ago, 0) + timedelta(seconds=rng.randrange(7 * 3600, 19 * 3600))
            if when >= now - timedelta(minutes=5):
                when -= timedelta(days=1)  # later today: yesterday instead
        phone, first, _ = rng.choice(people)
        text = rng.choice(TEXTS).format(
            first=first,
            n=rng.randrange(10_000, 99_999),
            code=rng.randrange(100_000, 999_999),
            amount=f"{rng.randrange(5, 600)}.{rng.randrange(100):02d}",
            points=rng.randrange(50, 900),
        )
        delay = timedelta(seconds=rng.randrange(3, 90))
        timeline.at(when, partial(_send, state, demo, phone, text, outcome, delay))


def _send(state: dict, demo: Demo, phone: str, text: str, outcome: str, delay: timedelta) -> None:
    mode = {"failed": "reject", "queued": "fail"}.get(outcome, "accept")
    with _gateway(mode):
        receipt, _ = message_send(account_id=state["account"].pk, to=phone, sender=SENDER, text=text)
    message_id = receipt["message_id"]
    if outcome in ("delivered", "undelivered"):
        with _clock(timezone.now() + delay):
            if outcome == "delivered":
                _receipts([message_id], status=ReceiptStatus.DELIVERED)
                if receipt["segments"] > 1:
                    demo.ids["message"] = message_id  # the detail page shows a long message
            else:
                _receipts(
                    [message_id], status=ReceiptStatus.UNDELIVERED, error="Absent subscriber", error_code="dlr:UNDELIV"
                )
