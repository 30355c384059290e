"""DICOM values as the pages print them (explorer.pages.formatting)."""

from explorer.pages.formatting import (
    NOT_DICOM_DATE,
    date_note,
    format_date,
    format_time,
    person_name,
    readable_label,
)


def test_formatting():
    assert format_date("20040119") == "19 Jan 2004"
    assert format_date("2004") == "2004"
    assert format_time("072730.123") == "07:27:30"
    assert format_time("07:27") == "07:27"
    assert person_name("DOE^JOHN^^DR") == "DOE, JOHN DR"
    assert person_name("Yamada^Tarou=山田^太郎") == "Yamada, Tarou = 山田, 太郎"
    assert person_name("SMITH") == "SMITH"
    assert readable_label("PatientBirthDate") == "Patient Birth Date"
    assert readable_label("OperatorsName") == "Operators Name"


def test_a_date_is_formatted_only_when_it_is_a_dicom_date():
    assert format_date(" 20040119 ") == "19 Jan 2004"
    for written in ("2004.01.19", "19/01/2004", "200401191", "2004011", "20041319", "2004"):
        assert format_date(written) == written  # never partly read
        assert date_note(written) == NOT_DICOM_DATE
    assert date_note("20040119") == date_note("") == date_note(None) == ""
    assert format_date(None) == ""
