"""An index for person name prefixes matched ignoring case (C-FIND's and /tools/find's
PatientName=DOE*), which otherwise read every patient.

Django writes such a match UPPER(patient_name) LIKE 'DOE%' on PostgreSQL: the index is on
that expression, with text_pattern_ops since LIKE uses a B-tree only under the C collation.
On SQLite it is patient_name LIKE 'DOE%', which ignores ASCII case, as a NOCASE index does.
"""

from django.db import migrations

INDEX = "explorer_patient_name_prefix"
CREATE = {
    "postgresql": f"CREATE INDEX {INDEX} ON explorer_patient (UPPER(patient_name) text_pattern_ops)",
    "sqlite": f"CREATE INDEX {INDEX} ON explorer_patient (patient_name COLLATE NOCASE)",
}


def create_index(apps, schema_editor):
    sql = CREATE.get(schema_editor.connection.vendor)
    if sql:
        schema_editor.execute(sql)


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor in CREATE:
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("explorer", "0001_initial")]

    operations = [migrations.RunPython(create_index, drop_index)]
