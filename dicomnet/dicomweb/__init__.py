"""Pharos as a DICOMweb client (Orthanc's /dicom-web/servers): remote servers searched,
sent to and retrieved from, each action a job as DICOM sends are."""
