# Stable and completed resources in the change log (explorer/stability.py).

from django.db import migrations, models


def existing_resources_are_stable(apps, schema_editor):
    # What the index held before this migration has had its chance to become stable: the
    # clock logs only what arrives from now on, instead of a flood of old events.
    for name in ("Patient", "Study", "Series"):
        apps.get_model("explorer", name).objects.update(stable_update=models.F("last_update"))


UNSTABLE = models.Q(("stable_update__isnull", True), ("stable_update__lt", models.F("last_update")), _connector="OR")


class Migration(migrations.Migration):

    dependencies = [
        ("explorer", "0004_study_patient_tags"),
    ]

    operations = [
        migrations.AddField(
            model_name="patient",
            name="stable_update",
            field=models.DateTimeField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="series",
            name="completed_logged",
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.AddField(
            model_name="series",
            name="stable_update",
            field=models.DateTimeField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="study",
            name="stable_update",
            field=models.DateTimeField(editable=False, null=True),
        ),
        migrations.RunPython(existing_resources_are_stable, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="change",
            name="public_id",
            field=models.CharField(db_index=True, max_length=44),
        ),
        migrations.AddIndex(
            model_name="patient",
            index=models.Index(condition=UNSTABLE, fields=["last_update"], name="explorer_patient_unstable"),
        ),
        migrations.AddIndex(
            model_name="series",
            index=models.Index(condition=UNSTABLE, fields=["last_update"], name="explorer_series_unstable"),
        ),
        migrations.AddIndex(
            model_name="study",
            index=models.Index(condition=UNSTABLE, fields=["last_update"], name="explorer_study_unstable"),
        ),
    ]
