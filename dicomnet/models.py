"""Remote DICOM modalities: who may query and retrieve, and where C-MOVE sends."""

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

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

    class Meta:
        verbose_name_plural = "modalities"
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.aet}@{self.host}:{self.port})"

    def allows(self, operation):
        return getattr(self, f"allow_{operation}")
