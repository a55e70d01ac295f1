"""Trigram indexes for `?search=`, on PostgreSQL only (SQLite has no GIN; it scans, which is fine embedded).

Name search is `icontains`, which Django writes as `UPPER(col::text) LIKE UPPER('%term%')`: the
indexes are on the same UPPER() expression so the planner can use them. Phone digits typed without
a prefix (`?search=1234567`) are a `LIKE '%…%'` on phone: the third index.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEXES = {
    "contact_first_name_trgm": "UPPER(first_name) gin_trgm_ops",
    "contact_last_name_trgm": "UPPER(last_name) gin_trgm_ops",
    "contact_phone_trgm": "phone gin_trgm_ops",
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, expression in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON contacts_contact USING gin ({expression})")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("contacts", "0001_initial")]

    operations = [
        # CREATE EXTENSION pg_trgm; Django's operation does nothing on other databases.
        TrigramExtension(),
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
