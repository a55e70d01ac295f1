"""A message text as SMPP short_message parts, and back.

Splitting follows messaging/segments.py exactly, so that a message costs as many parts as it was charged
segments: 160 septets or 70 UTF-16 units fit one part; longer texts carry a 6-octet concatenation user data
header (UDH) and at most 153 septets or 67 units per part; an escape pair or surrogate pair that would
straddle a boundary moves whole to the next part. tests/gateways/smpp/test_text.py checks the two agree.
"""

from collections.abc import Callable

from smsplatform import gsm7

from .pdu import DATA_CODING_DEFAULT, DATA_CODING_UCS2

GSM7 = "GSM-7"
UCS2 = "UCS-2"
DATA_CODING_ASCII = 1
DATA_CODING_LATIN1 = 3

_SINGLE_SEPTETS, _MULTI_SEPTETS = 160, 153
_SINGLE_UNITS, _MULTI_UNITS = 70, 67
_MAX_PARTS = 255  # the UDH counts parts in one octet
_IE_CONCAT_8BIT, _IE_CONCAT_16BIT = 0x00, 0x08
_CONCAT_UDH_FILL_BITS = 1  # 6 octets = 48 bits; one fill bit brings the septets to bit 49 = 7 * 7
_CR = 0x0D


def sms_parts(text: str, encoding: str, *, reference: int, gsm7_packed: bool = False) -> tuple[int, list[bytes]]:
    """(data_coding, short_message of each part) for a text in the encoding segment counting chose.

    `reference` identifies the parts of one message to the handset (its low 8 bits are sent). GSM-7 goes one
    septet per octet unless `gsm7_packed`. An empty text has no parts. Raises ValueError for a character the
    encoding cannot carry, an unknown encoding, or more than 255 parts.
    """
    if encoding == GSM7:
        septets = gsm7.encode(text)
        bounds = _part_bounds(
            len(septets), _SINGLE_SEPTETS, _MULTI_SEPTETS, lambda unit: septets[unit] == gsm7.ESCAPE_SEPTET
        )
        chunks = [septets[start:end] for start, end in bounds]
        data_coding = DATA_CODING_DEFAULT
    elif encoding == UCS2:
        # surrogatepass: a lone surrogate (JSON allows "\ud83d") is one unit, as segment counting counts it.
        utf16 = text.encode("utf-16-be", "surrogatepass")
        bounds = _part_bounds(
            len(utf16) // 2, _SINGLE_UNITS, _MULTI_UNITS, lambda unit: 0xD8 <= utf16[2 * unit] <= 0xDB
        )
        chunks = [utf16[2 * start : 2 * end] for start, end in bounds]
        data_coding = DATA_CODING_UCS2
    else:
        raise ValueError(f"Unknown encoding {encoding!r}: {GSM7!r} or {UCS2!r}.")
    total = len(chunks)
    if total > _MAX_PARTS:
        raise ValueError(f"{total} parts; a concatenated SMS has at most {_MAX_PARTS}.")
    packed = gsm7_packed and data_coding == DATA_CODING_DEFAULT
    if total == 1:
        return data_coding, [_pack_septets(chunks[0], 0) if packed else chunks[0]]
    parts = []
    for sequence, chunk in enumerate(chunks, start=1):
        udh = bytes((5, _IE_CONCAT_8BIT, 3, reference & 0xFF, total, sequence))
        parts.append(udh + (_pack_septets(chunk, _CONCAT_UDH_FILL_BITS) if packed else chunk))
    return data_coding, parts


def _part_bounds(units: int, single: int, multi: int, starts_pair: Callable[[int], bool]) -> list[tuple[int, int]]:
    """(start, end) of each part; `starts_pair(k)` says unit k is the first half of a pair that must stay whole."""
    if units <= single:
        return [(0, units)] if units else []
    bounds = []
    start = 0
    while start < units:
        end = start + multi
        if end < units and starts_pair(end - 1):
            end -= 1  # the pair starts the next part; this part's last unit stays unused
        bounds.append((start, min(end, units)))
        start = end
    return bounds


def _pack_septets(septets: bytes, fill_bits: int) -> bytes:
    # 23.038 6.1.2.3.1: 7 spare bits at the end would read as one more "@"; a CR fills them instead.
    if (fill_bits + 7 * len(septets)) % 8 == 1:
        septets += bytes((_CR,))
    return gsm7.pack(septets, fill_bits)


def decode_short_message(
    payload: bytes, data_coding: int, *, udhi: bool, gsm7_packed: bool = False
) -> tuple[str, tuple[int, int, int] | None]:
    """(text, (reference, total, sequence) or None) of a short_message or message_payload; never raises.

    With `udhi` the user data header is stripped and its concatenation element read (8- or 16-bit reference);
    a UDH longer than the payload is not one, and the whole payload is read as text. data_coding 0 is GSM-7,
    8 UCS-2, 1 ASCII, 3 and anything else latin-1.
    """
    concat = None
    header_length = 0
    if udhi and payload and 1 + payload[0] <= len(payload):
        header_length = 1 + payload[0]
        concat = _concatenation(payload[1:header_length])
    body = payload[header_length:]
    if data_coding == DATA_CODING_DEFAULT:
        if gsm7_packed:
            fill_bits = -8 * header_length % 7
            return gsm7.decode(_unpack_septets(body, fill_bits)), concat
        return gsm7.decode(body), concat
    if data_coding == DATA_CODING_UCS2:
        text = body[: len(body) & ~1].decode("utf-16-be", "surrogatepass")
        return text + "\ufffd" * (len(body) & 1), concat
    if data_coding == DATA_CODING_ASCII:
        return body.decode("ascii", "replace"), concat
    return body.decode("latin-1"), concat


def _unpack_septets(data: bytes, fill_bits: int) -> bytes:
    count = max(0, (8 * len(data) - fill_bits) // 7)
    septets = gsm7.unpack(data, count, fill_bits)
    if septets.endswith(b"\r") and (fill_bits + 7 * count) % 8 == 0:
        septets = septets[:-1]  # a CR ending on an octet boundary is the padding of 7 spare bits
    return septets


def _concatenation(udh: bytes) -> tuple[int, int, int] | None:
    position = 0
    while position + 2 <= len(udh):
        element, length = udh[position], udh[position + 1]
        data = udh[position + 2 : position + 2 + length]
        if len(data) < length:
            return None
        if element == _IE_CONCAT_8BIT and length == 3:
            reference, total, sequence = data
        elif element == _IE_CONCAT_16BIT and length == 4:
            reference, total, sequence = data[0] << 8 | data[1], data[2], data[3]
        else:
            position += 2 + length
            continue
        # 23.040 9.2.3.24.1: an element with sequence 0 or past the total is ignored.
        return (reference, total, sequence) if 1 <= sequence <= total else None
    return None
