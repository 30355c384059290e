"""An arriving instance of a series already indexed, added by one SQL statement (PostgreSQL).

Most arrivals belong to a series the index holds already (every slice but a series' first).
explorer/index.py adds such an instance in a transaction of four round trips to the database
and back (BEGIN, the parents looked up, the instance and its change inserted, COMMIT), each
of which a busy server waits for. On PostgreSQL one statement does all of it: its WITH
clauses find the parents, insert the instance and its NewInstance change and touch the
parents' LastUpdate, and a statement is atomic, so outside a transaction it commits alone:
one round trip. When the series is not indexed yet the statement changes nothing and
explorer/index.py takes its general path, which creates the parents.
"""

import functools

from django.db import connection
from django.db.models import CharField, TextField

from explorer.models import Change, Instance, Patient, Series, Study


def available():
    """Whether the index's database runs the statement (data-modifying WITH clauses)."""
    return connection.vendor == "postgresql"


def add_to_indexed_series(series_public_id, row, change, now, prepare):
    """Insert `row` (the Instance's columns but its series) into the indexed series of that
    public id, with its Change row, and move the parents' LastUpdate to `now` where it is
    older than `now`'s second (explorer/index.py's _touch). `prepare(field, value)` gives a
    value as the database takes it. False, with nothing written, when the series is not
    indexed."""
    instance_fields, change_fields = _fields(Instance, tuple(row)), _fields(Change, tuple(change))
    last_update = Instance._meta.get_field("last_update")
    stamp, start_of_second = prepare(last_update, now), prepare(last_update, now.replace(microsecond=0))
    params = [
        series_public_id,
        *(prepare(field, row[field.name]) for field in instance_fields),
        *(prepare(field, change[field.name]) for field in change_fields),
        *[stamp, start_of_second] * len(TOUCHED),
    ]
    with connection.cursor() as cursor:
        cursor.execute(_statement(instance_fields, change_fields), params)
        (added,) = cursor.fetchone()
    return added == 1


PARENTS_SQL = (
    "SELECT p.id AS patient, st.id AS study, se.id AS series"
    f" FROM {Series._meta.db_table} se"
    f" JOIN {Study._meta.db_table} st ON st.id = se.study_id"
    f" JOIN {Patient._meta.db_table} p ON p.id = st.patient_id"
    " WHERE se.public_id = %s"
)
TOUCHED = ((Patient, "patient"), (Study, "study"), (Series, "series"))


@functools.cache
def _fields(model, names):
    return tuple(model._meta.get_field(name) for name in names)


@functools.cache
def _statement(instance_fields, change_fields):
    """The statement's text for rows of these fields: the same for every arrival, made once.
    Its parameters: the series' public id, the instance's values, the change's values, then
    (LastUpdate, the start of its second) for each parent touched."""
    series_column = connection.ops.quote_name(Instance._meta.get_field("series").column)
    sql = (
        f"WITH parents AS ({PARENTS_SQL}),"
        f" added AS (INSERT INTO {Instance._meta.db_table} ({_columns(instance_fields)}, {series_column})"
        f" SELECT {_placeholders(instance_fields)}, parents.series FROM parents RETURNING 1),"
        f" logged AS (INSERT INTO {Change._meta.db_table} ({_columns(change_fields)})"
        f" SELECT {_placeholders(change_fields)} FROM added)"
    )
    for model, key in TOUCHED:
        sql += (
            f", touched_{key} AS (UPDATE {model._meta.db_table} SET last_update = %s"
            f" WHERE id = (SELECT {key} FROM parents) AND last_update < %s)"
        )
    return sql + " SELECT count(*) FROM added"


def _columns(fields):
    return ", ".join(connection.ops.quote_name(field.column) for field in fields)


def _placeholders(fields):
    """Each placeholder cast to its column's type: a SELECT's values are not typed by the
    columns they go to, as an INSERT's VALUES are. Texts are cast to `text`, never to
    `varchar(n)`, which would cut a value too long instead of refusing it (DataError)."""
    return ", ".join(f"%s::{_cast_type(field)}" for field in fields)


def _cast_type(field):
    if isinstance(field, (CharField, TextField)):
        return "text"
    return field.db_type(connection)
