"""Our SCU: C-ECHO, C-STORE, C-FIND, C-MOVE and C-GET against a remote modality, as plain functions.

Each function takes a `Modality` row and plain values and opens its own association, or
borrows one the previous operation with the same parameters left open for
PHAROS_DICOM_ASSOCIATION_CLOSE_DELAY seconds (pool.py); none of them knows about queues,
jobs or requests.

    association.py  the association every operation opens, stop and progress helpers, C-ECHO
    pool.py         associations kept open after an operation, for the next one to reuse
    errors.py       what the SCU raises, and Orthanc's wording of a failure
    sending.py      C-STORE
    querying.py     C-FIND, and the identifiers of queries and retrieves
    retrieving.py   C-MOVE and C-GET

This package is a small facade: callers write `from dicomnet import scu` and call
`scu.echo`, `scu.store`, `scu.find`, `scu.move` and `scu.get`, catching the exceptions
below, without knowing which module holds what. The modules are named for what they do
(sending, querying, retrieving) so that no function hides a module of the same name.
"""

from dicomnet.scu.association import echo
from dicomnet.scu.errors import (
    AssociationAborted,
    AssociationRejected,
    BadQuery,
    NetworkError,
    RemoteFailure,
    ScuError,
    Stopped,
)
from dicomnet.scu.querying import find
from dicomnet.scu.retrieving import get, move
from dicomnet.scu.sending import store, store_content

__all__ = [
    "AssociationAborted",
    "AssociationRejected",
    "BadQuery",
    "NetworkError",
    "RemoteFailure",
    "ScuError",
    "Stopped",
    "echo",
    "find",
    "get",
    "move",
    "store",
    "store_content",
]
