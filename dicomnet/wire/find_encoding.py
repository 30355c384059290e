"""C-FIND responses as bytes: answer identifiers and pending responses, written exactly as
pydicom and pynetdicom would write them, for a fraction of the work.

A long answer is the same few text elements many times over. pydicom builds and checks an
object per element and pynetdicom encodes a command set per response, which together were
most of the time of a long C-FIND. Here an identifier is its elements' bytes joined: a text
value in ASCII is written directly (pydicom writes it as it is in every character set but
its own codecs' ones), anything else by pydicom's write_data_element.
tests/test_wire_find_encoding.py checks that the bytes are pydicom's and pynetdicom's.

No private name of pynetdicom is used here: the bytes follow the Standard and pynetdicom's
public encoders, and the test compares them. pydicom's own codecs come through
explorer/pydicom_compat.py.
"""

import re
import struct
import zlib
from functools import lru_cache

from pydicom.charset import convert_encodings
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element
from pydicom.valuerep import EXPLICIT_VR_LENGTH_32
from pynetdicom.pdu_primitives import P_DATA

from explorer.pydicom_compat import OWN_CODECS

PRIVATE_NAMES = ()

# The VRs whose values may leave the default repertoire (PS3.5 6.1.2.3).
CHARSET_VRS = frozenset({"SH", "LO", "ST", "LT", "UC", "UT", "PN"})
# The VRs whose ASCII values pydicom writes as they are. IS and DS are not among them: pydicom
# writes the number it read, which is the text only when the text is plainly a number.
TEXT_VRS = frozenset({"AE", "AS", "CS", "DA", "DT", "TM", "UI", "UR"}) | CHARSET_VRS
PLAIN_NUMBERS = {
    "IS": re.compile(r"(?:[+-]?\d+)?(?:\\(?:[+-]?\d+)?)*"),
    "DS": re.compile(r"(?:[+-]?(?:\d+\.?\d*|\.\d+))?(?:\\(?:[+-]?(?:\d+\.?\d*|\.\d+))?)*"),
}
MAX_SHORT_LENGTH = 0xFFFF  # beyond it pydicom writes a short-length VR as UN

PENDING = 0xFF00
C_FIND_RSP = 0x8020
DATA_SET_PRESENT = 0x0001
# PDV message control headers (PS3.8 E.2): command or data set, last fragment or not.
DATA_FRAGMENT, COMMAND_FRAGMENT, DATA_LAST, COMMAND_LAST = b"\x00", b"\x01", b"\x02", b"\x03"
PDV_OVERHEAD = 6  # item length (4), presentation context ID (1), control header (1)


class IdentifierWriter:
    """Writes answer identifiers in one transfer syntax (a pydicom UID)."""

    def __init__(self, transfer_syntax):
        self.implicit_vr = transfer_syntax.is_implicit_VR
        self.little_endian = transfer_syntax.is_little_endian
        self.deflated = transfer_syntax.is_deflated
        self.endian = "<" if self.little_endian else ">"
        self.headers = {}

    def text(self, tag, vr, text, charset):
        """The bytes of an element with this text as its value (several values joined by
        '\\'), in the answer's SpecificCharacterSet; None when pydicom must write it."""
        if not text:
            return self.header(tag, vr, 0)
        if not text.isascii() or not (vr in TEXT_VRS or plain_number(vr, text)):
            return None
        if vr in CHARSET_VRS and (not ascii_as_is(charset) or vr == "PN" and "=" in text):
            return None  # pydicom also drops the empty trailing groups of a name
        value = text.encode("ascii")
        if len(value) % 2:
            value += b"\x00" if vr == "UI" else b" "
        if len(value) > MAX_SHORT_LENGTH and not self.implicit_vr and vr not in EXPLICIT_VR_LENGTH_32:
            return None
        return self.header(tag, vr, len(value)) + value

    def element(self, element, charset):
        """The bytes of a pydicom DataElement, written by pydicom."""
        buffer = DicomBytesIO()
        buffer.is_implicit_VR, buffer.is_little_endian = self.implicit_vr, self.little_endian
        write_data_element(buffer, element, charset_value(charset))
        return buffer.getvalue()

    def identifier(self, elements):
        """The identifier from its elements' bytes, in tag order."""
        data = b"".join(elements)
        if not self.deflated:
            return data
        # As pynetdicom deflates a data set (pynetdicom.dsutils.encode).
        compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -zlib.MAX_WBITS)
        data = compressor.compress(data) + compressor.flush()
        return data + b"\x00" if len(data) % 2 else data

    def header(self, tag, vr, length):
        parts = self.headers.get((tag, vr))
        if parts is None:
            parts = self.headers[(tag, vr)] = self.header_parts(tag, vr)
        start, length_format = parts
        return start + length_format.pack(length)

    def header_parts(self, tag, vr):
        """The bytes before the value length (tag, and VR in explicit VR), and its format."""
        tag_bytes = struct.pack(f"{self.endian}HH", tag >> 16, tag & 0xFFFF)
        if self.implicit_vr:
            return tag_bytes, struct.Struct(f"{self.endian}L")
        if vr in EXPLICIT_VR_LENGTH_32:
            return tag_bytes + vr.encode() + b"\x00\x00", struct.Struct(f"{self.endian}L")
        return tag_bytes + vr.encode(), struct.Struct(f"{self.endian}H")


def plain_number(vr, text):
    pattern = PLAIN_NUMBERS.get(vr)
    return pattern is not None and pattern.fullmatch(text) is not None


def charset_value(charset):
    """The SpecificCharacterSet text as the answer's data set holds it (several terms as a list)."""
    return charset.split("\\") if "\\" in charset else charset


@lru_cache(maxsize=64)
def ascii_as_is(charset):
    """Whether pydicom writes ASCII texts of the character set's VRs as their ASCII bytes:
    it encodes a text with the first codec that takes it, the first term's for ASCII."""
    try:
        first = convert_encodings(charset_value(charset))[0]
    except LookupError:
        return False
    # pydicom's own codecs (ISO 2022 Japanese, JIS X 0201, ISO 2022 GB 2312) may add escape
    # sequences even to ASCII, or fail on empty name groups.
    return first not in OWN_CODECS


# --- Pending responses --------------------------------------------------------------------


def pending_command(sop_class_uid, message_id):
    """The command set of a pending C-FIND-RSP with an identifier, as pynetdicom encodes it:
    Implicit VR Little Endian (PS3.7 6.3.1), the elements of PS3.7 Table 9.3-2 in tag order."""
    uid = sop_class_uid.encode("ascii")
    if len(uid) % 2:
        uid += b"\x00"
    elements = b"".join(
        (
            implicit_element(0x0000, 0x0002, uid),  # Affected SOP Class UID
            implicit_element(0x0000, 0x0100, struct.pack("<H", C_FIND_RSP)),  # Command Field
            implicit_element(0x0000, 0x0120, struct.pack("<H", message_id)),  # Message ID Being Responded To
            implicit_element(0x0000, 0x0800, struct.pack("<H", DATA_SET_PRESENT)),  # Command Data Set Type
            implicit_element(0x0000, 0x0900, struct.pack("<H", PENDING)),  # Status
        )
    )
    return implicit_element(0x0000, 0x0000, struct.pack("<L", len(elements))) + elements


def implicit_element(group, element, value):
    return struct.pack("<HHL", group, element, len(value)) + value


def message_primitives(context_id, command, data_set, max_pdu_length):
    """The P-DATA primitives of one message: its command and data set in fragments no longer
    than pynetdicom's, packed together in as few P-DATA-TF PDUs as the peer's maximum PDU
    length allows (PS3.8 9.3.5: a PDU may hold several PDVs). Never more than one message per
    PDU: pynetdicom's receiver reads one message per P-DATA and drops what follows."""
    pdvs = [*fragments(command, COMMAND_FRAGMENT, COMMAND_LAST, max_pdu_length)]
    pdvs += fragments(data_set, DATA_FRAGMENT, DATA_LAST, max_pdu_length)
    primitives, room = [], 0
    for pdv in pdvs:
        length = PDV_OVERHEAD - 1 + len(pdv)
        if not primitives or (max_pdu_length and length > room):
            primitives.append(P_DATA())
            room = max_pdu_length
        primitives[-1].presentation_data_value_list.append((context_id, pdv))
        room -= length
    return primitives


def message_pdus(context_id, command, data_set, max_pdu_length):
    """The P-DATA-TF PDUs of one message as bytes, as pynetdicom encodes the P-DATA
    primitives of message_primitives."""
    return b"".join(
        p_data_tf(primitive.presentation_data_value_list)
        for primitive in message_primitives(context_id, command, data_set, max_pdu_length)
    )


def p_data_tf(pdvs):
    """A P-DATA-TF PDU (PS3.8 9.3.5): its header, then each PDV item: length, context ID, value."""
    items = b"".join(PDV_ITEM_HEADER.pack(len(pdv) + 1, context_id) + pdv for context_id, pdv in pdvs)
    return P_DATA_TF_HEADER.pack(P_DATA_TF_TYPE, 0, len(items)) + items


P_DATA_TF_TYPE = 0x04
P_DATA_TF_HEADER = struct.Struct(">BBI")  # PDU type, reserved, PDU length
PDV_ITEM_HEADER = struct.Struct(">IB")  # item length, presentation context ID


def fragments(data, fragment_header, last_header, max_pdu_length):
    """The fragments of a command or data set, each with its control header, as pynetdicom
    splits them: at most the maximum PDU length less the PDV overhead (0: no limit)."""
    size = max_pdu_length - PDV_OVERHEAD if max_pdu_length else len(data)
    if len(data) <= size:
        return [last_header + data]
    pieces = [data[start : start + size] for start in range(0, len(data), size)]
    return [fragment_header + piece for piece in pieces[:-1]] + [last_header + pieces[-1]]
