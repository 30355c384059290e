"""The one switch for the speed-ups that reach into a library's internals.

Three seams hold every such reach, each listing the private names it uses in PRIVATE_NAMES
and the library version they were read from in READ_FROM: dicomnet/wire/ (pynetdicom),
explorer/pydicom_compat.py (pydicom) and explorer/web_worker.py (gunicorn). A seam's fast
paths run when PHAROS_FAST_PATHS is on and the installed library is that very version;
otherwise the library runs as it comes: PHAROS_FAST_PATHS=off to debug a peer on the stock
library, and a library upgraded before its seam was read again is never run with names
that may have changed meaning.
"""

import functools
import logging
from importlib import metadata

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

logger = logging.getLogger("explorer")

# {(library, read_from): whether its fast paths run}. Asked for every instance stored, where
# reading a Django setting (about half a microsecond) would already be a cost.
decided = {}


def enabled(library, read_from):
    """Whether the fast paths of the seam read from `library` at version `read_from` run."""
    try:
        return decided[library, read_from]
    except KeyError:
        answer = decided[library, read_from] = settings.PHAROS_FAST_PATHS and version_matches(library, read_from)
        return answer


@receiver(setting_changed)
def setting_changed_in_tests(setting, **kwargs):
    if setting == "PHAROS_FAST_PATHS":
        decided.clear()


@functools.cache
def version_matches(library, read_from):
    """Whether the installed `library` is version `read_from`; warns once per process when not."""
    try:
        installed = metadata.version(library)
    except metadata.PackageNotFoundError:
        installed = "unknown"
    if installed == read_from:
        return True
    logger.warning(
        "%s %s is installed, but Pharos's fast paths through its internals were read from %s %s: "
        "they are off, and %s runs as it comes",
        library, installed, library, read_from, library,
    )  # fmt: skip
    return False


def check_versions(*seams):
    """Warn now, at start, about every seam whose library is not the version it was read from
    (each seam is a (library, read_from) pair)."""
    return all([version_matches(library, read_from) for library, read_from in seams])
