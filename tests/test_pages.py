"""The explorer's pages (/ui/…), with Django's test client on real DICOM files, and the
functions of explorer.pages and explorer.forms behind them."""

import re
from datetime import date

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pydicom.uid import generate_uid

from explorer import forms, pages
from explorer.ingest import Origin, store_instance
from explorer.models import Instance, Patient, Series, Study
from tests.conftest import CT_SMALL_IDS, dicom_bytes, make_dicom

pytestmark = pytest.mark.django_db

CT_PATIENT, CT_STUDY, CT_SERIES, CT_INSTANCE = (CT_SMALL_IDS[k] for k in ("patient", "study", "series", "instance"))
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


def csrf_token(html):
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


# ---------------------------------------------------------------- access


def test_anonymous_browsers_are_sent_to_the_login_page(samples):
    anonymous = Client()
    for path in ("/", "/ui/", "/ui/patients", "/ui/studies", f"/ui/studies/{CT_STUDY}", f"/ui/instances/{CT_INSTANCE}"):
        response = anonymous.get(path, HTTP_ACCEPT="text/html")
        assert response.status_code == 302, path
        assert response["Location"].startswith("/login/?next="), path
    assert anonymous.post(f"/ui/series/{CT_SERIES}/delete", HTTP_ACCEPT="text/html").status_code == 302
    assert Series.objects.filter(public_id=CT_SERIES).exists()


def test_the_root_leads_to_the_lookup_page(browser):
    response = browser.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/ui/"


def test_the_top_bar(browser, user):
    html = browser.get("/ui/").content.decode()
    for href in ('href="/ui/"', 'href="/ui/patients"', 'href="/ui/studies"', 'href="/ui/upload"',
                 'href="/ui/query-retrieve"', 'href="/ui/jobs"'):
        assert href in html
    assert "alice" in html and 'action="/logout/"' in html
    assert "/admin/" not in html
    user.is_staff = True
    user.save()
    html = browser.get("/ui/").content.decode()
    assert 'href="/admin/"' in html and 'href="/admin/queues/"' in html


def test_the_login_page_still_works(user):
    client = Client()
    page = client.get("/login/?next=/ui/studies")
    assert page.status_code == 200
    response = client.post("/login/", {"username": "alice", "password": "wonderland", "next": "/ui/studies"})
    assert response.status_code == 302 and response["Location"] == "/ui/studies"


def test_log_out_goes_back_to_the_login_page(browser):
    response = browser.post("/logout/", {"next": "/login/"})
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert browser.get("/ui/", HTTP_ACCEPT="text/html").status_code == 302


# ---------------------------------------------------------------- lookup page


def test_the_lookup_page(browser, samples):
    response = browser.get("/ui/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'action="/ui/studies"' in html
    for label in ("Patient ID", "Patient name", "Accession number", "Study description", "Study date", "Modality"):
        assert f">{label}</" in html
    for preset in ("Any date", "Today", "Yesterday", "Last 7 days", "Last 31 days", "Last 3 months", "Last year"):
        assert f">{preset}</option>" in html
    assert "Pharos is running" in html


def lookup(browser, text):
    return browser.get("/ui/", {"q": text})


@pytest.mark.parametrize(
    "identifier, level, public_id",
    [
        ("1CT1", "patients", CT_PATIENT),
        ("1.3.6.1.4.1.5962.1.2.1.20040119072730.12322", "studies", CT_STUDY),
        ("1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322", "series", CT_SERIES),
        ("1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322", "instances", CT_INSTANCE),
        (CT_STUDY, "studies", CT_STUDY),
        (CT_INSTANCE, "instances", CT_INSTANCE),
        (f"  {CT_SERIES} ", "series", CT_SERIES),
    ],
)
def test_lookup_jumps_to_the_one_resource_an_identifier_names(browser, samples, identifier, level, public_id):
    response = lookup(browser, identifier)
    assert response.status_code == 302
    assert response["Location"] == f"/ui/{level}/{public_id}"


def test_lookup_by_accession_number(browser, brain_study):
    response = lookup(browser, "ACC-42")
    assert response["Location"] == f"/ui/studies/{brain_study['study']}"


def test_lookup_lists_several_matches(browser, samples):
    # A study whose accession number is the CT patient's ID: the identifier names two resources.
    other = store(make_dicom(PatientID="OTHER", AccessionNumber="1CT1", StudyDescription="Shared name")).ids
    response = lookup(browser, "1CT1")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'href="/ui/patients/{CT_PATIENT}"' in html
    assert f'href="/ui/studies/{other[1]}"' in html
    assert [m.level for m in pages.jump_matches("1CT1")] == ["Patient", "Study"]


def test_lookup_of_nothing_says_so(browser, samples):
    response = lookup(browser, "no-such-thing")
    assert response.status_code == 200
    assert "Nothing here is identified by" in response.content.decode()


# ---------------------------------------------------------------- forms


def test_date_presets():
    today = date(2024, 3, 31)
    assert forms.preset_range("today", today) == (today, today)
    assert forms.preset_range("yesterday", today) == (date(2024, 3, 30), date(2024, 3, 30))
    assert forms.preset_range("last7", today) == (date(2024, 3, 25), today)
    assert forms.preset_range("last31", today) == (date(2024, 3, 1), today)
    assert forms.preset_range("last3months", today) == (date(2023, 12, 31), today)
    assert forms.preset_range("lastyear", today) == (date(2023, 3, 31), today)
    assert forms.preset_range("", today) is None
    assert forms.months_before(date(2024, 5, 31), 3) == date(2024, 2, 29)


def test_study_form_builds_a_dicom_query():
    form = forms.StudyFilterForm(
        {"patient_name": "doe jane", "patient_id": "BR*", "study_description": "brain", "modality": "mr",
         "study_date": "last7"},
        today=date(2024, 3, 20),
    )
    assert form.is_valid()
    assert form.dicom_query() == {
        "PatientName": "*doe*jane*",
        "PatientID": "BR*",
        "StudyDescription": "*brain*",
        "StudyDate": "20240314-20240320",
        "ModalitiesInStudy": "MR",
    }
    ranged = forms.StudyFilterForm({"study_date": "range", "date_from": "2024-01-01"})
    assert ranged.is_valid() and ranged.dicom_query() == {"StudyDate": "20240101-"}
    # Days typed while the preset says "any date" still count (the page without JavaScript).
    typed = forms.StudyFilterForm({"date_from": "2024-01-01", "date_to": "2024-01-01"})
    assert typed.is_valid() and typed.dicom_query() == {"StudyDate": "20240101"}
    backwards = forms.StudyFilterForm({"study_date": "range", "date_from": "2024-02-01", "date_to": "2024-01-01"})
    assert not backwards.is_valid()


# ---------------------------------------------------------------- patient list


def test_the_patient_list(browser, samples, brain_study):
    response = browser.get("/ui/patients")
    assert response.status_code == 200
    html = response.content.decode()
    assert "CompressedSamples, CT1" in html
    assert "Doe, Jane" in html
    assert f'href="/ui/patients/{CT_PATIENT}"' in html
    listing = response.context["listing"]
    assert listing.total == 5
    names = [row.name for row in listing.rows]
    assert names == sorted(names)  # by name by default
    jane = next(row for row in listing.rows if row.patient_id == "BRAIN-1")
    assert (jane.birth_date, jane.sex, jane.study_count) == ("2 Apr 1970", "Female", 1)


def test_patients_are_sorted_by_any_column(browser, samples):
    by_id = pages.patient_listing({"sort": "id"})
    assert [row.patient_id for row in by_id.rows] == sorted(row.patient_id for row in by_id.rows)
    reverse = pages.patient_listing({"sort": "-id"})
    assert [row.patient_id for row in reverse.rows] == [row.patient_id for row in by_id.rows][::-1]
    header = next(column for column in by_id.columns if column.key == "id")
    assert header.direction == "ascending" and header.url == "?sort=-id"
    assert pages.patient_listing({"sort": "nonsense"}).sort == "name"


def test_patients_are_filtered(browser, samples, brain_study):
    def ids(**params):
        return [row.patient_id for row in pages.patient_listing(params).rows]

    assert ids(patient_name="compressed") == ["1CT1", "4MR1"]
    assert ids(patient_name="Compressed*CT?") == ["1CT1"]
    assert ids(patient_name="jane doe") == []  # the parts keep their order
    assert ids(patient_name="doe jane") == ["BRAIN-1"]
    assert ids(patient_id="4mr1") == ["4MR1"]
    assert ids(patient_id="4MR") == []  # IDs are exact…
    assert ids(patient_id="4M*") == ["4MR1"]  # …unless a wildcard says otherwise
    assert ids(birth_date="1970-04-02") == ["BRAIN-1"]
    html = browser.get("/ui/patients", {"patient_name": "doe"}).content.decode()
    assert "1 patient match the filters" in html or "1 patient matches the filters" in html


def test_the_patient_list_is_paged_in_the_database(browser, django_assert_max_num_queries):
    many_studies(60)
    with django_assert_max_num_queries(6):
        first = browser.get("/ui/patients")
    assert len(first.context["listing"].rows) == 50
    second = browser.get("/ui/patients", {"page": 2, "sort": "-name"})
    rows = second.context["listing"].rows
    assert len(rows) == 10
    assert rows[0].patient_id == "P009" and rows[-1].patient_id == "P000"
    html = second.content.decode()
    assert 'href="?page=1&amp;sort=-name"' in html or 'href="?sort=-name&amp;page=1"' in html


# ---------------------------------------------------------------- study list


def test_the_study_list(browser, samples, brain_study):
    response = browser.get("/ui/studies")
    assert response.status_code == 200
    listing = response.context["listing"]
    assert listing.total == 5
    dates = [row.date for row in listing.rows]
    assert dates[0] == "15 Mar 2024"  # newest first
    brain = listing.rows[0]
    assert (brain.description, brain.patient_name, brain.accession_number) == ("Brain MRI", "Doe, Jane", "ACC-42")
    assert (brain.modalities, brain.series_count, brain.instance_count) == (("MR", "SR"), 3, 8)
    assert brain.time == "10:15"
    html = response.content.decode()
    assert f'href="/ui/studies/{brain_study["study"]}"' in html
    assert f'href="/ui/patients/{brain_study["patient"]}"' in html


def test_studies_are_filtered(browser, samples, brain_study):
    def descriptions(**params):
        listing = pages.study_listing(params, today=date(2024, 3, 20))
        return sorted(row.description or row.patient_id for row in listing.rows)

    assert descriptions(accession_number="ACC-42") == ["Brain MRI"]
    assert descriptions(accession_number="acc*") == ["Brain MRI"]
    assert descriptions(study_description="brain") == ["Brain MRI"]
    assert descriptions(modality="sr") == ["Brain MRI"]
    assert descriptions(modality="CT") == ["e+1"]
    assert descriptions(patient_name="samples") == ["4MR1", "e+1"]
    assert descriptions(patient_id="id00001") == ["id00001"]
    assert descriptions(study_date="last7") == ["Brain MRI"]
    assert descriptions(study_date="yesterday") == []
    assert descriptions(study_date="range", date_from="2003-01-01", date_to="2004-01-31") == ["e+1", "id00001"]
    assert descriptions(study_date="range", date_to="2001-01-01") == [""]  # emri_small, whose IDs are empty


def test_invalid_filters_show_the_form_again(browser, samples):
    response = browser.get("/ui/studies", {"study_date": "range", "date_from": "2024-02-01", "date_to": "2024-01-01"})
    assert response.status_code == 200
    assert response.context["listing"].rows == []
    assert "comes after the last one" in response.content.decode()


def test_studies_are_sorted(browser, samples, brain_study):
    def order(sort):
        return [row.patient_id for row in pages.study_listing({"sort": sort}).rows]

    assert order("date") == ["", "id00001", "1CT1", "4MR1", "BRAIN-1"]
    assert order("-date") == order("date")[::-1]
    assert order("patientid") == sorted(order("patientid"))
    assert order("accession")[-1] == "BRAIN-1"


def test_the_study_list_is_paged_with_few_queries(browser, django_assert_max_num_queries):
    many_studies(60)
    # Session, user, count, page, counts of the page: whatever the number of studies.
    with django_assert_max_num_queries(6):
        response = browser.get("/ui/studies", {"modality": "CT", "sort": "-date"})
    listing = response.context["listing"]
    assert listing.total == 60 and len(listing.rows) == 50
    assert listing.rows[0].description == "Study 059"
    assert all(row.modalities == ("CT", "PT") and row.series_count == 2 for row in listing.rows)
    with django_assert_max_num_queries(6):
        last = browser.get("/ui/studies", {"page": "2", "modality": "CT", "sort": "-date"})
    assert [row.description for row in last.context["listing"].rows][-1] == "Study 000"
    html = last.content.decode()
    assert 'rel="prev"' in html and 'rel="next"' not in html


def test_a_page_number_out_of_range_shows_the_last_page(browser):
    many_studies(3)
    assert len(browser.get("/ui/studies", {"page": "99"}).context["listing"].rows) == 3


# ---------------------------------------------------------------- resource pages


def test_the_patient_page(browser, samples, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        response = browser.get(f"/ui/patients/{CT_PATIENT}")
    assert response.status_code == 200
    html = response.content.decode()
    page = response.context["page"]
    assert [crumb.level for crumb in page.breadcrumbs] == ["Patient"]
    fields = {f.label: f.value for f in page.modules[0].fields}
    assert fields["Patient Name"] == "CompressedSamples, CT1"
    assert fields["Patient ID"] == "1CT1"
    assert fields["Patient Sex"] == "Other"
    assert [s.description for s in response.context["studies"]] == ["e+1"]
    assert f'href="/patients/{CT_PATIENT}/archive"' in html
    assert f'href="/ui/patients/{CT_PATIENT}/delete"' in html
    # The place where "Send to modality" will go: an include every resource page renders.
    assert "explorer/_send_action.html" in [t.name for t in response.templates]


def test_the_study_page(browser, brain_study, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        response = browser.get(f"/ui/studies/{brain_study['study']}")
    assert response.status_code == 200
    page = response.context["page"]
    assert [crumb.label for crumb in page.breadcrumbs] == ["Doe, Jane", "Brain MRI"]
    assert [m.level for m in page.modules] == ["Patient", "Study"]
    study_fields = {f.label: f.value for f in page.modules[1].fields}
    assert study_fields["Study Date"] == "15 Mar 2024"
    assert study_fields["Study Time"] == "10:15:00"
    rows = response.context["series_rows"]
    assert [(r.number, r.modality, r.description, r.instance_count) for r in rows] == [
        ("1", "MR", "Localizer", 1),
        ("2", "SR", "Report", 2),
        ("3", "MR", "T2 axial", 5),
    ]
    # The thumbnail is the middle instance: number 3 of 5, number 1 of 2.
    t2 = Instance.objects.get(series__public_id=brain_study["series"][3], index_in_series=3)
    report = Instance.objects.get(series__public_id=brain_study["series"][2], index_in_series=1)
    assert t2.public_id in rows[2].thumbnail_url and report.public_id in rows[1].thumbnail_url
    html = response.content.decode()
    assert html.count('loading="lazy"') == 3
    assert f'href="/studies/{brain_study["study"]}/archive"' in html


def test_the_series_page(browser, brain_study, django_assert_max_num_queries):
    series_id = brain_study["series"][3]
    with django_assert_max_num_queries(6):
        response = browser.get(f"/ui/series/{series_id}")
    assert response.status_code == 200
    instances = response.context["instances"]
    assert [row.number for row in instances] == ["1", "2", "3", "4", "5"]
    assert response.context["start"] == 2
    page = response.context["page"]
    assert [crumb.level for crumb in page.breadcrumbs] == ["Patient", "Study", "Series"]
    series_fields = {f.label: f.value for f in page.modules[2].fields}
    assert series_fields["Status"] == "Unknown" and series_fields["Instances"] == "5"
    html = response.content.decode()
    assert 'id="series-previews"' in html and 'type="range"' in html
    assert f'src="/instances/{instances[2].public_id}/preview?returnUnsupportedImage"' in html


def test_the_instance_page(browser, samples, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        response = browser.get(f"/ui/instances/{CT_INSTANCE}")
    assert response.status_code == 200
    html = response.content.decode()
    assert [crumb.level for crumb in response.context["page"].breadcrumbs] == ["Patient", "Study", "Series", "Instance"]
    assert f'src="/instances/{CT_INSTANCE}/preview?returnUnsupportedImage"' in html
    assert f'href="/instances/{CT_INSTANCE}/file"' in html
    assert "data-cine" not in html  # a single frame
    assert "OtherPatientIDsSequence" in html and "<details>" in html
    assert "is-private" in html
    file_fields = {f.label: f.value for f in response.context["page"].modules[-1].fields}
    assert file_fields["Transfer Syntax"] == "Explicit VR Little Endian"
    assert file_fields["SOP Class"] == "CT Image Storage"
    assert '/archive"' not in html  # no ZIP for one instance


def test_a_multi_frame_instance_gets_a_frame_slider(browser, samples):
    instance_id = samples["emri_small.dcm"][3]
    html = browser.get(f"/ui/instances/{instance_id}").content.decode()
    assert 'data-frame-count="10"' in html
    assert f'data-frame-url="/instances/{instance_id}/frames/{{n}}/preview?returnUnsupportedImage"' in html
    assert "data-cine-play" in html
    assert browser.get(f"/instances/{instance_id}/frames/9/preview?returnUnsupportedImage").status_code == 200


def test_an_instance_without_pixels_shows_the_placeholder(browser, samples):
    instance_id = samples["rtplan.dcm"][3]
    response = browser.get(f"/ui/instances/{instance_id}")
    assert response.status_code == 200
    assert "BeamSequence" in response.content.decode()
    preview = browser.get(f"/instances/{instance_id}/preview?returnUnsupportedImage")
    assert preview.status_code == 200 and preview["Content-Type"] == "image/png"


def test_every_sample_renders_on_every_level(browser, samples):
    for patient, study, series, instance in samples.values():
        for path in (
            f"/ui/patients/{patient}",
            f"/ui/studies/{study}",
            f"/ui/series/{series}",
            f"/ui/instances/{instance}",
        ):
            assert browser.get(path).status_code == 200, path


def test_unknown_resources_are_a_404_page(browser):
    for path in (
        "/ui/patients/nope",
        "/ui/studies/nope",
        "/ui/series/nope",
        "/ui/instances/nope",
        "/ui/series/nope/delete",
    ):
        response = browser.get(path)
        assert response.status_code == 404
        assert b"It may have been deleted" in response.content


# ---------------------------------------------------------------- the tag tree


def node(nodes, name):
    return next(n for n in nodes if n.name == name)


def test_the_tag_tree_of_ct_small(samples):
    dataset = Instance.objects.get(public_id=CT_INSTANCE).dataset
    nodes = pages.tag_nodes(dataset)
    name = node(nodes, "PatientName")
    assert (name.tag, name.vr, name.value, name.kind) == ("0010,0010", "PN", "CompressedSamples^CT1", "text")
    sequence = node(nodes, "OtherPatientIDsSequence")
    assert sequence.kind == "sequence" and sequence.vr == "SQ"
    assert len(sequence.items) == 2 and sequence.value == "2 items"
    assert node(sequence.items[0], "PatientID").value
    pixels = node(nodes, "PixelData")
    assert pixels.kind == "binary" and pixels.link == f"/instances/{CT_INSTANCE}/content/7fe0-0010"
    private = [n for n in nodes if n.private]
    assert private and all(int(n.tag[:4], 16) % 2 for n in private)
    assert any(n.creator == "GEMS_IDEN_01" for n in private)


def test_long_values_are_shortened():
    result = store(make_dicom(ImageComments="x" * 400))
    nodes = pages.tag_nodes(Instance.objects.get(public_id=result.ids[3]).dataset)
    comments = node(nodes, "ImageComments")
    assert comments.kind == "long"
    assert comments.value.startswith("x" * pages.SHORTENED_LENGTH + "…")
    assert comments.value.endswith("(400 characters)")


def test_sequences_nest_in_rtplan(samples):
    nodes = pages.tag_nodes(Instance.objects.get(public_id=samples["rtplan.dcm"][3]).dataset)
    beams = node(nodes, "BeamSequence")
    control_points = node(beams.items[0], "ControlPointSequence")
    assert control_points.items and node(control_points.items[0], "ControlPointIndex").value == "0"


# ---------------------------------------------------------------- formatting


def test_formatting():
    assert pages.format_date("20040119") == "19 Jan 2004"
    assert pages.format_date("2004") == "2004"
    assert pages.format_time("072730.123") == "07:27:30"
    assert pages.format_time("07:27") == "07:27"
    assert pages.person_name("DOE^JOHN^^DR") == "DOE, JOHN DR"
    assert pages.person_name("Yamada^Tarou=山田^太郎") == "Yamada, Tarou = 山田, 太郎"
    assert pages.person_name("SMITH") == "SMITH"
    assert pages.readable_label("PatientBirthDate") == "Patient Birth Date"
    assert pages.readable_label("OperatorsName") == "Operators Name"


# ---------------------------------------------------------------- deletion


def csrf_client(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def test_deleting_a_series_asks_first_then_goes_to_its_study(user, brain_study):
    client = csrf_client(user)
    series_id = brain_study["series"][2]
    confirmation = client.get(f"/ui/series/{series_id}/delete")
    assert confirmation.status_code == 200
    html = confirmation.content.decode()
    assert "Delete this series?" in html and "2 instances" in html
    assert client.post(f"/ui/series/{series_id}/delete").status_code == 403  # no token
    assert Series.objects.filter(public_id=series_id).exists()
    response = client.post(f"/ui/series/{series_id}/delete", {"csrfmiddlewaretoken": csrf_token(html)})
    assert response.status_code == 302
    assert response["Location"] == f"/ui/studies/{brain_study['study']}"
    assert not Series.objects.filter(public_id=series_id).exists()
    assert Series.objects.filter(study__public_id=brain_study["study"]).count() == 2
    followed = client.get(response["Location"])
    assert "was deleted" in followed.content.decode()


def test_deleting_the_last_instance_climbs_to_what_remains(user, samples):
    client = csrf_client(user)
    html = client.get(f"/ui/instances/{CT_INSTANCE}").content.decode()
    assert 'id="delete-dialog"' in html  # the in-page confirmation posts the same form
    response = client.post(f"/ui/instances/{CT_INSTANCE}/delete", {"csrfmiddlewaretoken": csrf_token(html)})
    # The instance was its patient's only one: patient, study and series went with it.
    assert response["Location"] == "/ui/patients"
    assert not Patient.objects.filter(public_id=CT_PATIENT).exists()
    assert not Study.objects.filter(public_id=CT_STUDY).exists()


def test_deleting_a_patient(user, samples):
    client = csrf_client(user)
    patient_id = samples["MR_small.dcm"][0]
    html = client.get(f"/ui/patients/{patient_id}/delete").content.decode()
    assert "1 study" in html
    response = client.post(f"/ui/patients/{patient_id}/delete", {"csrfmiddlewaretoken": csrf_token(html)})
    assert response["Location"] == "/ui/patients"
    assert Patient.objects.count() == 3


def test_a_delete_needs_a_post(browser, samples):
    assert browser.delete(f"/ui/series/{CT_SERIES}/delete").status_code == 405
    assert Series.objects.filter(public_id=CT_SERIES).exists()


def test_page_queries_do_not_grow_with_the_rows(browser, brain_study):
    def queries(path):
        with CaptureQueriesContext(connection) as captured:
            assert browser.get(path).status_code == 200
        return len(captured)

    before = queries(f"/ui/studies/{brain_study['study']}"), queries(f"/ui/series/{brain_study['series'][3]}")
    for n in range(6, 16):
        series_uid = generate_uid()
        for i in (1, 2):
            store(
                make_dicom(
                    PatientID="BRAIN-1",
                    PatientName="Doe^Jane",
                    StudyInstanceUID=brain_study["study_uid"],
                    SeriesInstanceUID=series_uid,
                    SeriesNumber=str(n),
                    InstanceNumber=str(i),
                )
            )
    after = queries(f"/ui/studies/{brain_study['study']}"), queries(f"/ui/series/{brain_study['series'][3]}")
    assert before == after
