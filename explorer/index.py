"""The database side of the index: add an instance, delete a resource, count things.

Every change to the index happens in one transaction; files are removed only
after the transaction that forgot them has committed.
"""

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from explorer import levels, storage
from explorer.models import Change, Instance, Patient, Series, Study

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


@dataclass
class Added:
    instance: Instance
    replaced_file_uuid: object = None


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
        return {
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


def _parents(parsed, now):
    """(patient, study, series, which of them are new): one query when the series exists."""
    series = Series.objects.select_related("study__patient").filter(public_id=parsed.ids[2]).first()
    if series is not None:
        return series.study.patient, series.study, series, (False, False, False)
    patient, new_patient = _get_or_create(levels.PATIENT, parsed, None, now)
    study, new_study = _get_or_create(levels.STUDY, parsed, patient, now)
    series, new_series = _get_or_create(levels.SERIES, parsed, study, now)
    return patient, study, series, (new_patient, new_study, new_series)


def _touch(resources, now):
    """LastUpdate of the existing parents. Done last, just before the commit: these row
    locks make concurrent uploads into one study wait for each other, so they are held
    for as short a time as possible (and a separate transaction would cost a commit each)."""
    for resource in resources:
        type(resource).objects.filter(pk=resource.pk, last_update__lt=now).update(last_update=now)


def _replace_existing(public_id):
    """Overwrite mode: remove the indexed copy; returns its file uuid (deleted after commit)."""
    existing = Instance.objects.select_for_update().filter(public_id=public_id).first()
    if existing is None:
        return None
    existing.delete()
    return existing.file_uuid


def add_instance(parsed, file_uuid, file_size, file_md5, origin, overwrite=False):
    """Index a parsed instance whose file is already stored. Raises DuplicateInstance."""
    now = timezone.now()
    try:
        with transaction.atomic():
            return _add_instance(parsed, file_uuid, file_size, file_md5, origin, overwrite, now)
    except IntegrityError as exc:
        # The same SOP instance stored by a concurrent arrival: its INSERT failed on the
        # unique public id and the whole transaction was rolled back.
        raise DuplicateInstance(parsed.ids[3]) from exc


def _add_instance(parsed, file_uuid, file_size, file_md5, origin, overwrite, now):
    replaced_file_uuid = _replace_existing(parsed.ids[3]) if overwrite else None
    patient, study, series, (new_patient, new_study, new_series) = _parents(parsed, now)
    tags = parsed.main_tags["Instance"]
    instance = Instance.objects.create(
        public_id=parsed.ids[3],
        series=series,
        main_tags=tags,
        last_update=now,
        sop_instance_uid=parsed.identifiers["SOPInstanceUID"],
        index_in_series=_int_or_none(tags.get("InstanceNumber", tags.get("ImageIndex"))),
        file_uuid=file_uuid,
        file_size=file_size,
        file_md5=file_md5,
        transfer_syntax_uid=parsed.transfer_syntax_uid,
        sop_class_uid=parsed.sop_class_uid,
        dataset=parsed.json,
        received_at=now,
        origin=origin.kind,
        remote_aet=origin.remote_aet,
        called_aet=origin.called_aet,
        remote_ip=origin.remote_ip,
        http_username=origin.username,
    )
    # Orthanc's order: the instance first, then each parent that is new.
    changes = [("NewInstance", levels.INSTANCE, parsed.ids[3])]
    for is_new, level, public_id in (
        (new_series, levels.SERIES, parsed.ids[2]),
        (new_study, levels.STUDY, parsed.ids[1]),
        (new_patient, levels.PATIENT, parsed.ids[0]),
    ):
        if is_new:
            changes.append((f"New{level.name}", level, public_id))
    Change.objects.bulk_create(
        Change(change_type=kind, resource_type=level.name, public_id=public_id, date=now)
        for kind, level, public_id in changes
    )
    if replaced_file_uuid is not None:
        transaction.on_commit(lambda: storage.delete(replaced_file_uuid))
    _touch([r for r, new in ((series, new_series), (study, new_study), (patient, new_patient)) if not new], now)
    return Added(instance=instance, replaced_file_uuid=replaced_file_uuid)


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
        resource.delete()
        while parent is not None:
            children = getattr(parent, {Patient: "studies", Study: "series", Series: "instances"}[type(parent)])
            if children.exists():
                break
            grandparent_model = type(parent)
            next_parent = getattr(parent, PARENT_FIELD[grandparent_model]) if grandparent_model in PARENT_FIELD else None
            parent.delete()
            parent, parent_level = next_parent, levels.parent_of(parent_level)
        transaction.on_commit(lambda: [storage.delete(u) for u in file_uuids])
    return (parent_level, parent) if parent is not None else None


def resource_statistics(level, resource):
    """Orthanc's /{level}/{id}/statistics numbers for one resource."""
    totals = instances_below(level, resource).aggregate(
        count_instances=Count("id"),
        total_size=Sum("file_size"),
        count_series=Count("series_id", distinct=True),
        count_studies=Count("series__study_id", distinct=True),
    )
    return {
        "instances": totals["count_instances"],
        "series": totals["count_series"],
        "studies": totals["count_studies"],
        "size": totals["total_size"] or 0,
    }


def global_statistics():
    size = Instance.objects.aggregate(size=Sum("file_size"))["size"] or 0
    return {
        "patients": Patient.objects.count(),
        "studies": Study.objects.count(),
        "series": Series.objects.count(),
        "instances": Instance.objects.count(),
        "size": size,
    }
