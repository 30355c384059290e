"""Stable and completed resources in the change log: the clock's function called directly,
then the real server's clock (`manage.py start`) seen in /changes. The expected changes are
those a real Orthanc 1.10.1 (StableAge 5) logged for the same files."""

import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.db.models import F
from django.utils import timezone
from django_rq.cron import DjangoCronScheduler
from pydicom.uid import generate_uid

from explorer import stability
from explorer.models import Change, Patient, Series, Study
from tests.conftest import dicom_bytes, make_dicom, upload
from tests.dicom_peers import wait_until
from tests.pharos_server import Server, request

pytestmark = pytest.mark.django_db(transaction=True)

CT = {
    "patient": "fa558bce-587a86d3-ad0da9b3-9d043d9d-4f5c5718",
    "study": "8a8cf898-ca27c490-d0c7058c-929d0581-2bbf104d",
    "series": "93034833-163e42c3-bc9a428b-194620cf-2c5799e5",
}
MR = {
    "patient": "23755877-c2ffb60d-d0df4093-e1f071a3-68b19506",
    "study": "7b5f82d7-011e7118-ffac48a8-9204a296-775e6f54",
    "series": "211fb9b0-46831f91-29422fb0-3d1353fd-1a2228a9",
}
STABLE_KINDS = ("StableSeries", "StableStudy", "StablePatient")


def later():
    """A moment when everything stored so far has been quiet for StableAge."""
    return timezone.now() + timedelta(seconds=settings.PHAROS_STABLE_AGE + 1)


def logged(changes):
    return [(c.change_type, c.public_id) for c in changes]


def pass_time(seconds):
    """Move the index's clock back, as if `seconds` had passed since every arrival."""
    for model in (Patient, Study, Series):
        model.objects.update(
            last_update=F("last_update") - timedelta(seconds=seconds),
            stable_update=F("stable_update") - timedelta(seconds=seconds),
        )


def test_nothing_is_stable_before_stable_age(api):
    upload(api, dicom_bytes("CT_small.dcm"))
    assert stability.emit_stable_changes(timezone.now()) == []
    assert stability.emit_stable_changes(later() - timedelta(seconds=2)) == []


def test_stable_series_study_patient_once_each_in_orthancs_order(api):
    upload(api, dicom_bytes("CT_small.dcm"))
    upload(api, dicom_bytes("MR_small.dcm"))
    changes = stability.emit_stable_changes(later())
    # Orthanc: StableSeries, StableStudy, StablePatient of the first patient, then the second's.
    assert logged(changes) == [
        ("StableSeries", CT["series"]),
        ("StableStudy", CT["study"]),
        ("StablePatient", CT["patient"]),
        ("StableSeries", MR["series"]),
        ("StableStudy", MR["study"]),
        ("StablePatient", MR["patient"]),
    ]
    assert [(c.resource_type, c.date) for c in changes[:3]] == [
        ("Series", changes[0].date), ("Study", changes[0].date), ("Patient", changes[0].date)
    ]
    assert stability.emit_stable_changes(later()) == []
    assert Change.objects.filter(change_type__startswith="Stable").count() == 6


def test_a_new_instance_makes_its_resources_unstable_again(api):
    study, series = generate_uid(), generate_uid()
    upload(api, make_dicom(PatientID="AGAIN", StudyInstanceUID=study, SeriesInstanceUID=series))
    first = stability.emit_stable_changes(later())
    assert [c.change_type for c in first] == list(STABLE_KINDS)
    pass_time(10)
    upload(api, make_dicom(PatientID="AGAIN", StudyInstanceUID=study, SeriesInstanceUID=series))
    assert stability.emit_stable_changes(timezone.now()) == []
    second = stability.emit_stable_changes(later())
    assert logged(second) == logged(first)


def test_another_series_leaves_the_stable_series_alone(api):
    study = generate_uid()
    upload(api, make_dicom(PatientID="TWO", StudyInstanceUID=study))
    stability.emit_stable_changes(later())
    pass_time(10)
    upload(api, make_dicom(PatientID="TWO", StudyInstanceUID=study))
    newer = Series.objects.order_by("-id").first()
    assert logged(stability.emit_stable_changes(later())) == [
        ("StableSeries", newer.public_id),
        ("StableStudy", Study.objects.get().public_id),
        ("StablePatient", Patient.objects.get().public_id),
    ]


def test_completed_series_once_its_expected_instances_are_all_there(api):
    # Orthanc logs CompletedSeries when the series' Status becomes Complete (both instances of
    # ImagesInAcquisition × NumberOfTemporalPositions = 2 are there), once.
    study, series = generate_uid(), generate_uid()

    def instance(number):
        return make_dicom(
            PatientID="COMPLETE", StudyInstanceUID=study, SeriesInstanceUID=series,
            InstanceNumber=str(number), ImagesInAcquisition="2", NumberOfTemporalPositions="1",
        )

    upload(api, instance(1))
    assert stability.emit_stable_changes(timezone.now()) == []
    upload(api, instance(2))
    series_id = Series.objects.get().public_id
    assert logged(stability.emit_stable_changes(timezone.now())) == [("CompletedSeries", series_id)]
    assert stability.emit_stable_changes(timezone.now()) == []
    # Becoming stable later logs the stable changes only.
    assert [c.change_type for c in stability.emit_stable_changes(later())] == list(STABLE_KINDS)


def test_a_series_without_expected_count_never_completes(api):
    upload(api, dicom_bytes("CT_small.dcm"))
    assert [c.change_type for c in stability.emit_stable_changes(later())] == list(STABLE_KINDS)


def test_two_clocks_at_once_log_each_event_once(api):
    upload(api, dicom_bytes("CT_small.dcm"))
    moment = later()
    first, second = stability.emit_stable_changes(moment), stability.emit_stable_changes(moment)
    assert len(first) + len(second) == 3


def test_the_tick_follows_stable_age(settings):
    settings.PHAROS_STABLE_AGE = 60
    assert stability.tick_seconds() == 6
    settings.PHAROS_STABLE_AGE = 1
    assert stability.tick_seconds() == 1
    settings.PHAROS_STABLE_AGE = 3600
    assert stability.tick_seconds() == 10


def test_the_cron_configuration_queues_the_tick(redis_url):
    scheduler = DjangoCronScheduler()
    scheduler.load_config_from_file("explorer.cron")
    [job] = [job for job in scheduler.get_jobs() if job.func is stability.tick]
    assert (job.queue_name, job.interval) == ("default", stability.tick_seconds())
    assert job.job_options["ttl"] == 2 * stability.tick_seconds()


def test_the_servers_clock_logs_stable_changes(tmp_path):
    """`manage.py start` runs the clock: with StableAge 1, the stable changes of an upload
    appear in /changes without anyone asking."""
    server = Server(tmp_path / "data", "secret-password", PHAROS_STABLE_AGE="1")
    try:
        status, _, _ = request(server.port, "/instances", "secret-password", "POST", dicom_bytes("CT_small.dcm"))
        assert status == 200

        def stable_changes():
            _, _, body = request(server.port, "/changes", "secret-password")
            changes = json.loads(body)["Changes"]
            return [(c["ChangeType"], c["ID"]) for c in changes if c["ChangeType"].startswith("Stable")]

        wait_until(lambda: len(stable_changes()) == 3, 60, "no stable changes in /changes", interval=0.5)
        assert stable_changes() == [
            ("StableSeries", CT["series"]),
            ("StableStudy", CT["study"]),
            ("StablePatient", CT["patient"]),
        ]
    finally:
        server.stop()
