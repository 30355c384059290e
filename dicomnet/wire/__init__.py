"""The one room where Pharos reaches into pynetdicom's internals (pynetdicom 3.0.4).

The DICOM server's speed-ups replace parts of pynetdicom's loops or write its wire bytes:

- reactors: accepted associations whose two threads sleep until something arrives, instead
  of polling every millisecond; every byte sent goes through one locked Socket.send;
- store_response: successful C-STORE responses written as bytes by the handler's thread;
- find_encoding: C-FIND identifiers and pending responses as bytes;
- move_answer: C-MOVE refusals and asynchronous moves answered before pynetdicom's service;
- pending: those pending responses written to the socket, many per write;
- server: the server made with these classes, its presentation contexts shared;
- storage_classes: storage SOP classes pynetdicom does not know (retired, unknown) served by
  its storage service;
- config: pynetdicom's process-wide settings, and where received data sets are written;
- incoming: those files, removed when their writing fails or their association ends.

Each module lists the private names of pynetdicom it uses in PRIVATE_NAMES, with the reasons
in its docstring; nothing outside this package names them. They were read from pynetdicom
READ_FROM, which pyproject.toml pins to its minor version. When PHAROS_FAST_PATHS is off, or
another pynetdicom is installed (explorer/fast_paths.py warns once), the server runs
pynetdicom's own RequestHandler and Association: pynetdicom then sends every response and
encodes every C-FIND answer.
"""

import importlib

from explorer import fast_paths as switch

READ_FROM = ("pynetdicom", "3.0.4")
MODULES = (
    "config",
    "find_encoding",
    "incoming",
    "move_answer",
    "pending",
    "reactors",
    "server",
    "storage_classes",
    "store_response",
)


def fast_paths():
    """Whether the server runs this package's classes: PHAROS_FAST_PATHS is on and the
    installed pynetdicom is READ_FROM's."""
    return switch.enabled(*READ_FROM)


def versions_match():
    """Whether the installed pynetdicom is the one this package was read from (warns once when not)."""
    return switch.version_matches(*READ_FROM)


def private_names():
    """{module name: the private pynetdicom names it uses} for every module of the seam."""
    return {name: importlib.import_module(f"{__name__}.{name}").PRIVATE_NAMES for name in MODULES}
