"""Pictures of instances: explorer.previews and the REST routes that serve them.

The reference is DCMTK's dcmj2pnm, a renderer nobody here wrote, asked for the
same window. DCMTK cannot decode JPEG 2000 or JPEG-LS, so a file in those syntaxes
is compared with DCMTK's rendering of its uncompressed twin from pydicom-data.
"""

import io
import subprocess

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ImplicitVRLittleEndian, generate_uid

from explorer import previews
from tests.conftest import dicom_bytes, sample_path, upload
from tests.tools import needs_tool

# Measured: 0 on nearly every file; a few tenths where colour conversion or a
# fractional rescale slope rounds differently.
MAX_MEAN_DIFFERENCE = 1.0

dcmtk_required = needs_tool("dcmj2pnm")


# ---------------------------------------------------------------- helpers


def read(name):
    """A sample file as a data set; files without a meta header get one so they can be decoded."""
    dataset = pydicom.dcmread(sample_path(name), force=True)
    if "TransferSyntaxUID" not in getattr(dataset, "file_meta", {}):
        dataset.file_meta = FileMetaDataset()
        dataset.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    return dataset


def derived_ct(tmp_path, name, **tags):
    """CT_small with some attributes changed, saved as a new instance; returns its path."""
    dataset = pydicom.dcmread(sample_path("CT_small.dcm"))
    dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    for keyword, value in tags.items():
        setattr(dataset, keyword, value)
    path = tmp_path / name
    dataset.save_as(path)
    return str(path)


def windowed_ct(tmp_path):
    # Two windows: the first one is the one to use.
    return derived_ct(tmp_path, "windowed.dcm", WindowCenter=["40", "300"], WindowWidth=["400", "1500"])


def monochrome1_ct(tmp_path):
    return derived_ct(
        tmp_path, "mono1.dcm", PhotometricInterpretation="MONOCHROME1", WindowCenter="60", WindowWidth="500"
    )


def dcmtk_render(path, options, tmp_path, frame=0):
    out = tmp_path / "dcmtk.png"
    subprocess.run(["dcmj2pnm", "--quiet", "+on", "+F", str(frame + 1), *options, path, str(out)], check=True)
    return np.asarray(Image.open(out))


def mean_difference(ours, reference):
    ours, reference = np.asarray(ours, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    assert ours.shape == reference.shape
    return float(np.mean(np.abs(ours - reference)))


def png_image(response):
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG")
    return Image.open(io.BytesIO(response.content))


def stored(api, data):
    response = upload(api, data)
    assert response.status_code == 200, response.content
    return response.json()["ID"]


def stored_sample(api, name):
    return stored(api, dicom_bytes(name))


# ---------------------------------------------------------------- against DCMTK

# (file we render, file DCMTK renders, DCMTK's window option, frame)
REFERENCE_CASES = [
    ("CT_small.dcm", None, ["+Wm"], 0),  # signed, rescaled, no window in the file
    ("MR_small.dcm", None, ["+Wi", "1"], 0),
    ("MR2_J2KR.dcm", "MR2_UNCR.dcm", ["+Wi", "1"], 0),  # JPEG 2000, rescaled, file window
    ("JPEG2000.dcm", "JPEG2000_UNC.dcm", ["+Wm"], 0),  # JPEG 2000, signed
    ("US1_J2KR.dcm", "US1_UNCR.dcm", [], 0),  # JPEG 2000 colour (YBR_RCT)
    ("RG3_J2KI.dcm", "RG3_UNCI.dcm", ["+Wi", "1"], 0),  # a real MONOCHROME1 radiograph
    ("JPEG-LL.dcm", None, ["+Wm"], 0),  # JPEG lossless
    ("JPEG-lossy.dcm", None, ["+Wm"], 0),  # 12-bit JPEG Extended: pydicom's plugins cannot, GDCM can
    ("JPGExtended.dcm", None, ["+Wm"], 0),  # 12-bit JPEG Extended that pylibjpeg decodes
    ("SC_rgb.dcm", None, [], 0),
    ("SC_rgb_rle.dcm", None, [], 0),
    ("SC_rgb_16bit.dcm", None, [], 0),
    ("SC_ybr_full_uncompressed.dcm", None, [], 0),
    ("SC_ybr_full_422_uncompressed.dcm", None, [], 0),
    ("SC_rgb_dcmtk_ebcyn2_dcmd.dcm", None, [], 0),
    ("SC_rgb_jpeg_dcmtk.dcm", None, [], 0),  # JPEG baseline in YBR_FULL
    ("OT-PAL-8-face.dcm", None, [], 0),  # palette with 16-bit entries
    ("emri_small.dcm", None, ["+Wm"], 3),  # multi-frame
    ("emri_small_RLE.dcm", None, ["+Wm"], 7),
    ("emri_small_jpeg_ls_lossless.dcm", "emri_small.dcm", ["+Wm"], 5),  # JPEG-LS
    ("liver.dcm", None, ["+Wm"], 1),  # 1 bit stored, multi-frame
    ("mlut_18.dcm", None, ["+Wm"], 0),  # a Modality LUT instead of a rescale
    ("vlut_04.dcm", None, ["+Wl", "1"], 0),  # a VOI LUT instead of a window
    # Enhanced CT: rescale and window in functional groups. DCMTK 3.6.7 reads the
    # rescale there but not the window, so the file's window is given to it.
    ("eCT_Supplemental.dcm", None, ["+Ww", "49", "102"], 1),
]


@dcmtk_required
@pytest.mark.parametrize("name, twin, options, frame", REFERENCE_CASES, ids=[case[0] for case in REFERENCE_CASES])
def test_render_matches_dcmtk(name, twin, options, frame, tmp_path):
    ours = previews.render_frame(read(name), frame)
    reference = dcmtk_render(sample_path(twin or name), options, tmp_path, frame)
    assert ours.mode == ("L" if reference.ndim == 2 else "RGB")
    assert mean_difference(ours, reference) < MAX_MEAN_DIFFERENCE


@dcmtk_required
def test_the_first_of_several_windows_is_used(tmp_path):
    path = windowed_ct(tmp_path)
    ours = previews.render_frame(pydicom.dcmread(path))
    assert mean_difference(ours, dcmtk_render(path, ["+Wi", "1"], tmp_path)) < MAX_MEAN_DIFFERENCE
    assert mean_difference(ours, dcmtk_render(path, ["+Wi", "2"], tmp_path)) > 10


@dcmtk_required
def test_monochrome1_is_inverted_like_dcmtk(tmp_path):
    path = monochrome1_ct(tmp_path)
    ours = np.asarray(previews.render_frame(pydicom.dcmread(path)))
    assert mean_difference(ours, dcmtk_render(path, ["+Wi", "1"], tmp_path)) < MAX_MEAN_DIFFERENCE
    monochrome2 = derived_ct(tmp_path, "mono2.dcm", WindowCenter="60", WindowWidth="500")
    as_monochrome2 = np.asarray(previews.render_frame(pydicom.dcmread(monochrome2)), dtype=np.int16)
    # The same picture in negative, give or take the truncation to 8 bits.
    assert np.abs(ours - (255 - as_monochrome2)).max() <= 1


@dcmtk_required
def test_explicit_window_matches_dcmtk(tmp_path):
    path = sample_path("CT_small.dcm")
    ours = previews.render_frame(pydicom.dcmread(path), window=(40, 400))
    assert mean_difference(ours, dcmtk_render(path, ["+Ww", "40", "400"], tmp_path)) < MAX_MEAN_DIFFERENCE


# ---------------------------------------------------------------- the functions themselves


def test_frame_count():
    assert previews.frame_count(read("CT_small.dcm")) == 1
    assert previews.frame_count(read("emri_small.dcm")) == 10
    assert previews.frame_count(read("rtplan.dcm")) == 1


def test_frames_of_a_multi_frame_file_differ():
    dataset = read("emri_small.dcm")
    first, fifth = (np.asarray(previews.render_frame(dataset, n)) for n in (0, 5))
    assert first.shape == (64, 64)
    assert not np.array_equal(first, fifth)


def test_a_frame_out_of_range_is_refused():
    with pytest.raises(previews.NoSuchFrame):
        previews.render_frame(read("emri_small.dcm"), 10)


def test_jpeg_ls_decodes_to_the_same_pixels_as_the_uncompressed_file():
    compressed, plain = read("emri_small_jpeg_ls_lossless.dcm"), read("emri_small.dcm")
    for frame in (0, 9):
        assert np.array_equal(np.asarray(previews.image_uint16(compressed, frame)), plain.pixel_array[frame])


def test_no_pixel_data_raises_no_image_with_a_reason():
    with pytest.raises(previews.NoImage) as caught:
        previews.render_frame(read("rtplan.dcm"))
    assert "RT Plan Storage" in caught.value.reason
    assert "no pixel data" in caught.value.reason


def test_a_syntax_without_decoder_raises_no_image():
    dataset = read("SC_rgb_jpeg_dcmtk.dcm")
    dataset.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2: nothing decodes it
    with pytest.raises(previews.NoImage, match="MPEG2"):
        previews.render_frame(dataset)


def test_truncated_pixel_data_raises_no_image():
    dataset = read("CT_small.dcm")
    dataset.PixelData = dataset.PixelData[:100]
    with pytest.raises(previews.NoImage, match="Cannot decode"):
        previews.render_frame(dataset)


def test_image_uint8_clips_stored_values_without_windowing():
    dataset = read("MR_small.dcm")
    ours = np.asarray(previews.image_uint8(dataset))
    assert np.array_equal(ours, np.clip(dataset.pixel_array, 0, 255))


def test_image_uint16_keeps_stored_values_and_clips_negatives():
    dataset = read("JPEG2000.dcm")  # signed, with values below zero
    ours = previews.image_uint16(dataset)
    assert ours.mode == "I;16"
    assert np.array_equal(np.asarray(ours), np.clip(dataset.pixel_array, 0, 65535))


def test_image_uint16_needs_grayscale():
    with pytest.raises(previews.NoImage, match="grayscale"):
        previews.image_uint16(read("SC_rgb.dcm"))


def test_palette_becomes_rgb():
    assert previews.render_frame(read("OT-PAL-8-face.dcm")).mode == "RGB"


def test_png_bytes_sixteen_bit_round_trip():
    image = Image.fromarray(np.array([[0, 300, 65535]], dtype=np.uint16))
    again = Image.open(io.BytesIO(previews.png_bytes(image, sixteen_bit=True)))
    assert again.mode in ("I;16", "I")
    assert np.asarray(again).tolist() == [[0, 300, 65535]]


def test_full_range_maps_the_smallest_value_to_black_and_the_largest_to_white(tmp_path):
    dataset = pydicom.dcmread(windowed_ct(tmp_path))
    values = previews.modality_values(dataset, 0, dataset.pixel_array)
    shown = np.asarray(previews.render_frame(dataset, window=previews.FULL_RANGE))
    assert shown[values == values.min()].max() == 0 and shown[values == values.max()].min() == 255
    # The file's own window (W400 L40) clips much of the range.
    assert not np.array_equal(shown, np.asarray(previews.render_frame(dataset)))


def test_fit_within_can_leave_a_small_image_as_it_is():
    image = Image.new("L", (300, 200))
    assert previews.fit_within(image, 600, 600).size == (600, 400)
    assert previews.fit_within(image, 600, 600, enlarge=False) is image
    assert previews.fit_within(image, 150, 150, enlarge=False).size == (150, 100)


def test_placeholder_is_a_grey_square_with_text():
    image = Image.open(io.BytesIO(previews.placeholder_png("This instance has no pixel data")))
    assert image.size[0] == image.size[1]
    pixels = np.asarray(image.convert("L"))
    assert np.median(pixels) == 128  # mostly grey
    assert (pixels < 60).sum() > 50  # and some dark text


# ---------------------------------------------------------------- REST


@pytest.mark.django_db
class TestRest:
    def test_preview_is_the_rendered_frame_as_png(self, api):
        instance = stored_sample(api, "CT_small.dcm")
        image = png_image(api.get(f"/instances/{instance}/preview"))
        assert image.mode == "L" and image.size == (128, 128)
        assert np.array_equal(np.asarray(image), np.asarray(previews.render_frame(read("CT_small.dcm"))))

    @pytest.mark.parametrize(
        "name, mode, size",
        [
            ("US1_J2KR.dcm", "RGB", (640, 480)),
            ("JPEG-LL.dcm", "L", (256, 1024)),
            ("SC_rgb_rle.dcm", "RGB", (100, 100)),
            ("SC_ybr_full_uncompressed.dcm", "RGB", (100, 100)),
            ("emri_small_jpeg_ls_lossless.dcm", "L", (64, 64)),
            ("examples_palette.dcm", "RGB", (800, 350)),
        ],
    )
    def test_preview_of_various_syntaxes(self, api, name, mode, size):
        image = png_image(api.get(f"/instances/{stored_sample(api, name)}/preview"))
        assert (image.mode, image.size) == (mode, size)

    @dcmtk_required
    def test_monochrome1_preview_through_the_api(self, api, tmp_path):
        path = monochrome1_ct(tmp_path)
        instance = stored(api, open(path, "rb").read())
        image = png_image(api.get(f"/instances/{instance}/preview"))
        assert mean_difference(image, dcmtk_render(path, ["+Wi", "1"], tmp_path)) < MAX_MEAN_DIFFERENCE

    def test_frames_list(self, api):
        assert api.get(f"/instances/{stored_sample(api, 'emri_small.dcm')}/frames").json() == list(range(10))
        assert api.get(f"/instances/{stored_sample(api, 'CT_small.dcm')}/frames").json() == [0]

    def test_frame_preview(self, api):
        instance = stored_sample(api, "emri_small.dcm")
        image = png_image(api.get(f"/instances/{instance}/frames/4/preview"))
        assert np.array_equal(np.asarray(image), np.asarray(previews.render_frame(read("emri_small.dcm"), 4)))

    @pytest.mark.parametrize("frame", ["10", "999", "abc"])
    def test_frame_out_of_range(self, api, frame):
        instance = stored_sample(api, "emri_small.dcm")
        response = api.get(f"/instances/{instance}/frames/{frame}/preview")
        assert response.status_code == 400
        body = response.json()
        assert (body["OrthancStatus"], body["OrthancError"]) == (3, "Parameter out of range")
        assert body["Uri"] == f"/instances/{instance}/frames/{frame}/preview"

    @pytest.mark.parametrize(
        "route", ["preview", "frames", "frames/0/preview", "image-uint8", "image-uint16", "rendered"]
    )
    def test_unknown_instance_is_404_empty(self, api, route):
        response = api.get(f"/instances/00000000-00000000-00000000-00000000-00000000/{route}")
        assert response.status_code == 404
        assert response.content == b""

    @pytest.mark.parametrize("route", ["preview", "frames/0/preview", "image-uint8", "image-uint16", "rendered"])
    def test_no_pixel_data_is_415_with_the_reason(self, api, route):
        instance = stored_sample(api, "rtplan.dcm")
        response = api.get(f"/instances/{instance}/{route}")
        assert response.status_code == 415
        body = response.json()
        assert body["OrthancStatus"] == 23
        assert body["OrthancError"] == "Incompatible format of the images"
        assert body["HttpError"] == "Unsupported Media Type"
        assert "no pixel data" in body["Details"]

    def test_placeholder_with_return_unsupported_image(self, api):
        instance = stored_sample(api, "rtplan.dcm")
        image = png_image(api.get(f"/instances/{instance}/preview?returnUnsupportedImage"))
        assert np.median(np.asarray(image.convert("L"))) == 128

    def test_accept_jpeg(self, api):
        instance = stored_sample(api, "CT_small.dcm")
        response = api.get(f"/instances/{instance}/preview", HTTP_ACCEPT="image/jpeg")
        assert response.status_code == 200
        assert response["Content-Type"] == "image/jpeg"
        assert Image.open(io.BytesIO(response.content)).format == "JPEG"

    @pytest.mark.parametrize(
        "accept",
        ["image/png", "*/*", "image/avif,image/webp,image/apng,image/*,*/*;q=0.8", "image/jpeg;q=0.5, image/png"],
    )
    def test_other_accept_headers_give_png(self, api, accept):
        instance = stored_sample(api, "CT_small.dcm")
        png_image(api.get(f"/instances/{instance}/preview", HTTP_ACCEPT=accept))

    def test_image_uint16_is_a_16_bit_png_of_the_raw_values(self, api):
        instance = stored_sample(api, "emri_small.dcm")
        image = png_image(api.get(f"/instances/{instance}/frames/2/image-uint16"))
        assert image.mode in ("I;16", "I")
        assert np.array_equal(np.asarray(image), read("emri_small.dcm").pixel_array[2])

    def test_image_uint8_clips_the_raw_values(self, api):
        instance = stored_sample(api, "MR_small.dcm")
        image = png_image(api.get(f"/instances/{instance}/image-uint8"))
        assert image.mode == "L"
        assert np.array_equal(np.asarray(image), np.clip(read("MR_small.dcm").pixel_array, 0, 255))

    @pytest.mark.parametrize("route", ["image-uint8", "image-uint16", "frames/0/image-uint8"])
    def test_image_uint8_and_16_of_a_colour_image_are_415_empty_as_orthanc(self, api, route):
        instance = stored_sample(api, "SC_rgb.dcm")
        response = api.get(f"/instances/{instance}/{route}")
        assert (response.status_code, response.content) == (415, b"")

    @dcmtk_required
    def test_rendered_with_a_window_matches_dcmtk(self, api, tmp_path):
        instance = stored_sample(api, "CT_small.dcm")
        image = png_image(api.get(f"/instances/{instance}/frames/0/rendered?window-center=40&window-width=400"))
        reference = dcmtk_render(sample_path("CT_small.dcm"), ["+Ww", "40", "400"], tmp_path)
        assert mean_difference(image, reference) < MAX_MEAN_DIFFERENCE

    def test_rendered_scales_to_fit(self, api):
        instance = stored_sample(api, "JPEG-LL.dcm")  # 256 × 1024
        assert png_image(api.get(f"/instances/{instance}/rendered?height=256&smooth")).size == (64, 256)
        assert png_image(api.get(f"/instances/{instance}/rendered?width=128&height=128")).size == (32, 128)

    def test_rendered_max_size_scales_a_large_radiograph_down_never_up(self, api):
        # The explorer's previews: a 1841 × 1955 CR sends 1.5 MB as a full-size PNG.
        large = stored_sample(api, "RG1_UNCR.dcm")
        full = api.get(f"/instances/{large}/rendered")
        response = api.get(f"/instances/{large}/rendered?max-size=768&smooth")
        assert png_image(response).size == (723, 768)
        assert len(response.content) < len(full.content) / 4 and len(response.content) < 400_000
        small = stored_sample(api, "CT_small.dcm")  # 128 × 128: left as it is
        assert png_image(api.get(f"/instances/{small}/rendered?max-size=768&smooth")).size == (128, 128)
        assert png_image(api.get(f"/instances/{small}/rendered?max-size=64")).size == (64, 64)

    def test_rendered_full_range_spreads_the_values_from_black_to_white(self, api, tmp_path):
        with open(windowed_ct(tmp_path), "rb") as file:
            instance = stored(api, file.read())
        full_range = np.asarray(png_image(api.get(f"/instances/{instance}/rendered?full-range")))
        assert (full_range.min(), full_range.max()) == (0, 255)
        # It wins over a window given beside it, and differs from the file's window.
        beside = png_image(api.get(f"/instances/{instance}/rendered?full-range&window-center=40&window-width=80"))
        assert np.array_equal(np.asarray(beside), full_range)
        assert not np.array_equal(np.asarray(png_image(api.get(f"/instances/{instance}/rendered"))), full_range)

    @pytest.mark.parametrize("query", ["window-center=abc", "window-width=0", "width=-1", "max-size=0"])
    def test_rendered_refuses_bad_arguments(self, api, query):
        instance = stored_sample(api, "CT_small.dcm")
        response = api.get(f"/instances/{instance}/rendered?{query}")
        assert response.status_code == 400
        assert response.json()["OrthancStatus"] in (3, 8)


def test_previews_are_drawn_once_then_kept(api, monkeypatch):
    from explorer import previews as drawing

    answer = upload(api, dicom_bytes("CT_small.dcm")).json()
    url = f"/instances/{answer['ID']}/rendered?height=64"
    first = api.get(url)
    monkeypatch.setattr(drawing, "render_frame", lambda *a, **k: (_ for _ in ()).throw(AssertionError("drawn again")))
    second = api.get(url)
    assert second.status_code == 200 and second.content == first.content


# ---------------------------------------------------------------- GDCM and odd headers


@needs_tool("dcmdjpeg")
def test_gdcm_decodes_12_bit_jpeg_extended_as_dcmtk_does(tmp_path):
    # pydicom's plugins (its GDCM one, tried last, included) refuse or fail on this file;
    # GDCM itself reads it.
    with pytest.raises(RuntimeError) as caught:
        read("JPEG-lossy.dcm").pixel_array  # noqa: B018
    tried = [line.strip().split(":")[0] for line in str(caught.value).splitlines()[1:]]
    assert tried == ["pylibjpeg", "pillow", "gdcm"]
    decompressed = tmp_path / "decompressed.dcm"
    subprocess.run(["dcmdjpeg", sample_path("JPEG-lossy.dcm"), str(decompressed)], check=True, capture_output=True)
    pixels, photometric = previews.decode_frame(read("JPEG-lossy.dcm"), 0)
    assert photometric == "MONOCHROME2"
    assert np.array_equal(pixels, pydicom.dcmread(decompressed).pixel_array)


def test_gdcm_picks_the_frame_of_a_multi_frame_file():
    dataset = read("emri_small_jpeg_2k_lossless.dcm")
    for frame in (0, 7):
        pixels, _ = previews.gdcm_frame(dataset, frame)
        assert np.array_equal(pixels, read("emri_small.dcm").pixel_array[frame])


def test_gdcm_decodes_colour():
    pixels, photometric = previews.gdcm_frame(read("US1_J2KR.dcm"), 0)
    assert photometric == "RGB"
    assert np.array_equal(pixels, read("US1_UNCR.dcm").pixel_array)


def test_gdcm_refuses_native_pixel_data_and_what_it_cannot_decode():
    with pytest.raises(ValueError, match="not encapsulated"):
        previews.gdcm_frame(read("CT_small.dcm"), 0)
    dataset = read("SC_rgb_jpeg_dcmtk.dcm")
    dataset.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2
    with pytest.raises(ValueError, match="GDCM cannot decode"):
        previews.gdcm_frame(dataset, 0)


@dcmtk_required
@pytest.mark.parametrize("name", ["CT_small.dcm", "JPEG2000.dcm"])
def test_an_image_without_pixel_representation_is_read_unsigned_as_dcmtk_reads_it(name, tmp_path):
    dataset = pydicom.dcmread(sample_path(name))
    del dataset.PixelRepresentation
    path = tmp_path / "no-pixel-representation.dcm"
    dataset.save_as(path)
    image = previews.render_frame(pydicom.dcmread(path))
    # DCMTK's tools refuse the file as it is; the reference is its rendering of the same
    # image said unsigned (what Orthanc shows for the file without the element).
    twin = pydicom.dcmread(sample_path("JPEG2000_UNC.dcm" if name == "JPEG2000.dcm" else name))
    twin.PixelRepresentation = 0
    twin.save_as(tmp_path / "twin.dcm")
    assert mean_difference(image, dcmtk_render(str(tmp_path / "twin.dcm"), ["+Wm"], tmp_path)) < MAX_MEAN_DIFFERENCE


def test_decompress_uses_pydicom_first_and_leaves_a_file_it_cannot_decode_alone():
    dataset = previews.decompress(read("JPEG2000.dcm"))
    assert np.array_equal(dataset.pixel_array, read("JPEG2000_UNC.dcm").pixel_array)
    broken = read("SC_rgb_jpeg_dcmtk.dcm")
    broken.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2: nothing decodes it
    with pytest.raises(ValueError, match="GDCM"):
        previews.decompress(broken)
    assert broken.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.100"
