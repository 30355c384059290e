"""The database side of the index: add an instance, delete a resource, count things,
look resources up by identifier (whether a series is complete: explorer/series_status.py).

Every change to the index happens in one transaction; files are removed only
after the transaction that forgot them has committed.
"""

import contextlib
import datetime
import logging
from dataclasses import dataclass

import orjson
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import JSONField
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from explorer import index_statement, levels, storage
from explorer.models import Change, Instance, Patient, Series, Study

logger = logging.getLogger(__name__)

MODELS = {
    levels.PATIENT: Patient,
    levels.STUDY: Study,
    levels.SERIES: Series,
    levels.INSTANCE: Instance,
}
PARENT_FIELD = {Study: "patient", Series: "study", Instance: "series"}


def model_for(level):
    return MODELS[level]


class DuplicateInstance(Exception):
    """Another arrival stored the same SOP instance first."""


def _int_or_none(text):
    try:
        return int(str(text).strip().split("\\")[0])
    except (TypeError, ValueError):
        return None


def _resource_fields(level, parsed):
    tags = parsed.main_tags[level.name]
    if level is levels.PATIENT:
        return {
            "patient_id": parsed.identifiers["PatientID"],
            "patient_name": tags.get("PatientName", ""),
            "patient_birth_date": tags.get("PatientBirthDate", ""),
        }
    if level is levels.STUDY:
        patient_tags = parsed.main_tags[levels.PATIENT.name]
        return {
            "patient_main_tags": patient_tags,
            "patient_name": patient_tags.get("PatientName", ""),
            "study_instance_uid": parsed.identifiers["StudyInstanceUID"],
            "accession_number": tags.get("AccessionNumber", ""),
            "study_date": tags.get("StudyDate", ""),
            "study_description": tags.get("StudyDescription", ""),
        }
    if level is levels.SERIES:
        return {
            "series_instance_uid": parsed.identifiers["SeriesInstanceUID"],
            "modality": tags.get("Modality", ""),
        }
    return {}


def _get_or_create(level, parsed, parent, now):
    model = MODELS[level]
    defaults = {"main_tags": parsed.main_tags[level.name], "last_update": now}
    defaults.update(_resource_fields(level, parsed))
    if parent is not None:
        defaults[PARENT_FIELD[model]] = parent
    public_id = parsed.ids[levels.LEVELS.index(level)]
    # Concurrent arrivals of the same new resource: the loser's INSERT waits for the
    # winner's commit, fails on the unique public id, and get_or_create reads the row.
    return model.objects.get_or_create(public_id=public_id, defaults=defaults)


@dataclass
class Parents:
    """The patient, study and series of an arriving instance: primary keys, the LastUpdate
    of those that existed, and which are new."""

    pks: tuple  # patient, study, series
    last_updates: tuple  # None for a new one
    new: tuple  # bools


def _existing_parents(cursor, series_public_id):
    cursor.execute(PARENTS_SQL, [series_public_id])
    row = cursor.fetchone()
    if row is None:
        return None
    patient, study, series, *updates = row
    updates = tuple(_as_datetime(value) for value in updates)
    return Parents((patient, study, series), updates, (False, False, False))


def _as_datetime(value):
    # SQLite gives back its text, in UTC; PostgreSQL an aware datetime.
    if isinstance(value, str):
        value = parse_datetime(value)
    return value.replace(tzinfo=datetime.UTC) if value.tzinfo is None else value


PARENTS_SQL = (
    "SELECT p.id, st.id, se.id, p.last_update, st.last_update, se.last_update"
    f" FROM {Series._meta.db_table} se"
    f" JOIN {Study._meta.db_table} st ON st.id = se.study_id"
    f" JOIN {Patient._meta.db_table} p ON p.id = st.patient_id"
    " WHERE se.public_id = %s"
)


def _parents(cursor, parsed, now):
    """The parents of an arriving instance: one query when its series exists (the common
    case: every instance but a series' first)."""
    found = _existing_parents(cursor, parsed.ids[2])
    if found is not None:
        return found
    patient, new_patient = _get_or_create(levels.PATIENT, parsed, None, now)
    study, new_study = _get_or_create(levels.STUDY, parsed, patient, now)
    series, new_series = _get_or_create(levels.SERIES, parsed, study, now)
    resources = (patient, study, series)
    news = (new_patient, new_study, new_series)
    return Parents(
        tuple(r.pk for r in resources),
        tuple(None if new else r.last_update for r, new in zip(resources, news)),
        news,
    )


def _touch(cursor, parents, now):
    """LastUpdate of the existing parents. It is shown to the second (as Orthanc does) and
    ages a resource to stable by seconds: a parent already touched within this second is
    left alone, which spares most instances of a burst the UPDATEs. Done last, just before
    the commit: these row locks make concurrent uploads into one study wait for each other,
    so they are held for as short a time as possible."""
    for model, pk, last_update in zip((Patient, Study, Series), parents.pks, parents.last_updates):
        if last_update is not None and last_update.replace(microsecond=0) < now.replace(microsecond=0):
            cursor.execute(TOUCH_SQL[model], [_db_datetime(now), pk, _db_datetime(now)])


TOUCH_SQL = {
    model: f"UPDATE {model._meta.db_table} SET last_update = %s WHERE id = %s AND last_update < %s"
    for model in (Patient, Study, Series)
}


def _db_datetime(value):
    return connection.ops.adapt_datetimefield_value(value)


def _insert(cursor, model, rows):
    """INSERT rows ({field name: value}, all with the same fields) in one statement,
    each value prepared by its model field as the ORM would, without the ORM's per-call
    query building: this is the path of every arriving instance."""
    names = list(rows[0])
    fields = [model._meta.get_field(name) for name in names]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = f"INSERT INTO {model._meta.db_table} ({columns}) VALUES " + ", ".join([placeholders] * len(rows))
    cursor.execute(sql, [_prepare(field, row[name]) for row in rows for name, field in zip(names, fields)])


def _prepare(field, value):
    """A value as the database takes it, prepared by its model field as the ORM would."""
    if isinstance(field, JSONField):
        return _json_text(value)
    return field.get_db_prep_save(value, connection=connection)


class JsonText(str):
    """A value already written as JSON text."""


def _json_text(value):
    # A data set's JSON is the largest value of an instance's row (parsing wrote it out
    # already): orjson writes the others many times faster than the json module behind
    # JSONField (both databases read JSON text).
    if isinstance(value, JsonText):
        return value
    # Main tags are texts, which orjson always writes.
    return orjson.dumps(value).decode()


@dataclass(frozen=True)
class Link:
    """Orthanc's ModifiedFrom or AnonymizedFrom metadata of an instance made by /modify or
    /anonymize, and of its parents: what each level was made from."""

    field: str  # "modified_from" or "anonymized_from"
    sources: tuple  # public ids: patient, study, series, instance; None where the id is unchanged


LINK_FIELDS = ("modified_from", "anonymized_from")


def _link_parents(cursor, parents, link):
    # Orthanc sets the metadata at each store; the guard spares the write once it is set.
    for model, pk, source in zip((Patient, Study, Series), parents.pks, link.sources[:3]):
        if source:
            table, column = model._meta.db_table, connection.ops.quote_name(link.field)
            cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s AND {column} <> %s", [source, pk, source])


def _replace_existing(public_id):
    """Overwrite mode: remove the indexed copy; returns its file uuid (deleted after commit)."""
    existing = Instance.objects.select_for_update().filter(public_id=public_id).first()
    if existing is None:
        return None
    existing.delete()
    return existing.file_uuid


def add_instance(parsed, file_uuid, file_size, file_md5, origin, overwrite=False, link=None):
    """Index a parsed instance whose file is already stored, with its Link if it was made
    from another. Raises DuplicateInstance. Returns the file uuid of the copy it replaced
    (overwrite mode), or None."""
    for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
        try:
            return _add_instance_once(parsed, file_uuid, file_size, file_md5, origin, overwrite, link)
        except OperationalError as exc:
            # Two arrivals touching the same parents' LastUpdate may lock them in opposite
            # orders (the WITH clauses of explorer/index_statement.py run in no set order):
            # PostgreSQL then aborts one of them, whose whole work was rolled back; it is
            # done again. Inside a caller's transaction the caller has to start over.
            state = getattr(exc.__cause__, "sqlstate", None)  # a deadlock, a serialization failure
            if state not in ("40P01", "40001") or connection.in_atomic_block or attempt == DEADLOCK_ATTEMPTS:
                raise
            logger.info("Indexing %s met a deadlock; attempt %d again", parsed.ids[3], attempt + 1)


DEADLOCK_ATTEMPTS = 5


def _add_instance_once(parsed, file_uuid, file_size, file_md5, origin, overwrite, link):
    now = timezone.now()
    row = _instance_row(parsed, file_uuid, file_size, file_md5, origin, now, link)
    try:
        if not overwrite and link is None and index_statement.available():
            change = {"change_type": "NewInstance", "resource_type": levels.INSTANCE.name}
            change |= {"public_id": parsed.ids[3], "date": now}
            # Inside a transaction (a caller's, a test's) a savepoint keeps a refused instance
            # from spoiling it, as the general path's atomic block does.
            with transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext():
                if index_statement.add_to_indexed_series(parsed.ids[2], row, change, now, _prepare):
                    return None
        with transaction.atomic():
            return _add_instance(parsed, row, overwrite, now, link)
    except IntegrityError as exc:
        # The same SOP instance stored by a concurrent arrival: its INSERT failed on the
        # unique public id and the whole transaction was rolled back.
        raise DuplicateInstance(parsed.ids[3]) from exc


def _instance_row(parsed, file_uuid, file_size, file_md5, origin, now, link):
    """The Instance row's columns but its series. Every column is written: the INSERT goes
    around the ORM's defaults."""
    tags = parsed.main_tags["Instance"]
    linked = dict.fromkeys(LINK_FIELDS, "") | ({link.field: link.sources[3] or ""} if link is not None else {})
    return linked | {
        "public_id": parsed.ids[3],
        "main_tags": tags,
        "last_update": now,
        "sop_instance_uid": parsed.identifiers["SOPInstanceUID"],
        "index_in_series": _int_or_none(tags.get("InstanceNumber", tags.get("ImageIndex"))),
        "file_uuid": file_uuid,
        "file_size": file_size,
        "file_md5": file_md5,
        "transfer_syntax_uid": parsed.transfer_syntax_uid,
        "sop_class_uid": parsed.sop_class_uid,
        "dataset": JsonText(parsed.json_text),
        "received_at": now,
        "origin": origin.kind,
        "remote_aet": origin.remote_aet,
        "called_aet": origin.called_aet,
        "remote_ip": origin.remote_ip,
        "http_username": origin.username,
    }


def _add_instance(parsed, row, overwrite, now, link):
    replaced_file_uuid = _replace_existing(parsed.ids[3]) if overwrite else None
    with connection.cursor() as cursor:
        parents = _parents(cursor, parsed, now)
        _insert(cursor, Instance, [row | {"series": parents.pks[2]}])
        # Orthanc's order: the instance first, then each parent that is new.
        changes = [("NewInstance", levels.INSTANCE, parsed.ids[3])]
        for is_new, level, public_id in zip(
            reversed(parents.new), (levels.SERIES, levels.STUDY, levels.PATIENT), reversed(parsed.ids[:3])
        ):
            if is_new:
                changes.append((f"New{level.name}", level, public_id))
        _insert(
            cursor,
            Change,
            [
                {"change_type": kind, "resource_type": level.name, "public_id": public_id, "date": now}
                for kind, level, public_id in changes
            ],
        )
        if replaced_file_uuid is not None:
            transaction.on_commit(lambda: storage.delete(replaced_file_uuid))
        if link is not None:
            _link_parents(cursor, parents, link)
        _touch(cursor, parents, now)
    return replaced_file_uuid


def get(level, public_id):
    """The resource, or None."""
    return MODELS[level].objects.filter(public_id=public_id).first()


def instances_below(level, resource):
    """A queryset of the instances at or below a resource."""
    if level is levels.INSTANCE:
        return Instance.objects.filter(pk=resource.pk)
    path = {
        levels.SERIES: "series",
        levels.STUDY: "series__study",
        levels.PATIENT: "series__study__patient",
    }[level]
    return Instance.objects.filter(**{path: resource})


# From an instance, the identifier of the resource it belongs to at each level.
IDENTIFIER_OF_INSTANCE = {
    levels.PATIENT: "series__study__patient__patient_id",
    levels.STUDY: "series__study__study_instance_uid",
    levels.SERIES: "series__series_instance_uid",
    levels.INSTANCE: "sop_instance_uid",
}
# What sending an instance needs: its data set in the index is large and unused there.
SENDING_FIELDS = ("public_id", "sop_instance_uid", "sop_class_uid", "transfer_syntax_uid", "file_uuid")


def instances_to_send(level, identifiers):
    """The instances of the resources of a level whose identifier (PatientID or UID, the
    level's unique key) is one of these, series by series, in the order they arrived: light
    rows for C-MOVE and C-GET, whose files are at storage.path_for(instance.file_uuid)."""
    lookup = {f"{IDENTIFIER_OF_INSTANCE[level]}__in": identifiers}
    return Instance.objects.filter(**lookup).only(*SENDING_FIELDS).order_by("series_id", "pk")


def instances_to_send_by_accession_number(accession_numbers):
    """instances_to_send for the studies with one of these AccessionNumbers (a C-MOVE's
    other key at study level, as in Orthanc)."""
    lookup = {"series__study__accession_number__in": accession_numbers}
    return Instance.objects.filter(**lookup).only(*SENDING_FIELDS).order_by("series_id", "pk")


def resolve(public_id):
    """The level and resource of any public id, or (None, None)."""
    for level in levels.LEVELS:
        resource = MODELS[level].objects.filter(public_id=public_id).first()
        if resource is not None:
            return level, resource
    return None, None


def instances_of(public_ids):
    """The instances at or below each of the resources, in order, each once."""
    seen, found = set(), []
    for public_id in public_ids:
        level, resource = resolve(public_id)
        if resource is None:
            continue
        only = ("id", "public_id", "file_uuid", "sop_class_uid", "transfer_syntax_uid")
        for instance in instances_below(level, resource).only(*only).order_by("id"):
            if instance.pk not in seen:
                seen.add(instance.pk)
                found.append(instance)
    return found


def delete(level, resource):
    """Delete a resource and everything below it, then its ancestors left empty.

    Returns the nearest remaining ancestor as (level, resource), or None.
    """
    with transaction.atomic():
        file_uuids = list(instances_below(level, resource).values_list("file_uuid", flat=True))
        model = MODELS[level]
        parent = getattr(resource, PARENT_FIELD[model]) if model in PARENT_FIELD else None
        parent_level = levels.parent_of(level)
        _forget_changes(level, resource)
        resource.delete()
        while parent is not None:
            children = getattr(parent, {Patient: "studies", Study: "series", Series: "instances"}[type(parent)])
            if children.exists():
                break
            grandparent_model = type(parent)
            next_parent = (
                getattr(parent, PARENT_FIELD[grandparent_model]) if grandparent_model in PARENT_FIELD else None
            )
            Change.objects.filter(public_id=parent.public_id).delete()
            parent.delete()
            parent, parent_level = next_parent, levels.parent_of(parent_level)
        transaction.on_commit(lambda: [storage.delete(u) for u in file_uuids])
    return (parent_level, parent) if parent is not None else None


CHUNK = 500  # ids per IN (…) clause: SQLite limits the parameters of a query


def delete_instances(public_ids):
    """Delete these instances, then their series, studies and patients left empty, in one
    transaction; the files go after the commit. Unknown ids are ignored."""
    public_ids = list(public_ids)
    with transaction.atomic():
        file_uuids, series_pks = [], set()
        for start in range(0, len(public_ids), CHUNK):
            chunk = public_ids[start : start + CHUNK]
            rows = Instance.objects.filter(public_id__in=chunk).values_list("pk", "file_uuid", "series_id")
            pks = [pk for pk, _, _ in rows]
            file_uuids += [file_uuid for _, file_uuid, _ in rows]
            series_pks |= {series for _, _, series in rows}
            Change.objects.filter(resource_type=levels.INSTANCE.name, public_id__in=chunk).delete()
            Instance.objects.filter(pk__in=pks).delete()
        parents = series_pks
        for model, child_field, parent_field in (
            (Series, "instances", "study_id"),
            (Study, "series", "patient_id"),
            (Patient, "studies", None),
        ):
            empty = model.objects.filter(pk__in=parents, **{f"{child_field}__isnull": True})
            rows = list(empty.values_list("pk", "public_id", *([parent_field] if parent_field else [])))
            if not rows:
                break
            Change.objects.filter(resource_type=model.__name__, public_id__in=[r[1] for r in rows]).delete()
            model.objects.filter(pk__in=[r[0] for r in rows]).delete()
            parents = {r[2] for r in rows} if parent_field else set()
        transaction.on_commit(lambda: [storage.delete(u) for u in file_uuids])


# From a resource of a level, the path to it from the models of the levels below.
PATHS_FROM_BELOW = {
    levels.PATIENT: {Study: "patient", Series: "study__patient", Instance: "series__study__patient"},
    levels.STUDY: {Series: "study", Instance: "series__study"},
    levels.SERIES: {Instance: "series"},
    levels.INSTANCE: {},
}


def _forget_changes(level, resource):
    """The change log forgets a deleted resource and everything below it, as Orthanc's does
    (its changes cascade with the resource), before the resources go. One DELETE per level:
    each joins its subquery through the index on public_id, where an OR of them would scan
    the whole log."""
    Change.objects.filter(public_id=resource.public_id).delete()
    for model, path in PATHS_FROM_BELOW[level].items():
        below = model.objects.filter(**{path: resource}).values("public_id")
        Change.objects.filter(resource_type=model.__name__, public_id__in=below).delete()


# What /tools/lookup compares, as Orthanc 1.10.1 does: the four identifiers, ignoring case
# and surrounding spaces. UIDs are digits and dots, whose exact match their index serves; a
# PatientID is compared ignoring case.
LOOKUP_FIELDS = (
    (levels.PATIENT, Patient, "patient_id__iexact"),
    (levels.STUDY, Study, "study_instance_uid"),
    (levels.SERIES, Series, "series_instance_uid"),
    (levels.INSTANCE, Instance, "sop_instance_uid"),
)
# The explorer's lookup also takes an AccessionNumber, which Orthanc's /tools/lookup does not.
ACCESSION_NUMBER = (levels.STUDY, Study, "accession_number")


def lookup_identifier(identifier, accession_number=False):
    """Every resource whose identifier (PatientID or a UID; with `accession_number`, an
    AccessionNumber too) is the given text, case aside."""
    identifier = identifier.strip()
    found = []
    if not identifier:
        return found
    fields = (*LOOKUP_FIELDS[:2], ACCESSION_NUMBER, *LOOKUP_FIELDS[2:]) if accession_number else LOOKUP_FIELDS
    for level, model, lookup in fields:
        for public_id in model.objects.filter(**{lookup: identifier}).values_list("public_id", flat=True):
            found.append({"ID": public_id, "Path": f"/{level.plural}/{public_id}", "Type": level.name})
    return found


def studies_with_uids(uids):
    """The stored studies among these StudyInstanceUIDs, with their patient."""
    return Study.objects.filter(study_instance_uid__in=[uid for uid in uids if uid]).select_related("patient")


def series_with_uids(uids):
    """The stored series among these SeriesInstanceUIDs."""
    return Series.objects.filter(series_instance_uid__in=[uid for uid in uids if uid])
