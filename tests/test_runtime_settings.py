"""Runtime settings: the configured value until one is stored, then the stored one everywhere."""

import pytest

from explorer import runtime_settings
from explorer.models import RuntimeSetting


@pytest.mark.django_db
def test_configured_value_until_changed(settings):
    settings.PHAROS_DEFAULT_ENCODING = "Utf8"
    assert runtime_settings.current("DefaultEncoding") == "Utf8"
    runtime_settings.change("DefaultEncoding", "Latin1")
    assert runtime_settings.current("DefaultEncoding") == "Latin1"
    assert RuntimeSetting.objects.get(name="DefaultEncoding").value == "Latin1"


@pytest.mark.django_db
def test_another_process_change_is_seen_once_the_copy_is_old():
    assert runtime_settings.current("UnknownSopClassAccepted") is False
    # Another process writes the row; this one reads it when its copy expires.
    RuntimeSetting.objects.create(name="UnknownSopClassAccepted", value=True)
    runtime_settings.forget()
    assert runtime_settings.current("UnknownSopClassAccepted") is True


def test_unknown_name_is_refused():
    with pytest.raises(KeyError):
        runtime_settings.current("NoSuchOption")


@pytest.mark.django_db
def test_configure_at_start_goes_back_to_the_configured_values(settings):
    from django.core.management import call_command

    settings.PHAROS_DEFAULT_ENCODING = "Latin1"
    runtime_settings.change("DefaultEncoding", "Utf8")
    call_command("configure")
    assert runtime_settings.current("DefaultEncoding") == "Latin1"
    assert not RuntimeSetting.objects.exists()
