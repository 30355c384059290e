"""Who may do what over DICOM: Orthanc's rules, with modalities from the database."""

import logging

from django.conf import settings

from dicomnet.aet import same_aet
from dicomnet.models import Modality

logger = logging.getLogger("dicomnet")

OPERATIONS = ("echo", "store", "find", "move", "get")


def known_modality(calling_aet, address):
    """The configured modality that this AE title (and, if the setting says so, address) names."""
    # Filtered in the database: this runs for every C-STORE.
    for modality in Modality.objects.filter(aet__iexact=(calling_aet or "").strip()):
        if not same_aet(modality.aet, calling_aet):
            continue
        if settings.PHAROS_DICOM_CHECK_MODALITY_HOST and modality.host != address:
            continue
        return modality
    return None


def always_allowed(operation):
    return getattr(settings, f"PHAROS_DICOM_ALWAYS_ALLOW_{operation.upper()}")


def may(operation, calling_aet, address):
    """Whether the peer may ask for this operation; a refusal is logged with the AE and address."""
    modality = known_modality(calling_aet, address)
    allowed = modality.allows(operation) if modality else always_allowed(operation)
    if not allowed:
        reason = (
            f"modality {modality.name!r} may not {operation}" if modality else "this AE is not a configured modality"
        )
        logger.warning("Refused %s from %s at %s: %s", operation.upper(), calling_aet, address, reason)
    return allowed


def destination(aet):
    """The modality a C-MOVE may send to, by AE title, or None."""
    for modality in Modality.objects.filter(aet__iexact=(aet or "").strip()):
        if same_aet(modality.aet, aet):
            return modality
    return None
