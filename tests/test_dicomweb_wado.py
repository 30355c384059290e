"""smoke"""
import pytest
from tests.conftest import dicom_bytes, upload

pytestmark = pytest.mark.django_db
CT = ("1.3.6.1.4.1.5962.1.2.1.20040119072730.12322", "1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322", "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322")
BASE = "/dicom-web/studies/{}/series/{}/instances/{}".format(*CT)

def body(r):
    return b"".join(r.streaming_content) if r.streaming else r.content

def test_smoke(api):
    assert upload(api, dicom_bytes("CT_small.dcm")).status_code == 200
    for path, accept in [(BASE, None), (BASE + "/metadata", None), (BASE + "/frames/1", None), (BASE + "/frames/1", "multipart/related; type=application/octet-stream; transfer-syntax=*"), (BASE + "/bulk/7fe00010", None), (BASE + "/bulk/00101002/1/00100020", None), (BASE + "/frames/1", 'multipart/related; type="image/jpeg"'), (BASE, 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.90'), (BASE + "/frames/2", None), (BASE + "/frames/x", None)]:
        r = api.get(path, HTTP_ACCEPT=accept) if accept else api.get(path)
        b = body(r)
        print(path[-30:], accept, r.status_code, r["Content-Type"], len(b), b[:300])
