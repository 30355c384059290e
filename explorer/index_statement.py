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
    instance_columns, instance_values, instance_params = _values(Instance, row, prepare)
    change_columns, change_values, change_params = _values(Change, change, prepare)
    series_column = connection.ops.quote_name(Instance._meta.get_field("series").column)
    start_of_second = prepare(Instance._meta.get_field("last_update"), now.replace(microsecond=0))
    stamp = prepare(Instance._meta.get_field("last_update"), now)
    sql = (
        f"WITH parents AS ({PARENTS_SQL}),"
        f" added AS (INSERT INTO {Instance._meta.db_table} ({instance_columns}, {series_column})"
        f" SELECT {instance_values}, parents.series FROM parents RETURNING 1),"
        f" logged AS (INSERT INTO {Change._meta.db_table} ({change_columns})"
        f" SELECT {change_values} FROM added)"
    )
    touch_params = []
    for model, key in ((Patient, "patient"), (Study, "study"), (Series, "series")):
        sql += (
            f", touched_{key} AS (UPDATE {model._meta.db_table} SET last_update = %s"
            f" WHERE id = (SELECT {key} FROM parents) AND last_update < %s)"
        )
        touch_params += [stamp, start_of_second]
    sql += " SELECT count(*) FROM added"
    with connection.cursor() as cursor:
        cursor.execute(sql, [series_public_id, *instance_params, *change_params, *touch_params])
        (added,) = cursor.fetchone()
    return added == 1


PARENTS_SQL = (
    "SELECT p.id AS patient, st.id AS study, se.id AS series"
    f" FROM {Series._meta.db_table} se"
    f" JOIN {Study._meta.db_table} st ON st.id = se.study_id"
    f" JOIN {Patient._meta.db_table} p ON p.id = st.patient_id"
    " WHERE se.public_id = %s"
)


def _values(model, row, prepare):
    """(the quoted columns, their values' placeholders, the parameters) of a row to insert by
    SELECT. Each placeholder is cast to its column's type: a SELECT's values are not typed
    by the columns they go to, as an INSERT's VALUES are. Texts are cast to `text`, never to
    `varchar(n)`, which would cut a value too long instead of refusing it (DataError)."""
    fields = [model._meta.get_field(name) for name in row]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    values = ", ".join(f"%s::{_cast_type(field)}" for field in fields)
    return columns, values, [prepare(field, row[field.name]) for field in fields]


def _cast_type(field):
    if isinstance(field, (CharField, TextField)):
        return "text"
    return field.db_type(connection)
