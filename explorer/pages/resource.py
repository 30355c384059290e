"""One resource's page: the resource with its ancestors, a module of main tags for each
level from the patient down, the breadcrumbs, and what can be done with it."""

from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone
from pydicom.datadict import dictionary_VR, tag_for_keyword

from explorer import index, levels, series_status
from explorer.pages.children import neighbour_annotations
from explorer.pages.formatting import (
    date_note,
    file_size,
    format_date,
    format_moment,
    format_value,
    person_name,
    readable_label,
    uid_name,
)
from explorer.pages.links import archive_url, delete_url, resource_url, viewer_url

# What to load with a resource so that its ancestors come in the same query.
ANCESTORS = {
    levels.PATIENT: (),
    levels.STUDY: ("patient",),
    levels.SERIES: ("study__patient",),
    levels.INSTANCE: ("series__study__patient",),
}
PARENT_ATTRIBUTE = {levels.STUDY: "patient", levels.SERIES: "study", levels.INSTANCE: "series"}


def load(level, public_id):
    """The resource with its ancestors, or None. An instance's data set comes along: its page shows
    it, and so do its neighbours in the series (explorer.pages.children.series_neighbours)."""
    model = index.model_for(level)
    found = model.objects.select_related(*ANCESTORS[level])
    if level is levels.INSTANCE:
        found = found.annotate(**neighbour_annotations())
    return found.filter(public_id=public_id).first()


def lineage(level, resource):
    """[(level, resource)] from the patient down to this resource."""
    chain = [(level, resource)]
    while chain[0][0] in PARENT_ATTRIBUTE:
        child_level, child = chain[0]
        chain.insert(0, (levels.parent_of(child_level), getattr(child, PARENT_ATTRIBUTE[child_level])))
    return chain


@dataclass
class Field:
    label: str
    value: str
    keyword: str = ""
    mono: bool = False  # UIDs and lists of numbers read better in a fixed-width font
    note: str = ""  # what the value means, as a tooltip and for screen readers
    mark: str = ""  # a short visible sign that the note matters ("?" on a date shown as written)


@dataclass
class Module:
    level: str  # "Patient"
    title: str
    url: str
    fields: list
    current: bool = False


def title_of(level, resource):
    """How a resource is named in breadcrumbs and module headings."""
    main = resource.main_tags
    if level is levels.PATIENT:
        return person_name(main.get("PatientName", "")) or main.get("PatientID") or "Unnamed patient"
    if level is levels.STUDY:
        return main.get("StudyDescription") or format_date(main.get("StudyDate", "")) or "Study"
    if level is levels.SERIES:
        parts = [main.get("Modality", ""), main.get("SeriesDescription", "")]
        text = " · ".join(part for part in parts if part)
        return text or f"Series {main.get('SeriesNumber', '')}".strip()
    number = main.get("InstanceNumber") or main.get("ImageIndex")
    return f"Instance {number}" if number else "Instance"


# The levels above the page's resource show only what identifies them, so that the page's
# own module and its actions stay in sight; their full modules are one click away.
SUMMARY_TAGS = {
    levels.PATIENT: ("PatientName", "PatientID", "PatientBirthDate", "PatientSex"),
    levels.STUDY: ("StudyDate", "StudyDescription", "AccessionNumber"),
    levels.SERIES: ("Modality", "SeriesNumber", "SeriesDescription", "SeriesDate"),
}


def main_tag_fields(level, main_tags, keywords=None):
    """The level's main tags in Orthanc's order (or the given keywords), empty ones left out."""
    fields = []
    for keyword in keywords or level.main_tags:
        text = main_tags.get(keyword)
        if text:
            tag = tag_for_keyword(keyword)
            vr = dictionary_VR(tag) if tag is not None else ""
            mono = vr == "UI" or "\\" in text
            field = Field(readable_label(keyword), format_value(keyword, text), keyword, mono)
            if vr == "DA" and date_note(text):
                field.note, field.mark = date_note(text), "?"
            fields.append(field)
    return fields


def file_fields(instance):
    """What the instance page adds about the stored file."""
    origin = instance.origin
    sender = instance.remote_aet or instance.remote_ip or instance.http_username
    if sender:
        origin = f"{origin} ({sender})"
    return [
        Field("SOP Class", uid_name(instance.sop_class_uid)),
        Field("Transfer Syntax", uid_name(instance.transfer_syntax_uid)),
        Field("File size", file_size(instance.file_size)),
        Field("Received", format_moment(instance.received_at)),
        Field("Origin", origin),
    ]


def status_note(status, expected, count):
    """What a series status means, in words."""
    if status == "Complete":
        return f"Every one of the {expected} instances the series' tags announce is here."
    if status == "Missing":
        return f"The series' tags announce {expected} instances; {count} are here, some are still missing."
    if status == "Inconsistent":
        return (
            f"The series' tags announce {expected} instances, but the instances' numbers do not fit:"
            " one is repeated, missing or beyond that count."
        )
    return (
        "The series' tags do not say how many instances it has (Images in Acquisition, Number of Slices"
        " or Cardiac Number of Images): whether it is complete is unknown."
    )


def series_fields(series, instance_indexes):
    """The series status (Complete, Missing, …), explained, and its instance count, as
    Orthanc's explorer shows them."""
    expected = series_status.expected_instances(series.main_tags)
    count = len(instance_indexes)
    status = series_status.series_status(expected, instance_indexes)
    shown = f"{count} / {expected}" if expected else str(count)
    return [Field("Status", status, note=status_note(status, expected, count)), Field("Instances", shown)]


def stability_fields(resource, now=None):
    """Whether a study or series is stable (no new instance for StableAge seconds, when the
    change log records Stable<Level>), with the moment its last instance arrived."""
    age = settings.PHAROS_STABLE_AGE
    quiet = ((now or timezone.now()) - resource.last_update).total_seconds() >= age
    if quiet:
        state = Field("State", "Stable", note=f"No new instance has arrived for {age} seconds or more.")
    else:
        state = Field("State", "Receiving", note=f"An instance arrived less than {age} seconds ago: more may follow.")
    return [state, Field("Last instance received", format_moment(resource.last_update))]


def modules(level, resource, extra_fields=()):
    """One module per level from the patient down to this resource; the current one gets `extra_fields`."""
    found = []
    for each_level, each in lineage(level, resource):
        current = each is resource
        if current:
            fields = main_tag_fields(each_level, each.main_tags) + list(extra_fields)
        else:
            fields = main_tag_fields(each_level, each.main_tags, SUMMARY_TAGS[each_level])
        found.append(
            Module(
                level=each_level.name,
                title=title_of(each_level, each),
                url=resource_url(each_level, each.public_id),
                fields=fields,
                current=current,
            )
        )
    return found


@dataclass
class Crumb:
    level: str
    label: str
    url: str
    current: bool = False


def breadcrumbs(level, resource):
    return [
        Crumb(each_level.name, title_of(each_level, each), resource_url(each_level, each.public_id), each is resource)
        for each_level, each in lineage(level, resource)
    ]


# "Download as…": the transfer syntaxes a file or an archive can be asked in (?transcode=UID).
DOWNLOAD_SYNTAXES = (
    ("Explicit VR Little Endian", "1.2.840.10008.1.2.1"),
    ("Implicit VR Little Endian", "1.2.840.10008.1.2"),
    ("JPEG-LS lossless", "1.2.840.10008.1.2.4.80"),
    ("JPEG 2000 lossless", "1.2.840.10008.1.2.4.90"),
    ("RLE lossless", "1.2.840.10008.1.2.5"),
    ("JPEG 2000 (lossy)", "1.2.840.10008.1.2.4.91"),
    ("JPEG baseline (lossy, 8-bit)", "1.2.840.10008.1.2.4.50"),
    ("Deflated", "1.2.840.10008.1.2.1.99"),
)


@dataclass
class Download:
    label: str
    url: str
    uid: str = ""  # "" as stored


def downloads_as(url):
    """The same download as stored, then in each transfer syntax."""
    return [Download("As stored", url)] + [
        Download(label, f"{url}?transcode={uid}", uid) for label, uid in DOWNLOAD_SYNTAXES
    ]


@dataclass
class Actions:
    delete_url: str
    archive_url: str = ""  # no archive for a single instance: its file is the download
    file_url: str = ""
    png_url: str = ""
    download_as: list = None  # [Download] of the file or the archive (a patient's only as stored)
    changeable: bool = False  # modify and anonymize are jobs at these levels (an instance's: REST only)
    viewer_url: str = ""  # a study's or a series' in the OHIF viewer


def actions(level, resource):
    public_id = resource.public_id
    if level is levels.INSTANCE:
        file_url = f"/instances/{public_id}/file"
        return Actions(
            delete_url=delete_url(level, public_id),
            file_url=file_url,
            png_url=f"/instances/{public_id}/preview?returnUnsupportedImage",
            download_as=downloads_as(file_url),
        )
    archive = archive_url(level, public_id)
    return Actions(
        delete_url=delete_url(level, public_id),
        archive_url=archive,
        download_as=downloads_as(archive) if level is not levels.PATIENT else [],
        changeable=True,
        viewer_url=in_viewer(level, resource),
    )


def in_viewer(level, resource):
    if level is levels.STUDY:
        return viewer_url(resource.study_instance_uid)
    if level is levels.SERIES:
        return viewer_url(resource.study.study_instance_uid, resource.series_instance_uid)
    return ""


@dataclass
class ResourcePage:
    """What every resource page has: who it is, where it sits, and what can be done with it."""

    level: str
    public_id: str
    title: str
    breadcrumbs: list
    modules: list
    actions: Actions


def resource_page(level, resource, extra_fields=()):
    return ResourcePage(
        level=level.name,
        public_id=resource.public_id,
        title=title_of(level, resource),
        breadcrumbs=breadcrumbs(level, resource),
        modules=modules(level, resource, extra_fields),
        actions=actions(level, resource),
    )
