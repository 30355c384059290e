from django.contrib import admin

from explorer.models import Instance, Patient, Series, Study


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ("patient_id", "patient_name", "patient_birth_date", "public_id", "last_update")
    search_fields = ("patient_id", "patient_name", "public_id")
    readonly_fields = ("public_id",)


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = ("study_instance_uid", "accession_number", "study_date", "study_description", "public_id")
    search_fields = ("study_instance_uid", "accession_number", "study_description", "public_id")
    raw_id_fields = ("patient",)


@admin.register(Series)
class SeriesAdmin(admin.ModelAdmin):
    list_display = ("series_instance_uid", "modality", "public_id")
    search_fields = ("series_instance_uid", "public_id")
    raw_id_fields = ("study",)


@admin.register(Instance)
class InstanceAdmin(admin.ModelAdmin):
    list_display = ("sop_instance_uid", "origin", "remote_aet", "file_size", "received_at")
    search_fields = ("sop_instance_uid", "public_id")
    raw_id_fields = ("series",)
    exclude = ("dataset",)
