"""Remote DICOM modalities: who may query and retrieve, and where C-MOVE sends."""

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from dicomnet.aet import check_allowed


class Modality(models.Model):
    name = models.CharField(
        max_length=64,
        unique=True,
        validators=[RegexValidator(r"^[A-Za-z0-9_.-]+$", "Use letters, digits, '.', '-' and '_'.")],
        help_text="The symbolic name used in URLs, e.g. /modalities/ct-scanner",
    )
    aet = models.CharField("AE title", max_length=16, validators=[check_allowed])
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField(validators=[MinValueValidator(1), MaxValueValidator(65535)])
    manufacturer = models.CharField(max_length=32, default="Generic")
    allow_echo = models.BooleanField(default=True)
    allow_find = models.BooleanField(default=True)
    allow_get = models.BooleanField(default=True)
    allow_move = models.BooleanField(default=True)
    allow_store = models.BooleanField(default=True)
    allow_transcoding = models.BooleanField(default=True)
    local_aet = models.CharField("Local AE title", max_length=16, blank=True)
    timeout = models.PositiveIntegerField(default=0, help_text="Seconds; 0 uses the server's default")
    use_dicom_tls = models.BooleanField(
        "Use DICOM TLS",
        default=False,
        help_text="Associations to this modality use TLS, with our certificate and the trusted ones "
        "(PHAROS_DICOM_TLS_*)",
    )

    class Meta:
        verbose_name_plural = "modalities"
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.aet}@{self.host}:{self.port})"

    def allows(self, operation):
        return getattr(self, f"allow_{operation}")


NAME_VALIDATOR = RegexValidator(r"^[A-Za-z0-9_.-]+$", "Use letters, digits, '.', '-' and '_'.")


class HttpRemote(models.Model):
    """A server Pharos talks to over HTTP(S): its URL, the user it logs in as, and headers it
    adds to every request (a token, a tenant). The password is kept to log in with and never
    shown by the REST API."""

    name = models.CharField(max_length=64, unique=True, validators=[NAME_VALIDATOR])
    # Any http(s) URL, as Orthanc takes it: Django's URL validator refuses hosts without a dot,
    # such as a container's name (http://orthanc-b:8042/). Checked by the REST API, the
    # configuration file and the admin form alike.
    url = models.CharField("URL", max_length=500, help_text="The server's root, e.g. https://pacs.example.org/")
    username = models.CharField(max_length=150, blank=True)
    password = models.CharField(max_length=500, blank=True)
    http_headers = models.JSONField("HTTP headers", default=dict, blank=True)
    timeout = models.PositiveIntegerField(default=0, help_text="Seconds; 0 uses the server's default")

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.url})"


class DicomWebServer(HttpRemote):
    """A remote DICOMweb server (Orthanc's DicomWeb.Servers, /dicom-web/servers/{name})."""

    has_delete = models.BooleanField(default=False, help_text="The server accepts DELETE on its resources")
    chunked_transfers = models.BooleanField(default=True, help_text="STOW-RS bodies may be sent chunked")

    class Meta(HttpRemote.Meta):
        verbose_name = "DICOMweb server"


class OrthancPeer(HttpRemote):
    """Another Orthanc (or Pharos) driven through its REST API (Orthanc's OrthancPeers, /peers/{name}),
    with Orthanc's other settings of a peer: a client certificate for HTTPS, and the properties
    a plugin may read (any other key of the peer's JSON). The key's password is never shown."""

    certificate_file = models.CharField(
        max_length=500, blank=True, help_text="PEM client certificate presented over HTTPS (CertificateFile)"
    )
    certificate_key_file = models.CharField(
        max_length=500, blank=True, help_text="Its PEM private key, when not in the same file (CertificateKeyFile)"
    )
    certificate_key_password = models.CharField(max_length=500, blank=True)
    pkcs11 = models.BooleanField("PKCS#11", default=False, help_text="Not supported by Pharos: kept as given")
    user_properties = models.JSONField(default=dict, blank=True)

    class Meta(HttpRemote.Meta):
        verbose_name = "Orthanc peer"


class Job(models.Model):
    """A long operation run by a worker, with Orthanc's states and fields (GET /jobs/{id})."""

    PENDING, RUNNING, SUCCESS, FAILURE, PAUSED, RETRY = "Pending", "Running", "Success", "Failure", "Paused", "Retry"
    STATES = [(s, s) for s in (PENDING, RUNNING, SUCCESS, FAILURE, PAUSED, RETRY)]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=32)
    state = models.CharField(max_length=16, choices=STATES, default=PENDING, db_index=True)
    priority = models.IntegerField(default=0)
    progress = models.PositiveSmallIntegerField(default=0)
    parameters = models.JSONField(default=dict)
    content = models.JSONField(default=dict)
    error_code = models.IntegerField(default=0)
    error_description = models.CharField(max_length=128, default="Success")
    error_details = models.TextField(blank=True)
    # What a user asked of a running job: the job itself acts on it at its next step.
    requested = models.CharField(max_length=16, blank=True)
    created = models.DateTimeField(default=timezone.now)
    started = models.DateTimeField(null=True)
    completed = models.DateTimeField(null=True)
    heartbeat = models.DateTimeField(null=True)
    runtime = models.FloatField(default=0)

    class Meta:
        ordering = ["created"]

    def __str__(self):
        return f"{self.type} {self.id} ({self.state})"


class RemoteQuery(models.Model):
    """A C-FIND sent to a modality and its answers (Orthanc's /queries/{id})."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    modality = models.CharField(max_length=64)
    level = models.CharField(max_length=16)
    query = models.JSONField(default=dict)
    dropped_keys = models.JSONField(default=list)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created"]
        verbose_name_plural = "remote queries"


class RemoteAnswer(models.Model):
    query = models.ForeignKey(RemoteQuery, on_delete=models.CASCADE, related_name="answers")
    position = models.PositiveIntegerField()
    content = models.JSONField()  # DICOM JSON

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["query", "position"], name="one_answer_per_position")]


class Export(models.Model):
    """One resource sent to a modality, as Orthanc's export log (GET /exports) records it
    when LogExportedResources is on; `id` is Orthanc's `Seq`."""

    resource_type = models.CharField(max_length=16)
    public_id = models.CharField(max_length=44)
    remote_modality = models.CharField(max_length=64)
    patient_id = models.TextField(blank=True)
    study_instance_uid = models.CharField(max_length=128, blank=True)
    series_instance_uid = models.CharField(max_length=128, blank=True)
    sop_instance_uid = models.CharField(max_length=128, blank=True)
    date = models.DateTimeField(default=timezone.now)
    # The send that logged it: a job paused and resumed, or resubmitted, logs once.
    job = models.UUIDField(null=True, db_index=True)

    class Meta:
        ordering = ["id"]
