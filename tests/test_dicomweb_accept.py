"""The Accept header of WADO-RS requests (explorer/dicomweb/accept.py), as the clients in use
write it: dicomweb-client (quoted types, `type="*/*"` for frames and bulk data), OHIF and
Cornerstone (unquoted, `transfer-syntax=*`), Orthanc's own answers' style (the transfer
syntax inside the quoted type), alternatives with q-values."""

import pytest
from pydicom.uid import JPEG2000Lossless

from explorer import transcoding
from explorer.dicomweb import accept
from explorer.dicomweb.accept import Range

OHIF_FRAMES = "multipart/related; type=application/octet-stream; transfer-syntax=*"


def test_it_reads_quoted_and_unquoted_parameters():
    assert accept.parse('multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1') == [
        Range("multipart/related", "application/dicom", "1.2.840.10008.1.2.1")
    ]
    assert accept.parse(OHIF_FRAMES) == [Range("multipart/related", "application/octet-stream", "*")]


def test_it_reads_the_transfer_syntax_inside_the_type():
    parsed = accept.parse('multipart/related; type="application/octet-stream; transfer-syntax=1.2.840.10008.1.2.4.90"')
    assert parsed == [Range("multipart/related", "application/octet-stream", "1.2.840.10008.1.2.4.90")]


def test_it_orders_alternatives_by_q_then_as_written_and_drops_q_zero():
    parsed = accept.parse(
        'multipart/related; type="image/jpeg"; q=0.5, multipart/related; type="image/jp2", '
        'multipart/related; type="image/jls"; q=0, application/json'
    )
    assert [(r.media_type, r.type, r.q) for r in parsed] == [
        ("multipart/related", "image/jp2", 1.0),
        ("application/json", None, 1.0),
        ("multipart/related", "image/jpeg", 0.5),
    ]


def test_no_header_accepts_anything():
    assert accept.parse(None) == accept.parse("") == [Range("*/*")]


def test_instances_are_sent_as_stored_unless_a_syntax_is_asked():
    def can_write(uid):
        return uid in transcoding.ENCODABLE

    for header in (None, "*/*", "multipart/related", 'multipart/related; type="application/dicom"; transfer-syntax=*'):
        assert accept.retrieve_syntax(header, can_write) is None
    asked = 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.90'
    assert accept.retrieve_syntax(asked, can_write) == JPEG2000Lossless


@pytest.mark.parametrize(
    "header",
    [
        "application/dicom",  # not multipart: Orthanc refuses it too
        "application/json",
        'multipart/related; type="application/octet-stream"',
        'multipart/related; type="application/dicom"; transfer-syntax=1.2.3',  # no transfer syntax
        'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.100',  # MPEG2: no encoder
    ],
)
def test_an_unsatisfiable_retrieval_is_406(header):
    with pytest.raises(accept.NotAcceptable) as refused:
        accept.retrieve_syntax(header, lambda uid: uid in transcoding.ENCODABLE)
    assert refused.value.http_status == 406


def test_frame_choices():
    assert accept.frame_choices(None) == [("application/octet-stream", None)]
    assert accept.frame_choices(OHIF_FRAMES) == [("application/octet-stream", "*")]
    # dicomweb-client's default for frames.
    assert accept.frame_choices('multipart/related; type="*/*"') == [("application/octet-stream", None)]
    assert accept.frame_choices('multipart/related; type="*/*"; transfer-syntax=*') == [("*/*", "*")]
    assert accept.frame_choices('multipart/related; type="image/x-dicom-rle"') == [("image/dicom-rle", None)]
    assert accept.frame_choices(
        'multipart/related; type="image/jpeg"; transfer-syntax=1.2.840.10008.1.2.4.90, multipart/related; type="image/jp2"'
    ) == [("image/jp2", None)]  # JPEG 2000 is no image/jpeg: that range is passed over


@pytest.mark.parametrize("header", ["application/octet-stream", "text/html", 'multipart/related; type="text/plain"'])
def test_unsatisfiable_frames_are_406(header):
    with pytest.raises(accept.NotAcceptable):
        accept.frame_choices(header)


def test_bulk_data_and_metadata():
    for header in (None, 'multipart/related; type="application/octet-stream"', 'multipart/related; type="*/*"'):
        accept.check_bulk(header)
    for header in (None, "application/dicom+json", "application/dicom+json, application/json", "*/*"):
        accept.check_metadata(header)
    for check, header in ((accept.check_bulk, "application/octet-stream"), (accept.check_metadata, "text/html")):
        with pytest.raises(accept.NotAcceptable):
            check(header)
