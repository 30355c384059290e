"""REST /modalities and AE title rules."""

import json

import pytest
from django.core.exceptions import ValidationError

from dicomnet.aet import check_allowed, is_safe
from dicomnet.models import Modality

pytestmark = pytest.mark.django_db


def put(api, name, body):
    return api.put(f"/modalities/{name}", data=json.dumps(body), content_type="application/json")


def test_put_in_the_array_form_and_list(api):
    assert put(api, "sample", ["STORESCP", "127.0.0.1", 2000]).status_code == 200
    assert api.get("/modalities").json() == ["sample"]
    config = api.get("/modalities/sample/configuration").json()
    assert (config["AET"], config["Host"], config["Port"]) == ("STORESCP", "127.0.0.1", 2000)
    assert config["AllowFind"] is True


def test_put_in_the_object_form_updates(api):
    put(api, "sample2", {"AET": "SAMPLE2", "Host": "127.0.0.1", "Port": 2001, "Manufacturer": "GE", "AllowFind": False})
    expanded = api.get("/modalities?expand").json()
    assert expanded["sample2"]["AllowFind"] is False
    assert expanded["sample2"]["Manufacturer"] == "GE"
    put(api, "sample2", {"AET": "SAMPLE2", "Host": "10.0.0.2", "Port": 2002})
    assert Modality.objects.get(name="sample2").host == "10.0.0.2"


def test_show_and_delete(api):
    put(api, "sample", ["STORESCP", "127.0.0.1", 2000])
    assert "echo" in api.get("/modalities/sample").json()
    assert api.delete("/modalities/sample").status_code == 200
    assert api.get("/modalities").json() == []
    assert api.get("/modalities/sample").status_code == 404


@pytest.mark.parametrize(
    "aet, message",
    [("", "blank"), ("A" * 17, "at most 16"), ("BAD\\AET", "backslash"), ("BAD\x01", "control")],
)
def test_forbidden_ae_titles_are_refused_with_a_message(api, aet, message):
    response = put(api, "bad", [aet, "127.0.0.1", 104])
    assert response.status_code == 400
    assert message in response.json()["Details"]
    assert not Modality.objects.exists()


def test_an_unusual_ae_title_is_accepted_with_a_warning(api):
    response = put(api, "odd", ["my pacs", "127.0.0.1", 104])
    assert response.status_code == 200
    assert "outside A-Z" in response["Warning"]


def test_bad_bodies(api):
    assert put(api, "x", ["ONLY", "TWO"]).status_code == 400
    assert put(api, "x", {"AET": "X", "Host": "h", "Port": 1, "Colour": "red"}).status_code == 400
    assert put(api, "x", {"AET": "X", "Host": "h", "Port": 70000}).status_code == 400


def test_aet_rules():
    check_allowed("ORTHANC")
    with pytest.raises(ValidationError):
        check_allowed(" ")
    assert is_safe("CT-01_A")
    assert not is_safe("ct scanner")


def test_the_admin_warns_about_unusual_ae_titles(admin_client):
    response = admin_client.post(
        "/admin/dicomnet/modality/add/",
        {"name": "odd", "aet": "lower case", "host": "h", "port": 104, "manufacturer": "Generic", "timeout": 0},
        follow=True,
    )
    assert response.status_code == 200
    assert b"outside A-Z" in response.content
    assert Modality.objects.filter(name="odd").exists()


def test_an_unknown_manufacturer_is_refused_as_orthanc_refuses_it(api):
    response = put(api, "bad", ["X", "127.0.0.1", 104, "Foo"])
    # Orthanc 1.10.1's answer, word for word but for the Method and Uri it adds.
    assert response.status_code == 400
    body = response.json()
    assert (body["Message"], body["OrthancStatus"], body["Details"]) == (
        "Parameter out of range", 3, 'Unknown modality manufacturer: "Foo"'
    )
    # Names are case-sensitive.
    assert put(api, "bad", {"AET": "X", "Host": "h", "Port": 104, "Manufacturer": "generic"}).status_code == 400
    assert not Modality.objects.exists()


@pytest.mark.parametrize(
    "given, kept",
    [
        ("Generic", "Generic"),
        ("GenericNoWildcardInDates", "GenericNoWildcardInDates"),
        ("GenericNoUniversalWildcard", "GenericNoUniversalWildcard"),
        ("Vitrea", "Vitrea"),
        ("GE", "GE"),
        # Older names Orthanc 1.10.1 still takes, and what it shows for them.
        ("AgfaImpax", "GenericNoWildcardInDates"),
        ("SyngoVia", "GenericNoWildcardInDates"),
        ("EFilm2", "Generic"),
        ("MedInria", "Generic"),
        ("Dcm4Chee", "Generic"),
        ("ClearCanvas", "Generic"),
    ],
)
def test_the_manufacturers_orthanc_knows(api, given, kept):
    assert put(api, "known", ["X", "127.0.0.1", 104, given]).status_code == 200
    assert api.get("/modalities/known/configuration").json()["Manufacturer"] == kept


def test_use_dicom_tls_is_kept_and_shown_as_orthanc_shows_it(api):
    put(api, "plain", ["PLAIN", "127.0.0.1", 104])
    put(api, "secure", {"AET": "SECURE", "Host": "127.0.0.1", "Port": 2762, "UseDicomTls": True})
    expanded = api.get("/modalities?expand").json()
    assert (expanded["plain"]["UseDicomTls"], expanded["secure"]["UseDicomTls"]) == (False, True)
    assert Modality.objects.get(name="secure").use_dicom_tls is True
    # As every field, one left out of a PUT takes its default again.
    put(api, "secure", {"AET": "SECURE", "Host": "127.0.0.1", "Port": 2762})
    assert api.get("/modalities/secure/configuration").json()["UseDicomTls"] is False
    assert put(api, "secure", {"AET": "SECURE", "Host": "h", "Port": 1, "UseDicomTls": "perhaps"}).status_code == 400


def test_the_configuration_files_modalities_may_use_dicom_tls(tmp_path):
    from dicomnet.management.commands.configure import apply
    from explorer.orthanc_config import Configuration

    modalities = {"secure": {"AET": "SECURE", "Host": "10.0.0.7", "Port": 2762, "UseDicomTls": True}}
    apply(Configuration(tmp_path / "orthanc.json", {"DicomModalities": modalities}))
    assert Modality.objects.get(name="secure").use_dicom_tls is True


def test_the_admin_sets_use_dicom_tls(admin_client):
    form = {"name": "secure", "aet": "SECURE", "host": "h", "port": 2762, "manufacturer": "Generic", "timeout": 0}
    response = admin_client.post("/admin/dicomnet/modality/add/", form | {"use_dicom_tls": "on"}, follow=True)
    assert response.status_code == 200
    assert Modality.objects.get(name="secure").use_dicom_tls is True
    assert b"Use DICOM TLS" in admin_client.get("/admin/dicomnet/modality/").content
