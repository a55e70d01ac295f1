"""The bind process's way into the database (gateways/smpp/daemon.py calls it from one thread)."""

import functools
import operator

from django.db import InterfaceError, OperationalError, close_old_connections, connection
from django.db.models import Q

from gateways.base import InboundSms, OutboundSms, Receipt, SubmitResult, SubmitStatus
from gateways.router import routes_for
from gateways.smpp.handoff import Handoff, RecordedState

from .delivery import Outcome, outcomes_record, receipts_apply, sql_in
from .inbound import inbound_receive
from .models import Message

# A campaign's message leaves only while its campaign is sending (campaigns.models.Campaign.Status.SENDING).
CAMPAIGN_SENDING = "sending"


def _reconnecting(method):
    """A database that went away leaves a dead connection behind: drop it, so the daemon's retry reconnects.

    And first, what Django does before each request and Celery's worker before each task: close a connection
    older than DB_CONN_MAX_AGE (or broken). The daemon's connections would otherwise live as long as it does, with
    the plans its prepared statements got when it started: made while a table was small, a scan of the whole
    table, kept until the table's statistics change (never where autovacuum is off). A connection inside a caller's
    transaction is the caller's to keep."""

    @functools.wraps(method)
    def call(*args, **kwargs):
        if not connection.in_atomic_block:
            close_old_connections()
        try:
            return method(*args, **kwargs)
        except (OperationalError, InterfaceError):
            connection.close()
            raise

    return call


class DatabaseStore:
    @_reconnecting
    def load(self, handoffs: list[Handoff], *, give_back: bool = True) -> list[OutboundSms]:
        """The handed-over messages still queued in the attempt they were handed over for. A campaign's message
        whose campaign paused or stopped meanwhile is given back at once (its lease ended) for the campaign
        to resume or refund — unless `give_back` is False: the caller gives back those it has not sent yet."""
        wanted = {(handoff.message_id, handoff.attempt) for handoff in handoffs}
        campaign = Message._meta.get_field("campaign").related_model._meta.db_table
        ids, params = sql_in("m.id", {message_id for message_id, _ in wanted}, Message._meta.pk)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT m.id, m.recipient, m.sender, m.text, m.encoding, m.attempts, m.campaign_id, c.status"
                f" FROM {Message._meta.db_table} m LEFT JOIN {campaign} c ON c.id = m.campaign_id"
                f" WHERE {ids} AND m.status = %s",
                [*params, Message.Status.QUEUED],
            )
            rows = cursor.fetchall()
        to_python = Message._meta.pk.to_python
        due, stopped = [], []
        for pk, recipient, sender, text, encoding, attempts, campaign_id, campaign_status in rows:
            pk = to_python(pk)
            if (str(pk), attempts) not in wanted:
                continue  # handed over again since, or for a later attempt
            if campaign_status not in (None, CAMPAIGN_SENDING):
                stopped.append((str(pk), attempts))
                continue
            campaign_id = str(to_python(campaign_id)) if campaign_id else ""
            due.append(OutboundSms(str(pk), recipient, sender, text, encoding, attempts, campaign_id))
        if stopped and give_back:
            self.give_back(stopped)
        return due

    @_reconnecting
    def sending(self, messages: list[OutboundSms], *, give_back: bool = True) -> list[OutboundSms]:
        """Those of these campaign messages, as handed over, whose campaign is still sending; the others are given
        back (their lease ended) for their campaign to resume or refund, unless `give_back` is False."""
        campaign = Message._meta.get_field("campaign")
        ids, params = sql_in("id", {sms.campaign_id for sms in messages}, campaign.target_field)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT id FROM {campaign.related_model._meta.db_table} WHERE {ids} AND status = %s",
                           [*params, CAMPAIGN_SENDING])  # fmt: skip
            sending = {str(campaign.target_field.to_python(campaign_id)) for (campaign_id,) in cursor.fetchall()}
        stopped = [(sms.message_id, sms.attempt) for sms in messages if sms.campaign_id not in sending]
        if stopped and give_back:
            self.give_back(stopped)
        return [sms for sms in messages if sms.campaign_id in sending]

    @_reconnecting
    def give_back(self, messages: list[tuple[str, int]]) -> None:
        """End the lease of these (message id, attempt) still queued in that attempt: their campaign resumes or
        refunds them."""
        attempts = [Q(pk=message_id, attempts=attempt) for message_id, attempt in messages]
        Message.objects.filter(functools.reduce(operator.or_, attempts), status=Message.Status.QUEUED).update(
            next_attempt_at=None
        )

    @_reconnecting
    def record(self, outcomes: list[tuple[str, OutboundSms, SubmitResult]]) -> dict[str, RecordedState]:
        recorded = outcomes_record(
            Outcome(
                sms.message_id,
                sms.attempt,
                alias,
                result,
                # The route's other gateways were not tried: a retry goes to them at once.
                failover=result.status == SubmitStatus.RETRY and len(routes_for(sms.recipient)) > 1,
            )
            for alias, sms, result in outcomes
        )
        return {message_id: (state.status, state.balance) for message_id, state in recorded.items()}

    @_reconnecting
    def store_receipts(self, receipts: list[Receipt]) -> None:
        receipts_apply(receipts)

    @_reconnecting
    def store_inbound(self, messages: list[InboundSms]) -> None:
        inbound_receive(messages=messages)
