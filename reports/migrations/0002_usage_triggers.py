"""The triggers that count every change of messaging_message into reports_usagechange (reports/triggers.py), and
the rollup of the messages that exist already.

CREATE TRIGGER locks messaging_message against writers until this migration commits (PostgreSQL), so the
rollup computed after it misses nothing and counts nothing twice. On a large table that is the time of one
GROUP BY over every message (about 2 s per million on the development machine: bench/reports.py `rebuild`).
"""

from django.db import migrations

from reports.services import usage_aggregate
from reports.triggers import usage_triggers_create, usage_triggers_sql


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor not in ("postgresql", "sqlite"):
        return
    usage_triggers_create(vendor, lambda sql: schema_editor.execute(sql, params=None))
    Message, DailyUsage = apps.get_model("messaging", "Message"), apps.get_model("reports", "DailyUsage")
    alias = schema_editor.connection.alias
    rows = [DailyUsage(**row) for row in usage_aggregate(Message.objects.using(alias).all())]
    DailyUsage.objects.using(alias).bulk_create(rows, batch_size=1000)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor in ("postgresql", "sqlite"):
        for sql in usage_triggers_sql(vendor, drop=True):
            schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_initial"),
        ("messaging", "0004_opt_outs_inbound_callbacks"),
    ]

    operations = [migrations.RunPython(create, drop)]
