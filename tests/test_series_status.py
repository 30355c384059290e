"""A series' completeness, as Orthanc 1.10.1 computes it (StatelessDatabaseOperations.cpp)."""

from explorer.series_status import expected_instances, series_status


def test_expected_instances_from_the_first_complete_pair_of_tags():
    assert expected_instances({"ImagesInAcquisition": "10", "NumberOfTemporalPositions": "3"}) == 30
    assert expected_instances({"ImagesInAcquisition": "10", "NumberOfSlices": "4", "NumberOfTimeSlices": "2"}) == 8
    assert expected_instances({"CardiacNumberOfImages": "12"}) == 12
    assert expected_instances({"CardiacNumberOfImages": "twelve"}) is None
    assert expected_instances({"CardiacNumberOfImages": "0"}) is None
    assert expected_instances({}) is None


def test_status_of_the_instances_indexes():
    assert series_status(None, [1, 2]) == "Unknown"
    assert series_status(3, [1, 2, 3]) == "Complete"
    assert series_status(3, [3, 1]) == "Missing"
    assert series_status(3, [1, 1]) == "Inconsistent"
    assert series_status(3, [4]) == "Inconsistent"
    assert series_status(3, [None]) == "Inconsistent"
