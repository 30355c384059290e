"""Storage SOP classes that pynetdicom does not know, served by its storage service.

pynetdicom picks the service of a DIMSE request by its SOP class (sop_class.uid_to_service_class):
a C-STORE of a class missing from its list of storage classes (a retired one such as
Ultrasound Image Storage 1.2.840.10008.5.1.4.1.1.6, or an unknown one accepted with
UnknownSopClassAccepted) finds no service, and pynetdicom aborts the association. Each class
the server accepts for storage is added to that list before the association is accepted.
(pynetdicom's own switch for this, _config.UNRESTRICTED_STORAGE_SERVICE, also accepts every
unknown class in any transfer syntax, for every association: not what the settings say.)

Private names of pynetdicom used here, and why: sop_class._STORAGE_CLASSES, the list of
storage classes that uid_to_service_class reads. It is replaced by a new dict, never changed
in place: a thread may be iterating the old one.
"""

import threading

from pynetdicom import sop_class

PRIVATE_NAMES = ("_STORAGE_CLASSES",)

_lock = threading.Lock()
# The UIDs of _STORAGE_CLASSES as a set: checked for every class of every association.
_served = frozenset(sop_class._STORAGE_CLASSES.values())


def serve_as_storage(uids):
    """Make pynetdicom's storage service serve C-STOREs of these SOP classes."""
    global _served
    missing = [uid for uid in uids if uid not in _served]
    if not missing:
        return
    with _lock:
        classes = dict(sop_class._STORAGE_CLASSES)
        for uid in missing:
            if uid not in _served:
                classes[f"Pharos{uid}"] = uid
        sop_class._STORAGE_CLASSES = classes
        _served = frozenset(classes.values())
