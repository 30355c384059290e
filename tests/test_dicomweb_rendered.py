"""Rendered images and thumbnails (explorer/dicomweb/rendered.py) at study, series, instance and
frame level: types by Accept, viewport, window and quality, the instance that shows a series or
a study, and the same pixels as a real Orthanc 1.10.1 draws with the same window."""

import io

import numpy as np
import pydicom
import pytest
from PIL import Image

from explorer import previews
from tests.conftest import CT_SMALL, dicom_bytes, make_image, sample_path, upload
from tests.reference_orthanc import ReferenceOrthanc
from tests.test_api_instances import encapsulated_pdf

pytestmark = pytest.mark.django_db


def path_of(data, level="instance"):
    """The DICOMweb path of a file's study, series or instance."""
    dataset = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    path = f"/dicom-web/studies/{dataset.StudyInstanceUID}"
    if level in ("series", "instance"):
        path += f"/series/{dataset.SeriesInstanceUID}"
    if level == "instance":
        path += f"/instances/{dataset.SOPInstanceUID}"
    return path


def stored(api, data):
    assert upload(api, data).status_code == 200
    return path_of(data)


def picture(response, kind="JPEG"):
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == f"image/{kind.lower()}"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == kind
    return image


def pixels(image):
    return np.asarray(image, dtype=np.int16)


def test_an_instance_is_rendered_as_jpeg_unless_png_is_preferred(api):
    base = stored(api, dicom_bytes(CT_SMALL))
    assert picture(api.get(base + "/rendered")).size == (128, 128)
    assert picture(api.get(base + "/rendered", HTTP_ACCEPT="*/*")).size == (128, 128)
    png = picture(api.get(base + "/rendered", HTTP_ACCEPT="image/png"), "PNG")
    # The same drawing as Pharos's other pictures: the file's window.
    expected = previews.render_frame(pydicom.dcmread(sample_path(CT_SMALL)))
    assert np.array_equal(pixels(png), pixels(expected))
    # A browser's Accept, which Orthanc refuses: image/* takes JPEG.
    browser = "text/html,application/xhtml+xml,image/avif,image/webp,image/*;q=0.8,*/*;q=0.5"
    picture(api.get(base + "/rendered", HTTP_ACCEPT=browser))
    assert picture(api.get(base + "/rendered", HTTP_ACCEPT="image/jpeg;q=0.5, image/png"), "PNG")
    refused = api.get(base + "/rendered", HTTP_ACCEPT="image/gif")
    assert refused.status_code == 406 and "image/gif" in refused.json()["Details"]


def test_viewport_scales_into_a_centred_image_of_its_size(api):
    base = stored(api, dicom_bytes(CT_SMALL))
    image = picture(api.get(base + "/rendered?viewport=64,32", HTTP_ACCEPT="image/png"), "PNG")
    assert image.size == (64, 32)
    columns = pixels(image)
    # A square image in a 64 × 32 viewport: 32 × 32, black bands left and right, as Orthanc draws it.
    assert columns[:, :16].max() == 0 and columns[:, 48:].max() == 0 and columns[:, 16:48].max() > 0
    # A region: its lower right quarter, flipped left to right.
    region = picture(api.get(base + "/rendered?viewport=64,64,64,64,-64,64", HTTP_ACCEPT="image/png"), "PNG")
    whole = pixels(picture(api.get(base + "/rendered", HTTP_ACCEPT="image/png"), "PNG"))
    assert np.abs(pixels(region).astype(int) - whole[64:, 64:][:, ::-1]).mean() < 1
    for bad in ("64", "a,b", "0,64", "64,64,1,2"):
        response = api.get(base + f"/rendered?viewport={bad}")
        assert response.status_code == 400 and "viewport" in response.json()["Details"], bad


def test_window_takes_a_center_a_width_and_a_function(api):
    base = stored(api, dicom_bytes(CT_SMALL))
    dataset = pydicom.dcmread(sample_path(CT_SMALL))
    values = previews.modality_values(dataset, 0, dataset.pixel_array)
    for function, name in (("linear", "LINEAR"), ("linear-exact", "LINEAR_EXACT"), ("sigmoid", "SIGMOID")):
        response = api.get(base + f"/rendered?window=40,400,{function}", HTTP_ACCEPT="image/png")
        expected = np.floor(previews.apply_window(values, 40, 400, name)).astype(np.int16)
        assert np.array_equal(pixels(picture(response, "PNG")), expected), function
    for bad in ("40,400", "40,400,gamma", "x,400,linear", "40,0,linear"):
        response = api.get(base + f"/rendered?window={bad}")
        assert response.status_code == 400 and "window" in response.json()["Details"], bad


def test_quality_is_from_1_to_100(api):
    base = stored(api, dicom_bytes(CT_SMALL))
    low, high = (api.get(base + f"/rendered?quality={q}") for q in (5, 100))
    assert picture(low).size == picture(high).size and len(low.content) < len(high.content)
    for bad in ("0", "101", "high"):
        assert api.get(base + f"/rendered?quality={bad}").status_code == 400


def test_a_series_and_a_study_show_the_middle_of_the_first_series(api):
    study, series = pydicom.uid.generate_uid(), pydicom.uid.generate_uid()
    # Three slices, each of one grey level, stored out of order.
    for number in (3, 1, 2):
        flat = np.full((8, 8), number * 1000, dtype="<u2").tobytes()
        data = make_image(
            8, flat, StudyInstanceUID=study, SeriesInstanceUID=series, InstanceNumber=number, WindowCenter=2000,
            WindowWidth=4000, ImagePositionPatient=[0, 0, number], ImageOrientationPatient=[1, 0, 0, 0, 1, 0],
        )  # fmt: skip
        upload(api, data)
    other = make_image(8, bytes(128), StudyInstanceUID=study, SeriesInstanceUID=pydicom.uid.generate_uid())
    upload(api, other)
    middle = pixels(
        picture(api.get(f"/dicom-web/studies/{study}/series/{series}/rendered", HTTP_ACCEPT="image/png"), "PNG")
    )
    assert set(middle.flatten()) == {int(np.floor((2000 - 1999.5) / 3999 * 255 + 127.5))}
    whole_study = api.get(f"/dicom-web/studies/{study}/rendered", HTTP_ACCEPT="image/png")
    assert np.array_equal(pixels(picture(whole_study, "PNG")), middle)
    assert api.get(f"/dicom-web/studies/{study}/series/1.2.3/rendered").status_code == 404
    assert api.get("/dicom-web/studies/1.2.3/rendered").status_code == 404


def test_frames_are_numbered_from_1(api):
    data = dicom_bytes("emri_small.dcm")
    base = stored(api, data)
    first = pixels(picture(api.get(base + "/frames/1/rendered", HTTP_ACCEPT="image/png"), "PNG"))
    third = pixels(picture(api.get(base + "/frames/3/rendered", HTTP_ACCEPT="image/png"), "PNG"))
    assert np.array_equal(first, pixels(picture(api.get(base + "/rendered", HTTP_ACCEPT="image/png"), "PNG")))
    assert not np.array_equal(first, third)
    for bad in ("0", "11", "1,2", "x"):
        response = api.get(base + f"/frames/{bad}/rendered")
        assert response.status_code == 400, bad


def test_a_thumbnail_fits_128_pixels_unless_a_viewport_is_given(api):
    base = stored(api, dicom_bytes("MR_small.dcm"))  # 64 × 64
    assert picture(api.get(base + "/thumbnail")).size == (128, 128)
    assert picture(api.get(base + "/thumbnail?viewport=32,32")).size == (32, 32)
    series = path_of(dicom_bytes("MR_small.dcm"), "series")
    assert picture(api.get(series + "/thumbnail")).size == (128, 128)
    assert picture(api.get(base + "/frames/1/thumbnail")).size == (128, 128)


def test_what_cannot_be_drawn(api, tmp_path):
    base = stored(api, dicom_bytes("rtplan.dcm"))
    response = api.get(base + "/rendered")
    assert response.status_code == 415 and response.json()["Details"]
    document, data = encapsulated_pdf(tmp_path)
    base = stored(api, data)
    response = api.get(base + "/rendered", HTTP_ACCEPT="application/pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content == document
    assert api.get(base + "/rendered", HTTP_ACCEPT="image/jpeg").status_code == 415


def test_rendering_needs_the_right_to_view(client, user):
    assert client.get("/dicom-web/studies/1.2.3/rendered").status_code == 401


def test_the_same_window_draws_the_same_pixels_as_orthanc(api, tmp_path):
    data = dicom_bytes(CT_SMALL)
    base = stored(api, data)
    with ReferenceOrthanc(tmp_path / "orthanc") as orthanc:
        orthanc.upload(data)
        for query in ("window=40,400,linear", "window=40,400,sigmoid&viewport=64,32"):
            _, headers, body = orthanc.request(f"{base}/rendered?{query}", headers={"Accept": "image/png"})
            theirs = Image.open(io.BytesIO(body))
            ours = picture(api.get(f"{base}/rendered?{query}", HTTP_ACCEPT="image/png"), "PNG")
            assert ours.size == theirs.size and ours.mode == theirs.mode
            # Orthanc rounds where Pharos truncates; both scale by the nearest pixel.
            assert np.abs(pixels(ours) - pixels(theirs)).mean() < 1, query
