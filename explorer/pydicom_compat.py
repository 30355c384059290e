"""The one room where Pharos reaches into pydicom's internals (pydicom 3.0.2).

Reading an instance's JSON and main tags (explorer/dicom_json.py, explorer/dicom.py) and
writing C-FIND answers (dicomnet/find.py, dicomnet/wire/find_encoding.py) are faster for
knowing how pydicom holds and writes a data set. Every name of pydicom that is not its
public API comes from here, and PRIVATE_NAMES lists them:

- Dataset._dict: the elements as read, RawDataElements until a value is asked for. Reading
  them there spares a DataElement per element (pydicom's get_item gives the same one at a
  time, through a microsecond of checks each);
- Dataset._character_set: the character set pydicom decodes the data set's texts with;
- pydicom.tag._LUT_DESCRIPTOR_TAGS: the tags whose values pydicom corrects as it reads them,
  left to pydicom;
- DataElement(already_converted=True): an answer value built as pydicom would convert it,
  without converting it again;
- pydicom.charset.custom_encoders and handled_encodings: pydicom's own codecs, which may add
  escape sequences even to ASCII.

These were read from pydicom 3.0.2 (READ_FROM). With another version, or PHAROS_FAST_PATHS
off (explorer/fast_paths.py), fast_paths() is False and the callers take pydicom's public
path.
"""

import pydicom.charset
import pydicom.tag
from pydicom import config
from pydicom.dataelem import DataElement

from explorer import fast_paths as switch

READ_FROM = ("pydicom", "3.0.2")

PRIVATE_NAMES = (
    "_dict",
    "_character_set",
    "_LUT_DESCRIPTOR_TAGS",
    "already_converted",
    "custom_encoders",
    "handled_encodings",
)

# Plain integers: a BaseTag compares through Python code. getattr: another pydicom version
# may not have them, and then fast_paths() is False and they are not used.
LUT_DESCRIPTOR_TAGS = frozenset(int(tag) for tag in getattr(pydicom.tag, "_LUT_DESCRIPTOR_TAGS", ()))
OWN_CODECS = frozenset(getattr(pydicom.charset, "custom_encoders", ())) | frozenset(
    getattr(pydicom.charset, "handled_encodings", ())
)


def fast_paths():
    """Whether the callers may read pydicom's internals: PHAROS_FAST_PATHS is on and the
    installed pydicom is the one they were read from."""
    return switch.enabled(*READ_FROM)


def raw_elements(dataset):
    """{tag: element} of the data set as read, values left unconverted where pydicom left them."""
    if fast_paths():
        return dataset._dict
    return {tag: dataset.get_item(tag, keep_deferred=True) for tag in dataset.keys()}


def character_set(dataset):
    """The character set(s) pydicom decodes the data set's texts with."""
    return dataset._character_set


def element_as_converted(tag, vr, value):
    """A DataElement of a value already as pydicom converts it (a str, PersonName, IS, DS,
    or a MultiValue of them)."""
    if fast_paths():
        return DataElement(tag, vr, value, already_converted=True)
    return DataElement(tag, vr, value, validation_mode=config.IGNORE)
