"""The order of a series' slices, as Orthanc's SliceOrdering answers GET /series/{id}/ordered-slices:
along the normal of the image plane when every instance has a position on a common plane
orientation ("Volume"), else by index in the series ("Sequence")."""

from explorer.errors import CannotOrderSlices

FLOAT_EPSILON = 1.1920929e-07  # C's FLT_EPSILON: Orthanc compares positions as floats


def _numbers(dataset_json, key):
    values = (dataset_json.get(key) or {}).get("Value") or []
    try:
        return [float(value) for value in values]
    except (TypeError, ValueError):
        return []


def _normal(dataset_json):
    cosines = _numbers(dataset_json, "00200037")
    if len(cosines) != 6:
        return None
    return (
        cosines[1] * cosines[5] - cosines[2] * cosines[4],
        cosines[2] * cosines[3] - cosines[0] * cosines[5],
        cosines[0] * cosines[4] - cosines[1] * cosines[3],
    )


def _frames(dataset_json):
    count = _numbers(dataset_json, "00280008")
    return int(count[0]) if count and count[0] >= 1 else 1


def _dot(a, b):
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _parallel(a, b):
    return abs(abs(_dot(a, b)) - 1.0) < 0.000001


def _by_position(slices, normal):
    if len(slices) <= 1 or normal is None:
        return None
    for item in slices:
        if item["position"] is None or (item["normal"] is not None and not _parallel(item["normal"], normal)):
            return None
    ordered = sorted(slices, key=lambda item: _dot(item["position"], normal))
    first, last = (_dot(ordered[i]["position"], normal) for i in (0, -1))
    if abs(last - first) <= 10 * FLOAT_EPSILON:
        return None  # all on one plane: the positions say nothing about the order
    return ordered


def _by_index(slices):
    if len(slices) <= 1:
        return slices
    if any(item["index"] is None for item in slices):
        return None
    return sorted(slices, key=lambda item: item["index"])


def ordered_slices(series_id, rows):
    """Orthanc's answer for the instances `rows` ({public_id, index_in_series, dataset}) of a series."""
    slices = []
    for row in rows:
        position = _numbers(row["dataset"], "00200032")
        slices.append(
            {
                "id": row["public_id"],
                "index": row["index_in_series"],
                "frames": _frames(row["dataset"]),
                "position": tuple(position) if len(position) == 3 else None,
                "normal": _normal(row["dataset"]),
            }
        )
    normal = next((item["normal"] for item in slices if item["normal"] is not None), None)
    ordered = _by_position(slices, normal)
    kind = "Volume"
    if ordered is None:
        ordered, kind = _by_index(slices), "Sequence"
    if ordered is None:
        raise CannotOrderSlices(f"Unable to order the slices of series {series_id}")
    return {
        "Dicom": [f"/instances/{item['id']}/file" for item in ordered],
        "Slices": [f"/instances/{item['id']}/frames/{frame}" for item in ordered for frame in range(item["frames"])],
        "SlicesShort": [[item["id"], 0, item["frames"]] for item in ordered],
        "Type": kind,
    }
