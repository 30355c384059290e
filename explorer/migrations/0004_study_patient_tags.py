"""Each study keeps the patient's main tags it was received with (Study.patient_main_tags,
and its PatientName as an indexed column), as Orthanc keeps them: studies sharing a
PatientID may name the patient differently. Also an index for /tools/lookup, which compares
PatientIDs ignoring case.

Existing studies take their patient's tags, the best the index knows without reading the
files again (deleting a study and storing its files again gives it its own); new arrivals
keep their own. The PatientName column gets the same index for
prefixes matched ignoring case as the patient's (0002).
"""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery

INDEX = "explorer_study_patient_name_prefix"
# /tools/lookup compares PatientIDs ignoring case: UPPER(patient_id) = UPPER(%s) on PostgreSQL.
LOOKUP_INDEX = "explorer_patient_id_upper"
CREATE = {
    "postgresql": [
        f"CREATE INDEX {INDEX} ON explorer_study (UPPER(patient_name) text_pattern_ops)",
        f"CREATE INDEX {LOOKUP_INDEX} ON explorer_patient (UPPER(patient_id))",
    ],
    "sqlite": [f"CREATE INDEX {INDEX} ON explorer_study (patient_name COLLATE NOCASE)"],
}


def copy_patient_tags(apps, schema_editor):
    Patient = apps.get_model("explorer", "Patient")
    Study = apps.get_model("explorer", "Study")
    patient = Patient.objects.filter(pk=OuterRef("patient_id"))
    Study.objects.update(
        patient_main_tags=Subquery(patient.values("main_tags")[:1]),
        patient_name=Subquery(patient.values("patient_name")[:1]),
    )
    for sql in CREATE.get(schema_editor.connection.vendor, ()):
        schema_editor.execute(sql)


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor in CREATE:
        for name in (INDEX, LOOKUP_INDEX):
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("explorer", "0003_runtime_setting")]

    operations = [
        migrations.AddField(
            model_name="study",
            name="patient_main_tags",
            field=models.JSONField(default=dict),
        ),
        migrations.AddField(
            model_name="study",
            name="patient_name",
            field=models.TextField(blank=True, db_index=True),
        ),
        migrations.RunPython(copy_patient_tags, drop_index),
    ]
