"""The audit trail: each kind of event recorded by real requests and real DICOM peers, the
administrators' page with its filters and CSV export, and the retention."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE, build_role, evt
from pynetdicom.sop_class import (
    SecondaryCaptureImageStorage,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)

from explorer import audit, levels
from explorer.models import AuditEvent, Study
from tests.conftest import CT_SMALL_IDS, basic_header, make_dicom
from tests.dicom_peers import modality, port_of, wait_until
from tests.page_helpers import store, store_sample

CT_PATIENT, CT_STUDY, CT_INSTANCE = CT_SMALL_IDS["patient"], CT_SMALL_IDS["study"], CT_SMALL_IDS["instance"]
CT_PATIENT_ID = "1CT1"


def events(action):
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def only_event(action):
    found = events(action)
    assert len(found) == 1, [(e.action, e.username, e.detail) for e in found]
    return found[0]


@pytest.fixture
def administrator(db, django_user_model):
    return django_user_model.objects.create_superuser("root", password="secret")


@pytest.fixture
def admin_browser(administrator):
    client = Client()
    client.force_login(administrator)
    AuditEvent.objects.all().delete()  # the login's own event
    return client


@pytest.fixture
def ct_stored(db):
    store_sample("CT_small.dcm")


# --- views, downloads, deletions -------------------------------------------------------------


def test_explorer_pages_of_a_patient_and_a_study_are_recorded(browser, ct_stored):
    assert browser.get(f"/ui/patients/{CT_PATIENT}").status_code == 200
    assert browser.get(f"/ui/studies/{CT_STUDY}").status_code == 200
    patient_view, study_view = events(audit.VIEW)
    assert (patient_view.username, patient_view.ip) == ("alice", "127.0.0.1")
    assert (patient_view.patient_public_id, patient_view.patient_id, patient_view.study_public_id) == (
        CT_PATIENT,
        CT_PATIENT_ID,
        "",
    )
    assert patient_view.patient_name == "CompressedSamples^CT1"
    assert (study_view.patient_id, study_view.study_public_id) == (CT_PATIENT_ID, CT_STUDY)
    assert study_view.study_instance_uid == Study.objects.get().study_instance_uid
    assert study_view.detail == f"Study {CT_STUDY}: explorer page"


def test_rest_reads_of_a_patient_and_a_study_are_recorded_not_their_lists(api, ct_stored):
    api.get("/patients")
    api.get("/studies?expand")
    assert api.get(f"/patients/{CT_PATIENT}").status_code == 200
    assert api.get(f"/studies/{CT_STUDY}").status_code == 200
    assert [(e.username, e.patient_id, e.study_public_id) for e in events(audit.VIEW)] == [
        ("alice", CT_PATIENT_ID, ""),
        ("alice", CT_PATIENT_ID, CT_STUDY),
    ]


def test_downloads_of_a_file_an_archive_and_a_created_archive_are_recorded(api, ct_stored):
    assert api.get(f"/instances/{CT_INSTANCE}/file").status_code == 200
    assert api.get(f"/studies/{CT_STUDY}/archive").status_code == 200
    body = json.dumps({"Resources": [CT_INSTANCE]})
    assert api.post("/tools/create-archive", body, content_type="application/json").status_code == 200
    file, archive, created = events(audit.DOWNLOAD)
    assert file.detail == f"Instance {CT_INSTANCE}: DICOM file"
    assert archive.detail == f"Study {CT_STUDY}: ZIP archive"
    assert created.detail == f"ZIP archive (create-archive): Instance {CT_INSTANCE}"
    assert {(e.username, e.patient_id, e.study_public_id) for e in (file, archive, created)} == {
        ("alice", CT_PATIENT_ID, CT_STUDY)
    }


def test_a_rest_delete_is_recorded_with_what_was_deleted(api, ct_stored):
    assert api.delete(f"/studies/{CT_STUDY}").status_code == 200
    deleted = only_event(audit.DELETE)
    assert (deleted.username, deleted.patient_id, deleted.study_public_id) == ("alice", CT_PATIENT_ID, CT_STUDY)
    assert deleted.detail == f"Study {CT_STUDY}: REST"


def test_a_delete_in_the_explorer_is_recorded(browser, ct_stored):
    response = browser.post(f"/ui/instances/{CT_INSTANCE}/delete")
    assert response.status_code == 302
    deleted = only_event(audit.DELETE)
    assert (deleted.patient_id, deleted.study_public_id, deleted.detail) == (
        CT_PATIENT_ID,
        CT_STUDY,
        f"Instance {CT_INSTANCE}: explorer",
    )


def test_clearing_the_change_and_export_logs_is_recorded(api):
    assert api.delete("/changes").status_code == 200
    assert api.delete("/exports").status_code == 200
    assert [(e.username, e.detail) for e in events(audit.DELETE)] == [
        ("alice", "the change log (/changes) cleared"),
        ("alice", "the exports log (/exports) cleared"),
    ]


def test_a_refused_delete_records_nothing(api, db):
    assert api.delete(f"/studies/{CT_STUDY}").status_code == 404
    assert events(audit.DELETE) == []


def test_modifying_records_the_resource_as_it_was(rf, user, ct_stored):
    request = rf.post("/studies/x/modify", REMOTE_ADDR="10.1.2.3")
    request.user = user
    study = Study.objects.get()
    audit.modified(request, levels.STUDY, study, "PatientName replaced")
    modified = only_event(audit.MODIFY)
    assert (modified.username, modified.ip, modified.patient_id) == ("alice", "10.1.2.3", CT_PATIENT_ID)
    assert modified.detail == f"Study {CT_STUDY}: PatientName replaced"


# --- logins ---------------------------------------------------------------------------------


def test_logins_and_failed_logins_by_the_form_are_recorded(user):
    client = Client()
    client.post("/login/", {"username": "alice", "password": "wrong"})
    failed = only_event(audit.LOGIN_FAILED)
    assert (failed.username, failed.ip, failed.detail) == ("alice", "127.0.0.1", "login form")
    client.post("/login/", {"username": "alice", "password": "wonderland"})
    login = only_event(audit.LOGIN)
    assert (login.username, login.detail) == ("alice", "login form")
    client.post("/logout/")
    assert only_event(audit.LOGOUT).username == "alice"


def test_a_basic_client_is_recorded_once_and_each_failure(user):
    client = Client(HTTP_AUTHORIZATION=basic_header("alice", "wonderland"))
    for _ in range(3):
        assert client.get("/system").status_code == 200
    login = only_event(audit.LOGIN)
    assert (login.username, login.ip, login.detail) == ("alice", "127.0.0.1", "HTTP Basic")
    wrong = Client(HTTP_AUTHORIZATION=basic_header("alice", "guess"))
    for _ in range(2):
        assert wrong.get("/system").status_code == 401
    failures = events(audit.LOGIN_FAILED)
    assert [(e.username, e.ip, e.detail) for e in failures] == [("alice", "127.0.0.1", "HTTP Basic")] * 2


# --- settings -------------------------------------------------------------------------------


def test_runtime_settings_changed_through_rest_are_recorded(api):
    assert api.put("/tools/default-encoding", "Utf8", content_type="text/plain").status_code == 200
    changed = only_event(audit.SETTING)
    assert (changed.username, changed.ip, changed.detail) == ("alice", "127.0.0.1", 'DefaultEncoding = "Utf8"')


def test_modalities_changed_through_rest_are_recorded(api):
    body = json.dumps({"AET": "REMOTE", "Host": "10.0.0.9", "Port": 104})
    assert api.put("/modalities/remote", body, content_type="application/json").status_code == 200
    assert api.delete("/modalities/remote").status_code == 200
    saved, deleted = events(audit.SETTING)
    assert saved.username == "alice" and saved.detail.startswith("modality remote saved: ")
    assert "'aet': 'REMOTE'" in saved.detail
    assert deleted.detail == "modality remote deleted"


def test_modalities_changed_in_the_admin_are_recorded(admin_browser):
    response = admin_browser.post(
        "/admin/dicomnet/modality/add/",
        {
            "name": "ct-room",
            "aet": "CTROOM",
            "host": "10.0.0.8",
            "port": "104",
            "manufacturer": "Generic",
            "timeout": "0",
            "allow_echo": "on",
            "allow_find": "on",
            "allow_move": "on",
            "allow_store": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    added = only_event(audit.SETTING)
    assert added.username == "root" and added.ip == "127.0.0.1"
    assert added.detail.startswith("admin: modality “ct-room (CTROOM@10.0.0.8:104)” added") and "added" in added.detail


# --- sends and retrieves from REST and the explorer -------------------------------------------


def test_a_rest_send_is_recorded_with_its_destination(transactional_db, api, collector):
    store_sample("CT_small.dcm")
    modality("COLLECTOR", collector.port)
    response = api.post("/modalities/collector/store", CT_STUDY, content_type="text/plain")
    assert response.status_code == 200, response.content
    sent = only_event(audit.SEND)
    assert (sent.username, sent.patient_id, sent.study_public_id) == ("alice", CT_PATIENT_ID, CT_STUDY)
    assert sent.detail == f"to collector (COLLECTOR at 127.0.0.1:{collector.port}): Study {CT_STUDY}"


def test_a_send_from_the_explorer_is_recorded(browser, ct_stored, collector, queue):
    modality("COLLECTOR", collector.port)
    response = browser.post(f"/ui/patients/{CT_PATIENT}/send", {"destination": "modality:collector"})
    assert response.status_code == 302
    sent = only_event(audit.SEND)
    assert (sent.username, sent.patient_public_id, sent.study_public_id) == ("alice", CT_PATIENT, "")
    assert sent.detail.startswith("to collector (COLLECTOR at ")


def test_a_retrieve_asked_through_rest_is_recorded(api, queue):
    modality("QRSCP", 11112)
    body = {
        "Level": "Study",
        "Resources": [{"StudyInstanceUID": "1.2.3"}],
        "TargetAet": "ELSEWHERE",
        "Asynchronous": True,
    }
    assert api.post("/modalities/qrscp/move", json.dumps(body), content_type="application/json").status_code == 200
    retrieved = only_event(audit.RETRIEVE)
    assert retrieved.username == "alice"
    assert retrieved.detail == "C-MOVE to ELSEWHERE from qrscp, Study: {'StudyInstanceUID': '1.2.3'}"


# --- incoming DICOM -----------------------------------------------------------------------------


def secondary_capture(study_uid, patient_id):
    return make_dicom(
        SOPClassUID=SecondaryCaptureImageStorage, StudyInstanceUID=study_uid, PatientID=patient_id, PatientName="Sc^Pat"
    )


def test_c_store_is_recorded_once_per_association_and_study(dicom_server):
    first, second = generate_uid(), generate_uid()
    files = [secondary_capture(first, "P1"), secondary_capture(first, "P1"), secondary_capture(second, "P2")]
    ae = AE(ae_title="MODALITY")
    ae.add_requested_context(SecondaryCaptureImageStorage, ExplicitVRLittleEndian)
    assoc = ae.associate("127.0.0.1", port_of(dicom_server), ae_title="PHAROS")
    assert assoc.is_established
    for data in files:
        from pydicom import dcmread

        assert assoc.send_c_store(dcmread(io.BytesIO(data))).Status == 0x0000
    assert events(audit.DICOM_STORE) == []  # nothing in the hot path
    assoc.release()
    stored = wait_until(
        lambda: events(audit.DICOM_STORE) if len(events(audit.DICOM_STORE)) == 2 else None,
        10,
        "the association's audit events",
    )
    by_patient = {e.patient_id: e for e in stored}
    assert by_patient["P1"].detail == "2 instance(s) to PHAROS"
    assert by_patient["P2"].detail == "1 instance(s) to PHAROS"
    assert {(e.aet, e.ip, e.username) for e in stored} == {("MODALITY", "127.0.0.1", "")}
    assert by_patient["P1"].study_instance_uid == first


@pytest.fixture
def stored_study(transactional_db):
    study_uid = generate_uid()
    for _ in range(2):
        store(secondary_capture(study_uid, "MOVED"))
    return study_uid


def identifier_of(study_uid):
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = study_uid
    return identifier


def test_an_incoming_c_move_is_recorded_by_calling_ae(dicom_server, stored_study, collector):
    modality("COLLECTOR", collector.port)
    modality("MOVER", 104)
    ae = AE(ae_title="MOVER")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelMove)
    assoc = ae.associate("127.0.0.1", port_of(dicom_server), ae_title="PHAROS")
    responses = list(
        assoc.send_c_move(identifier_of(stored_study), "COLLECTOR", StudyRootQueryRetrieveInformationModelMove)
    )
    assoc.release()
    assert responses[-1][0].Status == 0x0000
    moved = only_event(audit.DICOM_MOVE)
    assert (moved.aet, moved.ip, moved.patient_id, moved.study_instance_uid) == (
        "MOVER",
        "127.0.0.1",
        "MOVED",
        stored_study,
    )
    assert moved.detail == "to COLLECTOR: 2 instance(s)"


def test_an_incoming_c_get_is_recorded_by_calling_ae(dicom_server, stored_study):
    modality("GETTER", 104)
    ae = AE(ae_title="GETTER")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
    ae.add_requested_context(SecondaryCaptureImageStorage, ExplicitVRLittleEndian)
    role = build_role(SecondaryCaptureImageStorage, scp_role=True)
    assoc = ae.associate(
        "127.0.0.1",
        port_of(dicom_server),
        ae_title="PHAROS",
        ext_neg=[role],
        evt_handlers=[(evt.EVT_C_STORE, lambda event: 0x0000)],
    )
    responses = list(assoc.send_c_get(identifier_of(stored_study), StudyRootQueryRetrieveInformationModelGet))
    assoc.release()
    assert responses[-1][0].Status == 0x0000
    got = only_event(audit.DICOM_GET)
    assert (got.aet, got.patient_id, got.detail) == ("GETTER", "MOVED", "C-GET: 2 instance(s)")


# --- the page ---------------------------------------------------------------------------------


def add_event(action, days_ago=0, **fields):
    return AuditEvent.objects.create(action=action, time=timezone.now() - timedelta(days=days_ago), **fields)


@pytest.fixture
def trail(db):
    add_event(audit.VIEW, 10, username="alice", patient_id="P-OLD", patient_name="Old^Case", ip="10.0.0.1")
    add_event(audit.DOWNLOAD, 2, username="bob", patient_id="P-NEW", patient_name="New^Case", ip="10.0.0.2")
    add_event(audit.DICOM_STORE, 1, aet="CT01", patient_id="P-NEW", patient_name="New^Case", detail="=1+1")
    add_event(audit.LOGIN_FAILED, 0, username="mallory", ip="10.6.6.6")


def rows_of(response):
    return [row for row in csv.reader(io.StringIO(b"".join(response.streaming_content).decode()))]


def test_only_administrators_see_the_page_and_its_link(django_user_model, admin_browser, trail):
    from explorer import rights

    operator = django_user_model.objects.create_user("olga", password="secret")
    operator.groups.add(rights.group_named(rights.OPERATOR))
    browser = Client()
    browser.force_login(operator)
    assert browser.get("/ui/audit").status_code == 403
    assert browser.get("/ui/audit.csv").status_code == 403
    assert 'href="/ui/audit"' not in browser.get("/ui/patients").content.decode()
    page = admin_browser.get("/ui/audit")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'href="/ui/audit" aria-current="page"' in html
    assert f"{AuditEvent.objects.count()} events." in html and "mallory" in html and "Old^Case" in html


def test_the_page_filters_by_user_patient_action_and_dates(admin_browser, trail):
    def shown(**filters):
        listing = admin_browser.get("/ui/audit", filters).context["listing"]
        return sorted(event.patient_id or event.username for event, _ in listing.rows)

    assert shown(user="bob") == ["P-NEW"]
    assert shown(user="ct01") == ["P-NEW"]  # a calling AE, in any case
    assert shown(patient="p-new") == ["P-NEW", "P-NEW"]
    assert shown(patient="old") == ["P-OLD"]
    assert shown(action=audit.LOGIN_FAILED) == ["mallory"]
    today = timezone.localdate()
    assert shown(date_from=str(today - timedelta(days=3))) == ["P-NEW", "P-NEW", "mallory"]
    assert shown(date_to=str(today - timedelta(days=5))) == ["P-OLD"]
    bad = admin_browser.get("/ui/audit", {"date_from": str(today), "date_to": str(today - timedelta(days=1))})
    assert "comes after" in bad.content.decode() and bad.context["listing"].total == 0


def test_the_csv_export_keeps_the_filters(admin_browser, trail):
    page = admin_browser.get("/ui/audit", {"patient": "P-NEW"})
    csv_url = page.context["listing"].csv_url
    assert csv_url == "/ui/audit.csv?patient=P-NEW"
    response = admin_browser.get(csv_url)
    assert response["Content-Type"].startswith("text/csv")
    header, *rows = rows_of(response)
    assert header[:5] == ["Time", "Action", "User", "Calling AE", "IP"]
    assert [(row[1], row[2], row[3], row[5]) for row in rows] == [
        (audit.DICOM_STORE, "", "CT01", "P-NEW"),
        (audit.DOWNLOAD, "bob", "", "P-NEW"),
    ]
    assert rows[0][-1] == "'=1+1"  # never a formula to a spreadsheet
    assert len(rows_of(admin_browser.get("/ui/audit.csv"))) == 5


def test_the_page_pages(admin_browser, db):
    AuditEvent.objects.bulk_create(AuditEvent(action=audit.VIEW, username=f"u{i}") for i in range(150))
    first = admin_browser.get("/ui/audit").context["listing"]
    assert (len(first.rows), first.total, first.next_url) == (100, 150, "?page=2")
    assert len(admin_browser.get("/ui/audit?page=2").context["listing"].rows) == 50


def test_the_admin_lists_events_read_only(admin_browser, browser, trail):
    assert admin_browser.get("/admin/explorer/auditevent/").status_code == 200
    event = AuditEvent.objects.first()
    assert admin_browser.post(f"/admin/explorer/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


# --- retention --------------------------------------------------------------------------------


def test_events_older_than_the_retention_are_pruned(settings, db):
    settings.PHAROS_AUDIT_RETENTION_DAYS = 30
    add_event(audit.VIEW, 31, username="old")
    add_event(audit.VIEW, 29, username="kept")
    assert audit.prune() == 1
    assert list(AuditEvent.objects.values_list("username", flat=True)) == ["kept"]
    settings.PHAROS_AUDIT_RETENTION_DAYS = 0  # keep everything
    add_event(audit.VIEW, 4000, username="ancient")
    assert audit.prune() == 0 and AuditEvent.objects.count() == 2


def test_the_cron_configuration_queues_the_pruning_every_hour(redis_url):
    from django_rq.cron import DjangoCronScheduler

    scheduler = DjangoCronScheduler()
    scheduler.load_config_from_file("explorer.cron")
    [job] = [job for job in scheduler.get_jobs() if job.func is audit.prune_job]
    assert (job.queue_name, job.interval) == ("default", 3600)


def test_a_failed_write_never_breaks_what_is_audited(db, monkeypatch, caplog):
    from django.db import DatabaseError

    def failing(*args, **kwargs):
        raise DatabaseError("the database is down")

    monkeypatch.setattr(AuditEvent.objects, "bulk_create", failing)
    audit.record(audit.SETTING, detail="x")
    assert "Audit events not recorded (setting): the database is down" in caplog.text


# --- the real server ----------------------------------------------------------------------------


def test_the_started_server_records_rest_reads_and_c_store_and_exports_them(tmp_path):
    """`manage.py start` (several web workers, DICOM server processes): a REST read by Basic,
    a storescu association, and the administrator's CSV export that shows both."""
    from tests.conftest import sample_path
    from tests.dicom_peers import dcmtk
    from tests.pharos_server import Server, own_database, request

    with own_database("pharos_audit_server") as database_url:
        server = Server(tmp_path / "data", "secret-password", database_url=database_url)
        try:
            sent = dcmtk(
                "storescu",
                "-aec",
                "PHAROS",
                "-aet",
                "SCANNER",
                "127.0.0.1",
                server.dicom_port,
                sample_path("CT_small.dcm"),
            )
            assert sent.returncode == 0, sent.stdout + sent.stderr
            assert request(server.port, f"/studies/{CT_STUDY}", "secret-password")[0] == 200

            def exported():
                status, headers, body = request(
                    server.port, f"/ui/audit.csv?patient={CT_PATIENT_ID}", "secret-password"
                )
                assert status == 200 and headers["Content-Type"].startswith("text/csv")
                rows = list(csv.reader(io.StringIO(body.decode())))[1:]
                actions = {(row[1], row[2], row[3]) for row in rows}
                return actions if len(actions) == 2 else None

            assert wait_until(exported, 30, "the server's audit events") == {
                (audit.DICOM_STORE, "", "SCANNER"),
                (audit.VIEW, "admin", ""),
            }
        finally:
            server.stop()
