"""The GSM 03.38 default alphabet (3GPP TS 23.038 §6.2.1): its tables, septet encoding and 7-bit packing.

Shared by segment counting (messaging) and the SMPP codec (gateways). Septets are carried as bytes, one
septet value (0x00-0x7F) per byte; `pack` / `unpack` convert to and from the packed 7-bit form.
"""

import re

# The basic table in code order (0x00-0x7F): index == septet value. 0x1B is the escape to the extension table.
BASIC_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
ESCAPE = "\x1b"
ESCAPE_SEPTET = 0x1B
# Characters reached through the escape, with the code that follows it: form feed, ^ { } \ [ ~ ] | and the euro sign.
EXTENSION_TABLE = {
    "\x0c": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}


class _EncodeTable(dict):
    # str.translate leaves a character untouched on LookupError; any other exception propagates.
    def __missing__(self, code_point: int):
        raise ValueError(f"{chr(code_point)!r} (U+{code_point:04X}) is not in the GSM 03.38 default alphabet.")


# Character -> its septets as latin-1 characters, so that translate() then encode("latin-1") yields the bytes.
_ENCODE = _EncodeTable(
    {ord(char): chr(code) for code, char in enumerate(BASIC_TABLE) if char != ESCAPE}
    | {ord(char): ESCAPE + chr(code) for char, code in EXTENSION_TABLE.items()}
)
# Byte -> its basic-table character; the high bit of a stray octet is ignored.
_DECODE_BASIC = {code: BASIC_TABLE[code & 0x7F] for code in range(256)}
# After the basic translation, an escape is followed by the basic character of the extension code.
_DECODE_EXTENSION = {BASIC_TABLE[code]: char for char, code in EXTENSION_TABLE.items()}
_ESCAPED = re.compile(f"{ESCAPE}(.?)", re.DOTALL)


def encode(text: str) -> bytes:
    """The text's septets, one per byte; an extension character is the escape then its code.

    Raises ValueError for a character outside the alphabet (the escape character itself included).
    """
    return text.translate(_ENCODE).encode("latin-1")


def decode(septets: bytes) -> str:
    """The text of septets (one per byte); never raises.

    An escape followed by a code the extension table does not define is read as the basic character of that
    code (23.038's fallback); an escape followed by another escape (reserved for a further table) or by nothing
    reads as a space.
    """
    text = septets.decode("latin-1").translate(_DECODE_BASIC)
    if ESCAPE in text:
        text = _ESCAPED.sub(_extension_char, text)
    return text


def _extension_char(match: re.Match) -> str:
    basic = match[1]
    if not basic or basic == ESCAPE:
        return " "
    return _DECODE_EXTENSION.get(basic, basic)


def pack(septets: bytes, fill_bits: int = 0) -> bytes:
    """Septets packed 7 bits each, least significant first, after `fill_bits` zero bits (used after a UDH)."""
    value = 0
    for index, septet in enumerate(septets):
        value |= (septet & 0x7F) << (7 * index)
    bit_count = fill_bits + 7 * len(septets)
    return (value << fill_bits).to_bytes((bit_count + 7) // 8, "little")


def unpack(data: bytes, count: int, fill_bits: int = 0) -> bytes:
    """`count` septets read from packed data after `fill_bits` bits; missing bits read as zeros."""
    value = int.from_bytes(data, "little") >> fill_bits
    return bytes((value >> (7 * index)) & 0x7F for index in range(count))
