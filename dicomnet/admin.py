from django.contrib import admin, messages

from dicomnet.aet import is_safe
from dicomnet.models import Modality

UNSAFE_AET = (
    "The AE title {aet!r} uses characters outside A-Z, 0-9, '-' and '_'. DICOM allows it, "
    "but some devices do not: prefer upper-case letters, digits, '-' and '_'."
)


@admin.register(Modality)
class ModalityAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "aet",
        "host",
        "port",
        "allow_find",
        "allow_move",
        "allow_get",
        "allow_store",
        "use_dicom_tls",
    )
    search_fields = ("name", "aet", "host")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not is_safe(obj.aet):
            messages.warning(request, UNSAFE_AET.format(aet=obj.aet))
