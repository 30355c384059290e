# The three groups (viewer, operator, administrator) and their rights (explorer/rights.py).

from django.db import migrations, models

from explorer import rights

# explorer.models.Rights' permissions as they were when this migration was written.
PERMISSIONS = (
    (
        "view",
        "Browse patients, studies, series and instances, see their images and tags, download files and archives, "
        "search; read the server's state (system, statistics, changes, jobs, modalities, queries, settings).",
    ),
    ("upload", "Store new instances: the upload page, POST /instances."),
    ("send", "Send resources to a modality or a peer (C-STORE)."),
    (
        "query_retrieve",
        "Echo, query (C-FIND) and retrieve from (C-MOVE, C-GET) a modality; keep and forget the queries.",
    ),
    ("jobs", "Cancel, pause, resume and resubmit jobs."),
    ("modify", "Modify and anonymize resources."),
    ("delete", "Delete patients, studies, series and instances, with their files."),
    ("modalities", "Create, change and delete modalities (who may query this server, where C-MOVE sends)."),
    ("peers", "Create, change and delete Orthanc peers."),
    (
        "users",
        "Create, change and delete users and groups, and who has which right (the administration pages, for a user "
        "with staff status).",
    ),
    ("settings", "Change the server's settings at run time (PUT /tools/…: encoding, log level…)."),
    ("clear_changes", "Clear the change log (/changes) and the exports log (/exports)."),
)


def create_groups(apps, schema_editor):
    rights.create_groups(apps)


def existing_users_are_administrators(apps, schema_editor):
    # Before roles, every user could do everything: the users of an existing installation
    # keep doing so (an administrator moves them to a smaller group). Users created from now
    # on have no right until put in a group.
    users = apps.get_model("auth", "User")
    administrator = apps.get_model("auth", "Group").objects.get(name=rights.ADMINISTRATOR)
    for user in users.objects.filter(is_superuser=False, groups__isnull=True):
        user.groups.add(administrator)


class Migration(migrations.Migration):
    dependencies = [
        ("explorer", "0005_stability"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.CreateModel(
            name="Rights",
            fields=[("id", models.BigAutoField(primary_key=True, serialize=False))],
            options={"managed": False, "default_permissions": (), "permissions": PERMISSIONS},
        ),
        migrations.RunPython(create_groups, migrations.RunPython.noop),
        migrations.RunPython(existing_users_are_administrators, migrations.RunPython.noop),
    ]
