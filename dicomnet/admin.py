from django import forms
from django.contrib import admin, messages

from dicomnet.aet import is_safe
from dicomnet.models import DicomWebServer, Modality, OrthancPeer
from dicomnet.peers import configuration as peers
from explorer.errors import PharosError

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


class HttpRemoteForm(forms.ModelForm):
    """The URL is checked as Orthanc checks it (a container's name, without a dot, is a host);
    the password is typed, never shown back; left empty, the stored one is kept."""

    password = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        help_text="Leave empty to keep the current password",
    )

    def clean_url(self):
        try:
            return peers.url(self.cleaned_data["url"].strip())
        except PharosError as error:
            raise forms.ValidationError(str(error)) from error

    def clean_password(self):
        typed = self.cleaned_data.get("password")
        if not typed and self.instance.pk:
            return self.instance.password
        return typed or ""


class HttpRemoteAdmin(admin.ModelAdmin):
    form = HttpRemoteForm
    list_display = ("name", "url", "username")
    search_fields = ("name", "url")


@admin.register(DicomWebServer)
class DicomWebServerAdmin(HttpRemoteAdmin):
    pass


class OrthancPeerForm(HttpRemoteForm):
    """The key's password, like the password, is typed and never shown back."""

    certificate_key_password = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        help_text="Leave empty to keep the current one",
    )

    def clean_certificate_key_password(self):
        typed = self.cleaned_data.get("certificate_key_password")
        if not typed and self.instance.pk:
            return self.instance.certificate_key_password
        return typed or ""

    def clean(self):
        cleaned = super().clean()
        try:
            peers.check_files(cleaned)
        except PharosError as error:
            raise forms.ValidationError(str(error)) from error
        return cleaned


@admin.register(OrthancPeer)
class OrthancPeerAdmin(HttpRemoteAdmin):
    form = OrthancPeerForm
