from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("explorer", "0007_audit_event")]

    operations = [
        migrations.CreateModel(
            name="GlobalSequence",
            fields=[
                ("name", models.CharField(max_length=64, primary_key=True, serialize=False)),
                ("value", models.BigIntegerField(default=0)),
            ],
        ),
    ]
