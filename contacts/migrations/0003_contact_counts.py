"""An account's contacts counted by triggers (contacts.models.ContactCountChange), and the count of those there
are now. The SQL is written out here, not imported, so that this migration keeps meaning what it did.

PostgreSQL: statement triggers over transition tables, one row per account a statement added to or deleted from
(an import's batch of 2,000 writes one); a contact moved to another account (only the admin can) by a row
trigger on that column alone. SQLite (the embedded mode) has only row triggers: one row per contact.
"""

from django.db import migrations, models

COUNTS = "contacts_contactcountchange (account_id, contacts)"

POSTGRESQL = [
    f"""CREATE FUNCTION contacts_counted_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {COUNTS} SELECT account_id, count(*) FROM new_contacts GROUP BY account_id;
    RETURN NULL;
END $$""",
    f"""CREATE FUNCTION contacts_counted_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {COUNTS} SELECT account_id, -count(*) FROM old_contacts GROUP BY account_id;
    RETURN NULL;
END $$""",
    f"""CREATE FUNCTION contacts_counted_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {COUNTS} VALUES (OLD.account_id, -1), (NEW.account_id, 1);
    RETURN NULL;
END $$""",
    "CREATE TRIGGER contacts_counted_inserted AFTER INSERT ON contacts_contact REFERENCING NEW TABLE AS new_contacts"
    " FOR EACH STATEMENT EXECUTE FUNCTION contacts_counted_inserted()",
    "CREATE TRIGGER contacts_counted_deleted AFTER DELETE ON contacts_contact REFERENCING OLD TABLE AS old_contacts"
    " FOR EACH STATEMENT EXECUTE FUNCTION contacts_counted_deleted()",
    "CREATE TRIGGER contacts_counted_moved AFTER UPDATE OF account_id ON contacts_contact FOR EACH ROW"
    " WHEN (OLD.account_id IS DISTINCT FROM NEW.account_id) EXECUTE FUNCTION contacts_counted_moved()",
]
SQLITE = [
    "CREATE TRIGGER contacts_counted_inserted AFTER INSERT ON contacts_contact FOR EACH ROW BEGIN"
    f" INSERT INTO {COUNTS} VALUES (NEW.account_id, 1); END",
    "CREATE TRIGGER contacts_counted_deleted AFTER DELETE ON contacts_contact FOR EACH ROW BEGIN"
    f" INSERT INTO {COUNTS} VALUES (OLD.account_id, -1); END",
    "CREATE TRIGGER contacts_counted_moved AFTER UPDATE OF account_id ON contacts_contact FOR EACH ROW"
    f" WHEN OLD.account_id IS NOT NEW.account_id BEGIN INSERT INTO {COUNTS} VALUES (OLD.account_id, -1),"
    " (NEW.account_id, 1); END",
]
TRIGGERS = ("contacts_counted_inserted", "contacts_counted_deleted", "contacts_counted_moved")


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for sql in {"postgresql": POSTGRESQL, "sqlite": SQLITE}[vendor]:
        schema_editor.execute(sql)
    # The contacts there are now; the triggers' lock on the table keeps new ones out until this commits.
    schema_editor.execute(f"INSERT INTO {COUNTS} SELECT account_id, count(*) FROM contacts_contact GROUP BY account_id")


def drop_triggers(apps, schema_editor):
    for name in TRIGGERS:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON contacts_contact")
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {name}()")
        else:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("contacts", "0002_search_indexes")]

    operations = [
        migrations.CreateModel(
            name="ContactCountChange",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("account_id", models.UUIDField(db_index=True)),
                ("contacts", models.IntegerField()),
            ],
        ),
        migrations.RunPython(create_triggers, drop_triggers, elidable=False),
    ]
