from django.db import migrations, models


def _link_fields(model_name):
    return [
        migrations.AddField(
            model_name=model_name,
            name=name,
            field=models.CharField(blank=True, default="", max_length=44),
        )
        for name in ("modified_from", "anonymized_from")
    ]


class Migration(migrations.Migration):
    dependencies = [("explorer", "0008_anonymization_sequence")]

    operations = [
        operation for model_name in ("patient", "study", "series", "instance") for operation in _link_fields(model_name)
    ]
