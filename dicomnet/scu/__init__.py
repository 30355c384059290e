"""Our SCU: C-ECHO, C-STORE, C-FIND, C-MOVE and C-GET against a remote modality, as plain functions.

Each function takes a `Modality` row and plain values, opens its own association and
closes it before returning; none of them knows about queues, jobs or requests.

    association.py  the association every operation opens, stop and progress helpers, C-ECHO
    errors.py       what the SCU raises, and Orthanc's wording of a failure
    store.py        C-STORE
    find.py         C-FIND, and the identifiers of queries and retrieves
    retrieve.py     C-MOVE and C-GET

This package is a small facade: callers write `from dicomnet import scu` and call
`scu.echo`, `scu.store`, `scu.find`, `scu.move` and `scu.get`, catching the exceptions
below, without knowing which module holds what. The functions `store` and `find` hide
the modules of the same names as attributes of the package, so reach a module's
internals (or monkeypatch them) with `from dicomnet.scu import association` or
`from dicomnet.scu.store import ...`, never with `scu.store.<name>`.
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
from dicomnet.scu.find import find
from dicomnet.scu.retrieve import get, move
from dicomnet.scu.store import store

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
]
