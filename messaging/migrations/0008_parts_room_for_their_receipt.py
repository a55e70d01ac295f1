"""Room on each page of the message parts for the version their receipt writes (PostgreSQL only).

A part is written when its message is sent and changed once more when its receipt comes; none of the columns the
receipt changes is indexed, so PostgreSQL can write the new version beside the old one without touching the
part's three indexes (a HOT update), but only when the page has room. Parts are written in batches that fill
their pages, and a batch of receipts changes most of the rows of those pages at once: half of each page is kept
free for them. Existing pages keep their layout; the pages written from now on get the room.
"""

from django.db import migrations

FILLFACTOR = 50


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE messaging_messagepart SET (fillfactor = {FILLFACTOR})")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE messaging_messagepart RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("messaging", "0007_indexes_fewer_per_send")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor, elidable=False)]
