"""An index of each group's members in contact id order, on contacts' membership table (Django's for
Contact.groups): each chunk of a campaign's preparation reads the next members after its cursor from it, at the
cost of the chunk whatever the group's size. Built CONCURRENTLY on PostgreSQL, so imports go on meanwhile."""

from django.db import migrations

INDEX = "campaign_group_members_by_contact"


def create_index(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(
        f"CREATE INDEX {concurrently}IF NOT EXISTS {INDEX} ON contacts_contact_groups (group_id, contact_id)"
    )


def drop_index(apps, schema_editor):
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction
    dependencies = [("campaigns", "0004_campaign_preparation"), ("contacts", "0001_initial")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
