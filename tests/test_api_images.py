"""REST picture routes of explorer/api/images.py, answered as Orthanc 1.10.1 answers them given
the same files and requests (the drawing itself is tested in tests/test_previews.py)."""

import io

import pytest
from PIL import Image

from tests.conftest import CT_SMALL, dicom_bytes, upload

pytestmark = pytest.mark.django_db

JPEG_ROUTES = ["preview", "rendered", "frames/0/preview", "frames/0/rendered", "image-uint8"]


@pytest.fixture
def ct(api):
    return upload(api, dicom_bytes(CT_SMALL)).json()["ID"]


def jpeg(response):
    assert response.status_code == 200, response.content[:200]
    assert response["Content-Type"] == "image/jpeg"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "JPEG"
    return response.content


@pytest.mark.parametrize("route", JPEG_ROUTES)
def test_quality_sets_the_jpeg_quality(api, ct, route):
    low = jpeg(api.get(f"/instances/{ct}/{route}?quality=10", HTTP_ACCEPT="image/jpeg"))
    high = jpeg(api.get(f"/instances/{ct}/{route}?quality=100", HTTP_ACCEPT="image/jpeg"))
    default = jpeg(api.get(f"/instances/{ct}/{route}", HTTP_ACCEPT="image/jpeg"))
    assert len(low) < len(default) < len(high)
    assert default == jpeg(api.get(f"/instances/{ct}/{route}?quality=90", HTTP_ACCEPT="image/jpeg"))


def test_quality_is_checked_but_unused_for_a_png(api, ct):
    response = api.get(f"/instances/{ct}/preview?quality=1")
    assert (response.status_code, response["Content-Type"]) == (200, "image/png")


@pytest.mark.parametrize("value", ["0", "101", "abc", "-5", "50.5", ""])
def test_a_bad_quality_is_415_with_an_empty_body(api, ct, value):
    for route in [*JPEG_ROUTES, "image-uint16"]:
        for accept in ("image/jpeg", "image/png"):
            response = api.get(f"/instances/{ct}/{route}?quality={value}", HTTP_ACCEPT=accept)
            assert (response.status_code, response.content) == (415, b""), (route, accept)


def test_image_uint8_of_a_colour_image_is_415_empty(api):
    instance = upload(api, dicom_bytes("SC_rgb_rle.dcm")).json()["ID"]
    for route in ("image-uint8", "frames/0/image-uint8", "image-uint16"):
        response = api.get(f"/instances/{instance}/{route}", HTTP_ACCEPT="image/jpeg")
        assert (response.status_code, response.content) == (415, b""), route
    assert api.get(f"/instances/{instance}/preview").status_code == 200


def test_a_12_bit_jpeg_extended_image_is_shown(api):
    instance = upload(api, dicom_bytes("JPEG-lossy.dcm")).json()["ID"]
    for route in ("preview", "image-uint8", "image-uint16", "rendered?width=64"):
        response = api.get(f"/instances/{instance}/{route}")
        assert (response.status_code, response["Content-Type"]) == (200, "image/png"), route
    assert Image.open(io.BytesIO(api.get(f"/instances/{instance}/preview").content)).size == (256, 1024)


def test_a_bare_data_set_is_shown(api):
    instance = upload(api, dicom_bytes("OT-PAL-8-face.dcm")).json()["ID"]  # no file meta header
    image = Image.open(io.BytesIO(api.get(f"/instances/{instance}/preview").content))
    assert (image.mode, image.size) == ("RGB", (640, 480))


def test_with_return_unsupported_image_both_refusals_draw_the_placeholder(api, ct):
    colour = upload(api, dicom_bytes("SC_rgb_rle.dcm")).json()["ID"]
    for url in (f"/instances/{colour}/image-uint8", f"/instances/{ct}/preview?quality=0"):
        response = api.get(url + ("&" if "?" in url else "?") + "returnUnsupportedImage")
        assert (response.status_code, response["Content-Type"]) == (200, "image/png"), url
