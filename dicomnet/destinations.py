"""Where the explorer sends resources: a DICOM modality (C-STORE), a DICOMweb server (STOW-RS)
or an Orthanc peer (its REST API), the three kinds of one "Send" control.

A destination is named by one value, "kind:name" ("modality:pacs", "dicomweb:cloud",
"peer:backup"), so that a form never depends on the order of a list or on a name that two
kinds share: the value posted says what it is, and `find` refuses one that no longer names a
configured destination rather than guessing. `start_send` starts the same job the REST API starts
for that kind (POST /modalities/{name}/store, /dicom-web/servers/{name}/stow,
/peers/{name}/store), with the same audit record.
"""

from dataclasses import dataclass, field

from django.db import transaction

from dicomnet import jobs
from dicomnet.dicomweb import jobs as web_jobs
from dicomnet.models import DicomWebServer, Modality, OrthancPeer
from dicomnet.peers import jobs as peer_jobs


class UnknownDestination(Exception):
    """A "kind:name" value that names no configured destination (a stale page, a typed URL)."""


@dataclass(frozen=True)
class Kind:
    key: str  # the "kind" of "kind:name"
    label: str  # "DICOM modality"
    plural: str  # "DICOM modalities", the heading of its group in a list
    model: type
    admin_add: str  # the admin page that adds one

    def address(self, remote):
        if self.model is Modality:
            return f"{remote.aet}@{remote.host}:{remote.port}"
        return remote.url

    def short_address(self, remote):
        """What a message names after the destination: its AE title, or its URL."""
        return remote.aet if self.model is Modality else remote.url


MODALITY = Kind("modality", "DICOM modality", "DICOM modalities", Modality, "admin:dicomnet_modality_add")
DICOMWEB = Kind("dicomweb", "DICOMweb server", "DICOMweb servers", DicomWebServer, "admin:dicomnet_dicomwebserver_add")
PEER = Kind("peer", "Orthanc peer", "Orthanc peers", OrthancPeer, "admin:dicomnet_orthancpeer_add")
KINDS = (MODALITY, DICOMWEB, PEER)
KINDS_BY_KEY = {kind.key: kind for kind in KINDS}


@dataclass(frozen=True)
class Destination:
    kind: Kind
    name: str
    address: str
    short_address: str
    remote: object = field(default=None, compare=False, repr=False)  # the model instance

    @property
    def value(self):
        return f"{self.kind.key}:{self.name}"

    @property
    def label(self):
        return f"{self.name} ({self.address})"

    @classmethod
    def of(cls, kind, remote):
        return cls(kind, remote.name, kind.address(remote), kind.short_address(remote), remote)


def listing(kinds=KINDS):
    """[(kind, [destination, …])] in the order of `kinds`, each sorted by name: one query per kind."""
    return [(kind, [Destination.of(kind, remote) for remote in kind.model.objects.order_by("name")]) for kind in kinds]


def choices(kinds=KINDS):
    """The grouped choices of a form's select: [(group label, [(value, label), …])], empty groups left out."""
    return [(kind.plural, [(d.value, d.label) for d in found]) for kind, found in listing(kinds) if found]


def find(value, kinds=KINDS):
    """The destination a "kind:name" value names; UnknownDestination says why there is none."""
    key, separator, name = str(value or "").partition(":")
    kind = KINDS_BY_KEY.get(key)
    if not separator or kind is None or kind not in kinds:
        allowed = ", ".join(f"“{k.key}:NAME”" for k in kinds)
        raise UnknownDestination(f"“{value}” is not a destination: expected {allowed}.")
    remote = kind.model.objects.filter(name=name).first()
    if remote is None:
        raise UnknownDestination(f"There is no {kind.label} named “{name}” (any more): choose the destination again.")
    return Destination.of(kind, remote)


# How each kind starts its job, as its REST route does (with the same audit record).
def _send_to_modality(destination, resources, request):
    parameters = {"Modality": destination.name, "Resources": resources}
    jobs.record_asked("DicomModalityStore", parameters)
    with transaction.atomic():
        return jobs.submit("DicomModalityStore", parameters)


def _send_to_dicomweb(destination, resources, request):
    return web_jobs.start_stow(destination.remote, resources, user=getattr(request, "user", None))


def _send_to_peer(destination, resources, request):
    return peer_jobs.start_store(destination.remote, resources, request)


START = {MODALITY.key: _send_to_modality, DICOMWEB.key: _send_to_dicomweb, PEER.key: _send_to_peer}


def sendable():
    """The kinds a resource can be sent to, in the order the control lists them."""
    return tuple(kind for kind in KINDS if kind.key in START)


def start_send(destination, resources, request=None):
    """Start the job sending `resources` (public ids) to the destination, asked by the user of
    `request`; the Job, queued once the transaction commits."""
    return START[destination.kind.key](destination, list(resources), request)
