"""A single send, which has no contact, no longer gets an entry in an index of the messages by contact: the unique
index of one message per campaign and contact leads with the contact, is partial on it, and serves the lookups by
contact that the foreign key's own index served (setting a deleted contact to null).

On PostgreSQL the indexes are built and dropped CONCURRENTLY (outside a transaction): the messages table is the
biggest, and a plain CREATE INDEX would hold its writes (every send) for the whole build. Elsewhere Django's own
operations run. The new index is built before the old ones go, so one message per campaign and contact is
enforced throughout.
"""

import django.db.models.deletion
from django.db import migrations, models

TABLE = "messaging_message"
CONTACT_INDEX = "messaging_message_contact_id_20c3f93a"  # Django's name for the foreign key's index


class OnPostgreSQL(migrations.operations.base.Operation):
    """`operation`'s change of state everywhere; its change of the database too, except on PostgreSQL, where
    `forwards` and `backwards` (SQL) make it instead."""

    reversible = True

    def __init__(self, operation, *, forwards: str, backwards: str):
        self.operation, self.forwards, self.backwards = operation, forwards, backwards

    def state_forwards(self, app_label, state):
        self.operation.state_forwards(app_label, state)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(self.forwards)
        else:
            self.operation.database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(self.backwards)
        else:
            self.operation.database_backwards(app_label, schema_editor, from_state, to_state)

    def describe(self):
        return self.operation.describe()


class Migration(migrations.Migration):
    atomic = False  # CREATE/DROP INDEX CONCURRENTLY

    dependencies = [
        ("accounts", "0003_account_low_credits_threshold"),
        ("campaigns", "0005_group_members_by_contact"),
        ("contacts", "0002_search_indexes"),
        ("messaging", "0006_campaign_batch_indexes"),
    ]

    operations = [
        OnPostgreSQL(
            migrations.AddConstraint(
                model_name="message",
                constraint=models.UniqueConstraint(
                    condition=models.Q(("contact__isnull", False)),
                    fields=("contact", "campaign"),
                    name="message_unique_per_contact_campaign",
                ),
            ),
            forwards=f"CREATE UNIQUE INDEX CONCURRENTLY message_unique_per_contact_campaign ON {TABLE}"
            " (contact_id, campaign_id) WHERE contact_id IS NOT NULL",
            backwards="DROP INDEX CONCURRENTLY message_unique_per_contact_campaign",
        ),
        OnPostgreSQL(
            migrations.RemoveConstraint(model_name="message", name="message_unique_per_campaign_contact"),
            forwards="DROP INDEX CONCURRENTLY message_unique_per_campaign_contact",
            backwards=f"CREATE UNIQUE INDEX CONCURRENTLY message_unique_per_campaign_contact ON {TABLE}"
            " (campaign_id, contact_id) WHERE campaign_id IS NOT NULL",
        ),
        OnPostgreSQL(
            migrations.AlterField(
                model_name="message",
                name="contact",
                field=models.ForeignKey(
                    blank=True,
                    db_index=False,
                    null=True,
                    on_delete=django.db.models.deletion.SET_NULL,
                    related_name="+",
                    to="contacts.contact",
                ),
            ),
            forwards=f"DROP INDEX CONCURRENTLY {CONTACT_INDEX}",
            backwards=f"CREATE INDEX CONCURRENTLY {CONTACT_INDEX} ON {TABLE} (contact_id)",
        ),
    ]
