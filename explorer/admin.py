"""The index in the administration pages, to look at only.

Deleting a resource must remove its file too, and the explorer and the REST API do
(explorer.index); a row deleted or edited here would leave the file on disk and the
index out of step with it. So the index tables are read-only in the admin.
"""

from django.contrib import admin

from explorer import audit
from explorer.models import AuditEvent, Change, Instance, Patient, Series, Study


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Patient)
class PatientAdmin(ReadOnlyAdmin):
    list_display = ("patient_id", "patient_name", "patient_birth_date", "public_id", "last_update")
    search_fields = ("patient_id", "patient_name", "public_id")


@admin.register(Study)
class StudyAdmin(ReadOnlyAdmin):
    list_display = ("study_instance_uid", "accession_number", "study_date", "study_description", "public_id")
    search_fields = ("study_instance_uid", "accession_number", "study_description", "public_id")
    raw_id_fields = ("patient",)


@admin.register(Series)
class SeriesAdmin(ReadOnlyAdmin):
    list_display = ("series_instance_uid", "modality", "public_id")
    search_fields = ("series_instance_uid", "public_id")
    raw_id_fields = ("study",)


@admin.register(Instance)
class InstanceAdmin(ReadOnlyAdmin):
    list_display = ("sop_instance_uid", "origin", "remote_aet", "file_size", "received_at")
    search_fields = ("sop_instance_uid", "public_id")
    raw_id_fields = ("series",)
    exclude = ("dataset",)


@admin.register(Change)
class ChangeAdmin(ReadOnlyAdmin):
    list_display = ("id", "change_type", "resource_type", "public_id", "date")
    list_filter = ("change_type", "resource_type")
    search_fields = ("public_id",)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """The audit trail as it is stored; the explorer's /ui/audit filters and exports it."""

    list_display = ("time", "action", "username", "aet", "ip", "patient_id", "patient_name", "detail")
    list_filter = ("action",)
    search_fields = ("username", "aet", "patient_id", "patient_name", "study_instance_uid", "detail")
    date_hierarchy = "time"

    def has_view_permission(self, request, obj=None):
        return audit.may_see_audit(request.user)
