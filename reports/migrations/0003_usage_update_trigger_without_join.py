"""The update trigger's function sums every old row as -1 and every new one as +1 instead of joining the two
transition tables (reports/triggers.py says why): the triggers are made again from reports.triggers, in this
migration's transaction, so that no change of messaging_message goes uncounted meanwhile."""

from django.db import migrations

from reports.triggers import usage_triggers_create


def recreate(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":  # SQLite's row triggers did not change
        usage_triggers_create("postgresql", lambda sql: schema_editor.execute(sql, params=None))


class Migration(migrations.Migration):
    dependencies = [("reports", "0002_usage_triggers")]

    operations = [migrations.RunPython(recreate, migrations.RunPython.noop)]
