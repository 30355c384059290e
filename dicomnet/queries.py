"""Remote queries kept in the database: one C-FIND and its answers become a RemoteQuery.

REST `/modalities/{name}/query` and the explorer's Query/Retrieve page both call
`run_query`, so a search made in the browser is the same object a REST client sees at
`/queries/{id}`, and can be retrieved either way. `move_parameters` is what a retrieve of
some of its answers asks of a DicomMoveScu job, as REST `…/retrieve` builds it.
"""

from django.conf import settings
from django.db import transaction

from dicomnet import scu
from dicomnet.models import RemoteAnswer, RemoteQuery
from explorer import tags

# The keys a C-MOVE identifier carries for an answer at each level (Orthanc's).
UNIQUE_KEYS = {
    "Patient": ("PatientID",),
    "Study": ("PatientID", "StudyInstanceUID"),
    "Series": ("PatientID", "StudyInstanceUID", "SeriesInstanceUID"),
    "Instance": ("PatientID", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"),
}


def run_query(modality, level_name, wanted, normalize=True):
    """C-FIND `wanted` ({keyword: value}) at a level; the answers are stored with the query,
    and only the newest PHAROS_QUERIES_KEPT queries are kept. Raises scu.ScuError when the
    modality cannot be asked, scu.BadQuery for a key that cannot be encoded."""
    answers, dropped = scu.find(modality, level_name, wanted, normalize=normalize)
    with transaction.atomic():
        stored = RemoteQuery.objects.create(
            modality=modality.name, level=level_name, query=wanted, dropped_keys=dropped
        )
        RemoteAnswer.objects.bulk_create(
            RemoteAnswer(query=stored, position=i, content=answer.to_json_dict()) for i, answer in enumerate(answers)
        )
        forget_old_queries()
    return stored


def forget_old_queries():
    old = RemoteQuery.objects.order_by("-created").values_list("id", flat=True)[settings.PHAROS_QUERIES_KEPT :]
    RemoteQuery.objects.filter(id__in=list(old)).delete()


def identifier(level_name, content):
    """The unique keys of an answer (DICOM JSON), as a C-MOVE of it needs them."""
    simplified = tags.simplified_tags(content)
    return {key: simplified.get(key) or "" for key in UNIQUE_KEYS[level_name]}


def move_parameters(stored, chosen_answers, target_aet=None):
    """A DicomMoveScu job's parameters for some answers of a stored query."""
    return {
        "Modality": stored.modality,
        "Level": stored.level,
        "Identifiers": [identifier(stored.level, answer.content) for answer in chosen_answers],
        "TargetAet": target_aet or settings.PHAROS_AET,
    }
