"""PostgreSQL refuses any UPDATE or DELETE of a ledger row: corrections are new rows.

TRUNCATE stays possible (a statement-level operation used by test database flushes
and by an operator who means to wipe everything).
"""

from django.db import migrations

CREATE = """
CREATE FUNCTION billing_transaction_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'billing_transaction is append-only: % refused; write a reversing row instead', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER billing_transaction_append_only
    BEFORE UPDATE OR DELETE ON billing_transaction
    FOR EACH ROW EXECUTE FUNCTION billing_transaction_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS billing_transaction_append_only ON billing_transaction;
DROP FUNCTION IF EXISTS billing_transaction_append_only();
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)  # None: the % in RAISE is not a placeholder

    return run


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP))]
