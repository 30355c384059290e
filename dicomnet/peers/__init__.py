"""Orthanc peers: other Orthanc (or Pharos) servers driven through their REST API over
HTTP(S), as Orthanc's /peers."""
