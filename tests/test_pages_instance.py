"""An instance's page (explorer.pages.instance): its picture and frames, and its tag tree."""

import pytest

from explorer.models import Instance
from explorer.pages.instance import SHORTENED_LENGTH, tag_nodes
from tests.conftest import CT_SMALL_IDS, make_dicom
from tests.page_helpers import store

pytestmark = pytest.mark.django_db

CT_PATIENT, CT_STUDY, CT_SERIES, CT_INSTANCE = (CT_SMALL_IDS[k] for k in ("patient", "study", "series", "instance"))


def test_the_instance_page(browser, samples, django_assert_max_num_queries):
    # One reads the user's rights (explorer/rights_backend.py); three record the view in the audit
    # trail (its insert, in a savepoint of its own); three read the Send control's destinations,
    # one per kind (modalities, DICOMweb servers, peers).
    with django_assert_max_num_queries(10):
        response = browser.get(f"/ui/instances/{CT_INSTANCE}")
    assert response.status_code == 200
    html = response.content.decode()
    assert [crumb.level for crumb in response.context["page"].breadcrumbs] == ["Patient", "Study", "Series", "Instance"]
    # Scaled down to fit the page (a radiograph's full-size PNG is megabytes), the full size a click away.
    assert f'src="/instances/{CT_INSTANCE}/rendered?max-size=768&amp;smooth&amp;returnUnsupportedImage"' in html
    assert f'href="/instances/{CT_INSTANCE}/rendered?returnUnsupportedImage"' in html
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
    frame_url = f"/instances/{instance_id}/frames/{{n}}/rendered?max-size=768&amp;smooth&amp;returnUnsupportedImage"
    assert f'data-frame-url="{frame_url}"' in html
    assert f'data-full-size-url="/instances/{instance_id}/frames/{{n}}/rendered?returnUnsupportedImage"' in html
    assert "data-cine-play" in html
    assert browser.get(f"/instances/{instance_id}/frames/9/preview?returnUnsupportedImage").status_code == 200


def test_an_instance_without_pixels_shows_the_placeholder(browser, samples):
    instance_id = samples["rtplan.dcm"][3]
    response = browser.get(f"/ui/instances/{instance_id}")
    assert response.status_code == 200
    assert "BeamSequence" in response.content.decode()
    preview = browser.get(f"/instances/{instance_id}/preview?returnUnsupportedImage")
    assert preview.status_code == 200 and preview["Content-Type"] == "image/png"


# ---------------------------------------------------------------- the tag tree


def node(nodes, name):
    return next(n for n in nodes if n.name == name)


def test_the_tag_tree_of_ct_small(samples):
    dataset = Instance.objects.get(public_id=CT_INSTANCE).dataset
    nodes = tag_nodes(dataset)
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
    nodes = tag_nodes(Instance.objects.get(public_id=result.ids[3]).dataset)
    comments = node(nodes, "ImageComments")
    assert comments.kind == "long"
    assert comments.value.startswith("x" * SHORTENED_LENGTH + "…")
    assert comments.value.endswith("(400 characters)")


def test_sequences_nest_in_rtplan(samples):
    nodes = tag_nodes(Instance.objects.get(public_id=samples["rtplan.dcm"][3]).dataset)
    beams = node(nodes, "BeamSequence")
    control_points = node(beams.items[0], "ControlPointSequence")
    assert control_points.items and node(control_points.items[0], "ControlPointIndex").value == "0"


def test_an_encapsulated_pdf_opens_from_its_page(browser, tmp_path):
    from tests.test_api_instances import encapsulated_pdf

    pdf, dicom = encapsulated_pdf(tmp_path)
    instance_id = store(dicom).ids[3]
    html = browser.get(f"/ui/instances/{instance_id}").content.decode()
    assert f'href="/instances/{instance_id}/pdf"' in html and "Open the PDF" in html
    assert f'<object class="viewer-document" data="/instances/{instance_id}/pdf"' in html
    assert "data-preview" not in html  # no picture to draw
    response = browser.get(f"/instances/{instance_id}/pdf")
    assert (response["Content-Type"], response.content) == ("application/pdf", pdf)
    assert response["X-Frame-Options"] == "SAMEORIGIN"  # the page may show it


def test_an_image_has_no_pdf_button(browser, samples):
    html = browser.get(f"/ui/instances/{CT_INSTANCE}").content.decode()
    assert "Open the PDF" not in html


# ---------------------------------------------------------------- window presets, neighbours


def test_a_window_preset_draws_the_preview_and_its_full_size(browser, samples):
    html = browser.get(f"/ui/instances/{CT_INSTANCE}?window=lung").content.decode()
    window = "window-center=-600&amp;window-width=1500"
    assert (
        f'src="/instances/{CT_INSTANCE}/rendered?max-size=768&amp;smooth&amp;returnUnsupportedImage&amp;{window}"'
        in html
    )
    assert f'href="/instances/{CT_INSTANCE}/rendered?returnUnsupportedImage&amp;{window}"' in html
    assert '<option value="lung" data-query="&amp;window-center=-600&amp;window-width=1500" selected>' in html
    # An unknown preset is the file's window.
    html = browser.get(f"/ui/instances/{CT_INSTANCE}?window=nonsense").content.decode()
    assert '<option value="file" data-query="" selected>' in html


def a_series_of(count, numbers):
    """A series of `count` instances with these instance numbers (None: none), stored in this order."""
    from pydicom.uid import generate_uid

    uids = {"StudyInstanceUID": generate_uid(), "SeriesInstanceUID": generate_uid()}
    return [
        store(make_dicom(**uids, **({"InstanceNumber": str(n)} if n is not None else {}))).ids[3]
        for n in numbers[:count]
    ]


def test_previous_and_next_instance_follow_the_series_order(browser, django_assert_max_num_queries):
    # Stored out of order, one without a number: the series' order is 1, 2, 3, then the unnumbered one.
    three, one, unnumbered, two = a_series_of(4, [3, 1, None, 2])
    with django_assert_max_num_queries(10):  # the neighbours come with the instance, in its query
        response = browser.get(f"/ui/instances/{two}?window=bone")
    steps = response.context["neighbours"]
    assert (steps.position, steps.total) == (2, 4)
    assert steps.previous_url == f"/ui/instances/{one}?window=bone"
    assert steps.next_url == f"/ui/instances/{three}?window=bone"
    html = response.content.decode()
    assert 'rel="prev"' in html and 'rel="next"' in html and "2 of 4 in the series" in html

    first = browser.get(f"/ui/instances/{one}").context["neighbours"]
    assert (first.position, first.previous_url, first.next_url) == (1, "", f"/ui/instances/{two}")
    last = browser.get(f"/ui/instances/{unnumbered}").context["neighbours"]
    assert (last.position, last.previous_url, last.next_url) == (4, f"/ui/instances/{three}", "")


def test_an_instance_alone_in_its_series_has_no_steps(browser, samples):
    html = browser.get(f"/ui/instances/{CT_INSTANCE}").content.decode()
    assert "Previous instance" not in html


def test_the_file_meta_header_has_its_own_section_above_the_data_set(browser, samples):
    response = browser.get(f"/ui/instances/{CT_INSTANCE}")
    html = response.content.decode()
    meta = {node.name: node.value for node in response.context["meta_tags"]}
    assert meta["TransferSyntaxUID"] == "1.2.840.10008.1.2.1"
    assert meta["MediaStorageSOPInstanceUID"] == "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"
    assert "FileMetaInformationVersion" not in meta  # binary: left out, as Orthanc's /header does
    assert all(node.tag.startswith("0002,") for node in response.context["meta_tags"])
    assert not any(node.tag.startswith("0002,") for node in response.context["tags"])
    meta_at, dataset_at = html.index(">File meta header</h3>"), html.index('id="dataset-title"')
    assert (
        meta_at < html.index("MediaStorageSOPClassUID") < dataset_at < html.index("SOPInstanceUID</span>", dataset_at)
    )
    assert "in Explicit VR Little Endian" in html


def test_a_file_meta_header_that_cannot_be_read_leaves_the_data_set_shown(browser, samples):
    from explorer import storage

    instance = Instance.objects.get(public_id=CT_INSTANCE)
    storage.path_for(instance.file_uuid).unlink()
    response = browser.get(f"/ui/instances/{CT_INSTANCE}")
    assert response.status_code == 200 and response.context["meta_tags"] is None
    html = response.content.decode()
    assert "The file meta header cannot be read" in html and "OtherPatientIDsSequence" in html
