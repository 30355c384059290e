# The audit trail (explorer/audit.py), and the right to read it (explorer/rights.py AUDIT),
# given to the administrator group.

import importlib

import django.utils.timezone
from django.db import migrations, models

from explorer import rights

ROLES = importlib.import_module("explorer.migrations.0006_roles")
PERMISSIONS = ROLES.PERMISSIONS + (("audit", "Read the audit trail and export it as CSV."),)


def grant_the_audit_right(apps, schema_editor):
    # The audit right alone: the rights an administrator changed in the other groups stay.
    holder, _ = apps.get_model("contenttypes", "ContentType").objects.get_or_create(
        app_label="explorer", model=rights.MODEL
    )
    permission, _ = apps.get_model("auth", "Permission").objects.get_or_create(
        content_type=holder, codename=rights.AUDIT.name, defaults={"name": rights.AUDIT.meaning}
    )
    group, _ = apps.get_model("auth", "Group").objects.get_or_create(name=rights.ADMINISTRATOR)
    group.permissions.add(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("explorer", "0006_roles"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="rights",
            options={"managed": False, "default_permissions": (), "permissions": PERMISSIONS},
        ),
        migrations.RunPython(grant_the_audit_right, migrations.RunPython.noop),
        migrations.CreateModel(
            name="AuditEvent",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("time", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ("action", models.CharField(db_index=True, max_length=32)),
                ("username", models.CharField(blank=True, db_index=True, max_length=150)),
                ("aet", models.CharField(blank=True, db_index=True, max_length=64)),
                ("ip", models.CharField(blank=True, max_length=64)),
                ("detail", models.TextField(blank=True)),
                ("patient_public_id", models.CharField(blank=True, db_index=True, max_length=44)),
                ("patient_id", models.TextField(blank=True)),
                ("patient_name", models.TextField(blank=True)),
                ("study_public_id", models.CharField(blank=True, db_index=True, max_length=44)),
                ("study_instance_uid", models.CharField(blank=True, max_length=128)),
            ],
            options={
                "ordering": ["-time", "-id"],
            },
        ),
    ]
