"""The one-statement path of an instance arriving in an indexed series (PostgreSQL)."""

import datetime
import logging
import threading

import pytest
from django.db import DataError, connection, transaction
from django.test.utils import CaptureQueriesContext

from explorer import index_statement
from explorer.errors import BadFileFormat
from explorer.ingest import ALREADY_STORED, SUCCESS, Origin, store_instance
from explorer.models import Change, Instance, Patient, Series, Study
from tests.conftest import make_dicom
from tests.test_wire_reactors import wait_until

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's statement; SQLite has one path"),
]

SERIES = {"PatientID": "STATEMENT", "StudyInstanceUID": "1.2.3", "SeriesInstanceUID": "1.2.3.4"}


def arrive(sop_uid, **tags):
    return store_instance(make_dicom(SOPInstanceUID=sop_uid, **(SERIES | tags)), Origin("RestApi", username="keeper"))


def test_an_instance_of_an_indexed_series_is_added_by_one_statement():
    first = arrive("1.2.3.4.1")
    with CaptureQueriesContext(connection) as queries:
        second = arrive("1.2.3.4.2", InstanceNumber=2)
    assert second.status == SUCCESS
    assert len(queries) == 1, [q["sql"] for q in queries]
    assert queries[0]["sql"].startswith("WITH parents AS")
    instance = Instance.objects.get(public_id=second.instance_id)
    assert instance.series.public_id == first.ids[2]
    assert (instance.index_in_series, instance.origin, instance.http_username) == (2, "RestApi", "keeper")
    assert instance.main_tags["SOPInstanceUID"] == "1.2.3.4.2"
    assert instance.dataset["00080018"] == {"vr": "UI", "Value": ["1.2.3.4.2"]}
    changes = Change.objects.filter(public_id=second.instance_id)
    assert [(c.change_type, c.resource_type) for c in changes] == [("NewInstance", "Instance")]


def test_its_parents_age_again_once_a_second():
    arrive("1.2.3.4.1")
    long_ago = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    for model in (Patient, Study, Series):
        model.objects.update(last_update=long_ago)
    arrive("1.2.3.4.2")
    arrival = Instance.objects.get(sop_instance_uid="1.2.3.4.2").last_update
    assert [model.objects.get().last_update for model in (Patient, Study, Series)] == [arrival] * 3


def test_the_first_instance_of_a_series_takes_the_general_path():
    arrive("1.2.3.4.1")
    with CaptureQueriesContext(connection) as queries:
        arrive("1.2.3.5.1", SeriesInstanceUID="1.2.3.5")
    assert len(queries) > 1  # the statement found no series and wrote nothing, then the transaction
    assert Series.objects.count() == 2
    assert Change.objects.filter(change_type="NewSeries").count() == 2


def test_an_instance_stored_twice_is_already_stored():
    arrive("1.2.3.4.1")
    arrive("1.2.3.4.2")
    assert arrive("1.2.3.4.2").status == ALREADY_STORED
    assert Instance.objects.count() == 2
    assert Change.objects.filter(change_type="NewInstance").count() == 2


def test_inside_a_transaction_a_refused_instance_leaves_it_usable():
    arrive("1.2.3.4.1")
    with transaction.atomic():
        assert arrive("1.2.3.4.1").status == ALREADY_STORED
        assert arrive("1.2.3.4.2").status == SUCCESS
    assert Instance.objects.count() == 2


def test_a_value_too_long_for_its_column_is_refused_not_cut(storage_dir):
    arrive("1.2.3.4.1")
    with pytest.raises(BadFileFormat) as refused:
        arrive("1.2.3.4.2", SOPClassUID="1." + "2" * 200)
    assert isinstance(refused.value.__cause__, DataError)
    assert Instance.objects.count() == 1
    assert len(list(storage_dir.rglob("*.dcm"))) == 1  # the refused file is not kept


def test_the_statement_is_taken_on_postgresql_only():
    assert index_statement.available()


def test_an_arrival_aborted_by_a_deadlock_is_done_again(caplog):
    """Another transaction holds the study's row; the arrival's statement touches the patient's
    or the series' row (in whichever order PostgreSQL runs its WITH clauses) and waits for the
    study's; the other then asks for both the patient's and the series' rows: PostgreSQL aborts
    the arrival's statement (its deadlock check runs first), which is done again."""
    arrive("1.2.3.4.1")
    long_ago = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    for model in (Patient, Study, Series):
        model.objects.update(last_update=long_ago)
    patient, study, series = Patient.objects.get(), Study.objects.get(), Series.objects.get()
    results = []

    def arrival():
        try:
            results.append(arrive("1.2.3.4.2"))
        except Exception as exc:  # asserted below
            results.append(exc)
        finally:
            connection.close()

    with caplog.at_level(logging.INFO, logger="explorer.index"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL deadlock_timeout = '20s'")  # the arrival's check comes first
            cursor.execute(f"SELECT id FROM {Study._meta.db_table} WHERE id = %s FOR UPDATE", [study.pk])
            worker = threading.Thread(target=arrival)
            worker.start()
            wait_until(lambda: results or _waiting_for_a_lock(cursor), seconds=30)
            assert not results, results
            for model, row in ((Patient, patient), (Series, series)):
                touch = f"UPDATE {model._meta.db_table} SET last_update = %s WHERE id = %s"
                cursor.execute(touch, [long_ago, row.pk])
    worker.join(timeout=60)
    assert [result.status for result in results] == [SUCCESS]
    assert "met a deadlock" in caplog.text
    assert Instance.objects.filter(sop_instance_uid="1.2.3.4.2").count() == 1


def _waiting_for_a_lock(cursor):
    cursor.execute("SELECT pg_stat_clear_snapshot()")  # else the same answer for the whole transaction
    cursor.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        " AND datname = current_database()"
    )
    return cursor.fetchone()[0] > 0
