"""A series' completeness: Orthanc's ExpectedNumberOfInstances and Status, from its main tags
and its instances' IndexInSeries, which the REST answers, the series page and the stability
clock (CompletedSeries) all read."""

EXPECTED_FROM = (
    ("ImagesInAcquisition", "NumberOfTemporalPositions"),
    ("NumberOfSlices", "NumberOfTimeSlices"),
    ("CardiacNumberOfImages",),
)


def expected_instances(series_tags):
    """Orthanc's ExpectedNumberOfInstances, from the series' main tags, or None."""
    for keywords in EXPECTED_FROM:
        if all(series_tags.get(k) for k in keywords):
            try:
                product = 1
                for keyword in keywords:
                    product *= int(series_tags[keyword])
            except ValueError:
                return None
            return product if product > 0 else None
    return None


def series_status(expected, indexes):
    if expected is None:
        return "Unknown"
    seen = set()
    for index in indexes:
        if index is None or not 1 <= index <= expected or index in seen:
            return "Inconsistent"
        seen.add(index)
    return "Complete" if len(seen) == expected else "Missing"
