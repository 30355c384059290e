"""What the tests of the HTML pages share: logged-in browsers, the sample studies they
browse, and reading a page's messages and CSRF token.

tests/conftest.py loads the fixtures as a plugin; the functions are imported where used."""

import io
from datetime import date

import pydicom
import pytest
from django.test import Client
from pydicom.uid import generate_uid

from explorer.ingest import Origin, store_instance
from tests.conftest import dicom_bytes, make_dicom, sample_path

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


def sample_with(name, **tags):
    """A sample file (see conftest.sample_path) with new UIDs and `tags` set: the same real
    file stored again as another patient's study."""
    ds = pydicom.dcmread(sample_path(name))
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    for keyword, value in tags.items():
        setattr(ds, keyword, value)
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


@pytest.fixture
def german_names():
    """chrGerm.dcm (Äneas^Rüdiger, ISO_IR 100) and two copies named MÜLLER^JÜRGEN and
    Müller^Jürgen; {patient name: public ids}."""
    names = ("MÜLLER^JÜRGEN", "Müller^Jürgen")
    stored = {
        name: store(sample_with("chrGerm.dcm", PatientName=name, PatientID=f"DE-{n}")).ids
        for n, name in enumerate(names)
    }
    stored["Äneas^Rüdiger"] = store_sample("chrGerm.dcm").ids
    return stored


def store_ct():
    return store_instance(dicom_bytes("CT_small.dcm"), Origin("RestApi")).ids


def messages_of(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


def csrf_token(client, page="/ui/upload"):
    client.get(page)
    return client.cookies["csrftoken"].value
