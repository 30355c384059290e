"""The real-world model in the database: patient → study → series → instance.

Every resource keeps Orthanc's public id and its level's main tags (as a JSON
object, as Orthanc shows them); the tags people search on are also columns
with an index. An instance keeps its whole data set as DICOM JSON, bulk data
left as references, so that no request needs to open the file to read a tag.
"""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from explorer import rights


class Resource(models.Model):
    public_id = models.CharField(max_length=44, unique=True)
    main_tags = models.JSONField(default=dict)
    last_update = models.DateTimeField(default=timezone.now)
    # Orthanc's ModifiedFrom and AnonymizedFrom metadata: the public id of the resource this
    # one was made from by /modify or /anonymize ("" when none). A resource may hold both.
    modified_from = models.CharField(max_length=44, blank=True, default="")
    anonymized_from = models.CharField(max_length=44, blank=True, default="")

    class Meta:
        abstract = True

    def __str__(self):
        return self.public_id

    @property
    def is_stable(self):
        age = timedelta(seconds=settings.PHAROS_STABLE_AGE)
        return timezone.now() - self.last_update >= age


class Aggregate(Resource):
    """A patient, study or series: it becomes stable after StableAge seconds without a new
    instance, which the change log records once per quiet period (explorer/stability.py)."""

    # The LastUpdate for which Stable<Level> was logged: a newer LastUpdate (a new instance)
    # makes the resource unstable again. The partial index holds only the unstable ones, the
    # few the stability clock looks at.
    stable_update = models.DateTimeField(null=True, editable=False)

    class Meta:
        abstract = True
        indexes = [
            models.Index(
                fields=["last_update"],
                name="%(app_label)s_%(class)s_unstable",
                condition=models.Q(stable_update__isnull=True) | models.Q(stable_update__lt=models.F("last_update")),
            )
        ]


class Patient(Aggregate):
    patient_id = models.TextField(db_index=True)
    patient_name = models.TextField(blank=True, db_index=True)
    patient_birth_date = models.CharField(max_length=32, blank=True, db_index=True)


class Study(Aggregate):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="studies")
    # The patient's main tags as this study's first instance gave them, as Orthanc keeps
    # them: studies sharing a PatientID may name the patient differently, and each is found
    # and shown by its own (study-level queries, PatientMainDicomTags).
    patient_main_tags = models.JSONField(default=dict)
    patient_name = models.TextField(blank=True, db_index=True)
    study_instance_uid = models.CharField(max_length=128, db_index=True)
    accession_number = models.TextField(blank=True, db_index=True)
    study_date = models.CharField(max_length=32, blank=True, db_index=True)
    study_description = models.TextField(blank=True, db_index=True)

    class Meta(Aggregate.Meta):
        verbose_name_plural = "studies"


class Series(Aggregate):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="series")
    series_instance_uid = models.CharField(max_length=128, db_index=True)
    modality = models.CharField(max_length=32, blank=True, db_index=True)
    # CompletedSeries is logged once, when the series' Status first reads Complete.
    completed_logged = models.BooleanField(default=False, editable=False)

    class Meta(Aggregate.Meta):
        verbose_name_plural = "series"


class Instance(Resource):
    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="instances")
    sop_instance_uid = models.CharField(max_length=128, db_index=True)
    index_in_series = models.IntegerField(null=True)

    file_uuid = models.UUIDField(unique=True)
    file_size = models.BigIntegerField()
    file_md5 = models.CharField(max_length=32)
    transfer_syntax_uid = models.CharField(max_length=128, blank=True)
    sop_class_uid = models.CharField(max_length=128, blank=True)
    dataset = models.JSONField(default=dict)

    received_at = models.DateTimeField(default=timezone.now)
    origin = models.CharField(max_length=32, default="Unknown")  # RestApi, DicomProtocol, Import
    remote_aet = models.CharField(max_length=64, blank=True)
    called_aet = models.CharField(max_length=64, blank=True)
    remote_ip = models.CharField(max_length=64, blank=True)
    http_username = models.CharField(max_length=150, blank=True)


class Change(models.Model):
    """The change log behind GET /changes; `id` is Orthanc's `Seq`."""

    change_type = models.CharField(max_length=32)
    resource_type = models.CharField(max_length=16)
    # Indexed: deleting a resource deletes its changes.
    public_id = models.CharField(max_length=44, db_index=True)
    date = models.DateTimeField(default=timezone.now)


class RuntimeSetting(models.Model):
    """A setting changed at run time through REST (/tools/default-encoding, …).

    Kept in the database so that every process (web, DICOM, workers) sees it;
    explorer/runtime_settings.py reads it and falls back to the configured value.
    """

    name = models.CharField(max_length=64, primary_key=True)
    value = models.JSONField()


class GlobalSequence(models.Model):
    """A counter shared by every process, as Orthanc's global properties that count
    (AnonymizationSequence: the N of "Anonymized<N>"). Incremented under a row lock."""

    name = models.CharField(max_length=64, primary_key=True)
    value = models.BigIntegerField(default=0)


class Rights(models.Model):
    """No table: the holder of the rights' permissions (explorer/rights.py), which the
    administration pages give to groups and users."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = rights.PERMISSIONS


class AuditEvent(models.Model):
    """One line of the audit trail (explorer/audit.py): who did what, from where, when, and to
    which patient and study. Names and ids are copied as text, not linked: the trail outlives
    the users, resources and modalities it names."""

    time = models.DateTimeField(default=timezone.now, db_index=True)
    action = models.CharField(max_length=32, db_index=True)
    username = models.CharField(max_length=150, blank=True, db_index=True)
    aet = models.CharField(max_length=64, blank=True, db_index=True)  # the calling AE of a DICOM peer
    ip = models.CharField(max_length=64, blank=True)
    detail = models.TextField(blank=True)
    patient_public_id = models.CharField(max_length=44, blank=True, db_index=True)
    patient_id = models.TextField(blank=True)  # the DICOM PatientID
    patient_name = models.TextField(blank=True)
    study_public_id = models.CharField(max_length=44, blank=True, db_index=True)
    study_instance_uid = models.CharField(max_length=128, blank=True)

    class Meta:
        ordering = ["-time", "-id"]

    def __str__(self):
        return f"{self.time:%Y-%m-%d %H:%M:%S} {self.action} {self.username or self.aet}"
