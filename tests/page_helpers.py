"""What the tests of the HTML pages share: logged-in browsers, the sample studies they
browse, and reading a page's messages and CSRF token.

tests/conftest.py loads the fixtures as a plugin; the functions are imported where used."""

from datetime import date

import pytest
from django.test import Client
from pydicom.uid import generate_uid

from explorer.ingest import Origin, store_instance
from tests.conftest import dicom_bytes, make_dicom

SAMPLES = ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "emri_small.dcm")


def store(data):
    return store_instance(data, Origin("RestApi", username="alice"))


def store_sample(name):
    return store(dicom_bytes(name))


@pytest.fixture
def browser(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def strict_browser(user):
    """A logged-in browser whose POSTs must carry the CSRF token, as a real one's must."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


@pytest.fixture
def samples():
    """The four sample files, each its own patient; {file name: public ids}."""
    return {name: store_sample(name).ids for name in SAMPLES}


@pytest.fixture
def brain_study():
    """One study of three series (numbered 3, 1, 2 on arrival), 1 to 5 instances each."""
    study_uid = generate_uid()
    series = [(3, "MR", "T2 axial", 5), (1, "MR", "Localizer", 1), (2, "SR", "Report", 2)]
    ids = {}
    for number, modality, description, count in series:
        series_uid = generate_uid()
        for instance_number in range(count, 0, -1):
            result = store(
                make_dicom(
                    PatientID="BRAIN-1",
                    PatientName="Doe^Jane",
                    PatientBirthDate="19700402",
                    PatientSex="F",
                    StudyInstanceUID=study_uid,
                    StudyDescription="Brain MRI",
                    StudyDate="20240315",
                    StudyTime="101500",
                    AccessionNumber="ACC-42",
                    SeriesInstanceUID=series_uid,
                    SeriesNumber=str(number),
                    SeriesDescription=description,
                    Modality=modality,
                    InstanceNumber=str(instance_number),
                )
            )
            ids.setdefault("series", {})[number] = result.ids[2]
        ids.update(patient=result.ids[0], study=result.ids[1], study_uid=study_uid)
    return ids


def many_studies(count):
    """`count` studies of `count` patients, dated one day apart from 2020-01-01 on, two series each."""
    for n in range(count):
        study_uid = generate_uid()
        for modality in ("CT", "PT"):
            store(
                make_dicom(
                    PatientID=f"P{n:03d}",
                    PatientName=f"Patient^Number{n:03d}",
                    PatientBirthDate=f"19{50 + n % 40:02d}0101",
                    StudyInstanceUID=study_uid,
                    StudyDate=date.fromordinal(date(2020, 1, 1).toordinal() + n).strftime("%Y%m%d"),
                    StudyDescription=f"Study {n:03d}",
                    AccessionNumber=f"A{n:03d}",
                    Modality=modality,
                )
            )


def store_ct():
    return store_instance(dicom_bytes("CT_small.dcm"), Origin("RestApi")).ids


def messages_of(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


def csrf_token(client, page="/ui/upload"):
    client.get(page)
    return client.cookies["csrftoken"].value
