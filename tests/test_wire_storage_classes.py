"""dicomnet/wire/storage_classes.py: storage classes pynetdicom does not know, served by its storage service."""

from pynetdicom.service_class import StorageServiceClass
from pynetdicom.sop_class import uid_to_service_class

from dicomnet.wire.storage_classes import serve_as_storage


def test_a_retired_or_unknown_class_is_served_by_pynetdicoms_storage_service():
    retired, unknown = "1.2.840.10008.5.1.4.1.1.6", "1.2.826.0.1.3680043.8.498.999.2"
    serve_as_storage([retired, unknown, "1.2.840.10008.5.1.4.1.1.2"])
    assert uid_to_service_class(retired) is StorageServiceClass
    assert uid_to_service_class(unknown) is StorageServiceClass
    serve_as_storage([retired])  # again: nothing changes
    assert uid_to_service_class(retired) is StorageServiceClass
