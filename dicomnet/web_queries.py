"""Query/Retrieve over DICOMweb: the explorer's search of a remote DICOMweb server and the
retrieve of its answers into Pharos.

A search is a QIDO-RS request sent through Pharos's DICOMweb client (dicomnet.dicomweb.client),
built from the same study query the C-FIND of a DICOM modality sends (dicomnet.forms), so that
both fill the same answer table: QIDO answers are DICOM JSON, as a stored C-FIND answer is. A
DICOMweb search is not kept as a RemoteQuery (Orthanc's /queries are C-FIND queries): its page
is a GET whose URL holds the search, and asks the server again when opened. A retrieve is the
DICOMweb client's retrieve job (POST /dicom-web/servers/{name}/retrieve), which stores what it
gets through the one ingest funnel.
"""

from dicomnet.dicomweb import client
from dicomnet.dicomweb import jobs as web_jobs
from dicomnet.forms import SERIES_RETURN_KEYS, STUDY_RETURN_KEYS

# A page of answers: more than a person reads, few enough to ask for at once.
SEARCH_LIMIT = 500


class WebQueryError(Exception):
    """The DICOMweb server could not be asked, or refused: the message says which and why."""


def qido_parameters(dicom_query):
    """The QIDO-RS search parameters of a study or series query ({keyword: value}, empty
    values being return keys): the constraints as attribute=value, the rest as includefield.
    The values of a list ("CT\\MR" in a C-FIND) are separated by commas in QIDO-RS (PS3.18
    8.3.4.1), which is what Orthanc's plugin reads: "CT\\MR" would match no study there."""
    filters = {keyword: value.replace("\\", ",") for keyword, value in dicom_query.items() if value}
    fields = [keyword for keyword, value in dicom_query.items() if not value]
    return filters, fields


def search_studies(server, dicom_query):
    """The study answers (DICOM JSON) of a study query, as the C-FIND of a modality builds it."""
    filters, fields = qido_parameters(dicom_query)
    return _search(server, "Study", None, filters, fields)


def search_series(server, study_uid):
    """The series of one study (DICOM JSON)."""
    return _search(server, "Series", study_uid, {}, list(SERIES_RETURN_KEYS))


def find_study(server, study_uid):
    """The study answer of one StudyInstanceUID, or None."""
    query = {keyword: "" for keyword in STUDY_RETURN_KEYS} | {"StudyInstanceUID": study_uid}
    found = search_studies(server, query)
    return found[0] if found else None


def check(server):
    """A QIDO-RS request that a working server answers: the DICOMweb "echo"."""
    _search(server, "Study", None, {}, [], limit=1)


def _search(server, level, study_uid, filters, fields, limit=SEARCH_LIMIT):
    query = dict(filters)
    if study_uid:
        query["StudyInstanceUID"] = study_uid
    try:
        return client.search(server, level, query, limit=limit, includefield=fields or None)
    except client.RemoteError as error:
        raise WebQueryError(str(error)) from error


def study_uids(found):
    """The StudyInstanceUIDs of study answers (DICOM JSON), in the server's order."""
    values = (answer.get("0020000D", {}).get("Value") or [""] for answer in found)
    return [str(value[0]) for value in values]


def study_resources(study_uids):
    """The WADO-RS URIs a retrieve job pulls: whole studies."""
    return [web_jobs.resource_uri(uid) for uid in study_uids]


def series_resources(study_uid, series_uids):
    """Some series of one study."""
    return [web_jobs.resource_uri(study_uid, uid) for uid in series_uids]


def retrieve(server, uris, request=None):
    """The DICOMweb client's retrieve job for these URIs, for the user of `request`: the Job,
    queued once the transaction commits."""
    return web_jobs.start_retrieve(server, uris, user=getattr(request, "user", None))
