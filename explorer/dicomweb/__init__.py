"""Pharos's DICOMweb server (PS3.18) at /dicom-web/, as Orthanc's DICOMweb plugin answers it:
QIDO-RS (qido.py), WADO-RS (wado.py), STOW-RS (stow.py), rendered images (rendered.py) and
WADO-URI (wado_uri.py). Authentication and rights are the REST API's (explorer/api/base.py)."""
