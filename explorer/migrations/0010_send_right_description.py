# The "send" right names every kind of destination the Send control offers since DICOMweb
# servers and Orthanc peers joined modalities. Django creates a missing permission after each
# migration but never renames an existing one: its stored name is changed here.

from django.db import migrations

SEND = "Send resources to a modality (C-STORE), a DICOMweb server (STOW-RS) or an Orthanc peer."
BEFORE = "Send resources to a modality or a peer (C-STORE)."


def rename(apps, name):
    permissions = apps.get_model("auth", "Permission").objects
    permissions.filter(codename="send", content_type__app_label="explorer").update(name=name)


class Migration(migrations.Migration):
    dependencies = [
        ("explorer", "0009_modified_from"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="rights",
            options={
                "default_permissions": (),
                "managed": False,
                "permissions": (
                    (
                        "view",
                        "Browse patients, studies, series and instances, see their images and tags, download files and archives, search; read the server's state (system, statistics, changes, jobs, modalities, queries, settings).",
                    ),
                    ("upload", "Store new instances: the upload page, POST /instances."),
                    ("send", "Send resources to a modality (C-STORE), a DICOMweb server (STOW-RS) or an Orthanc peer."),
                    (
                        "query_retrieve",
                        "Echo, query (C-FIND) and retrieve from (C-MOVE, C-GET) a modality; keep and forget the queries.",
                    ),
                    ("jobs", "Cancel, pause, resume and resubmit jobs."),
                    ("modify", "Modify and anonymize resources."),
                    ("delete", "Delete patients, studies, series and instances, with their files."),
                    (
                        "modalities",
                        "Create, change and delete modalities (who may query this server, where C-MOVE sends).",
                    ),
                    ("peers", "Create, change and delete Orthanc peers."),
                    (
                        "users",
                        "Create, change and delete users and groups, and who has which right (the administration pages, for a user with staff status).",
                    ),
                    ("settings", "Change the server's settings at run time (PUT /tools/…: encoding, log level…)."),
                    ("clear_changes", "Clear the change log (/changes) and the exports log (/exports)."),
                    ("audit", "Read the audit trail and export it as CSV."),
                ),
            },
        ),
        migrations.RunPython(lambda apps, editor: rename(apps, SEND), lambda apps, editor: rename(apps, BEFORE)),
    ]
