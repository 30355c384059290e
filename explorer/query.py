"""Matching of DICOM queries against the index (placeholder, being written)."""


def find(level, query, case_sensitive=False, limit=None, since=0):
    raise NotImplementedError
