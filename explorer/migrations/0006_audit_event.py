# The audit trail (explorer/audit.py).

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("explorer", "0005_stability"),
    ]

    operations = [
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
