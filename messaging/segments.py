"""How many SMS segments a text costs, and in which encoding (3GPP TS 23.038 / 23.040).

The one place that counts segments: sending, the quote endpoint and campaigns all call `segment_count`.

Rules:
- GSM-7 when every character is in the default alphabet's basic table (1 septet) or its extension
  table (2 septets: an escape plus the character). The escape character itself is not a user
  character, so a text containing it is UCS-2.
- Otherwise UCS-2, counted in UTF-16 code units: a character outside the BMP (most emoji) is 2 units.
- One segment holds 160 septets (GSM-7) or 70 units (UCS-2). A longer message is concatenated and
  each segment loses room to the user data header: 153 septets or 67 units.
- A two-unit character (extension character, surrogate pair) is never split across segments: when it
  does not fit in what is left of a segment, it starts the next one and the leftover unit stays unused.
- Empty text is 0 segments of GSM-7. Texts over MAX_SEGMENTS are counted all the same; refusing
  them is the caller's decision.

Pure Python with no dependencies, and fast: one regex match decides the common all-basic GSM-7 text,
whose segments are plain arithmetic. Other texts are encoded once (septets with escapes, or UTF-16)
and stepped through a segment at a time, never character by character.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

from smsplatform.gsm7 import BASIC_TABLE, ESCAPE, EXTENSION_TABLE

GSM7 = "GSM-7"
UCS2 = "UCS-2"
MAX_SEGMENTS = 10

# The extension table's characters in one string, for the character classes below.
_GSM7_EXTENSION = "".join(EXTENSION_TABLE)

_BASIC = BASIC_TABLE.replace(ESCAPE, "")

_SINGLE_SEPTETS, _MULTI_SEPTETS = 160, 153
_SINGLE_UNITS, _MULTI_UNITS = 70, 67


def _char_class(chars: str) -> str:
    # \uXXXX escapes: no character of the alphabets can change the meaning of the class.
    return "".join(f"\\u{ord(char):04x}" for char in chars)


_ALL_BASIC = re.compile(f"[{_char_class(_BASIC)}]*")
# The same as a pattern that PostgreSQL's regular expressions read as Python's do: a text of the basic table's
# characters alone, each one septet in GSM-7 and one code unit in UCS-2 (campaigns' estimate groups by it).
GSM7_BASIC_PATTERN = f"^[{_char_class(_BASIC)}]*$"
_ALL_GSM = re.compile(f"[{_char_class(_BASIC + _GSM7_EXTENSION)}]*")
_NOT_GSM = re.compile(f"[^{_char_class(_BASIC + _GSM7_EXTENSION)}]")
_EXTENSION_CHAR = re.compile(f"[{_char_class(_GSM7_EXTENSION)}]")


@dataclass(frozen=True, slots=True)
class SegmentCount:
    encoding: str  # GSM7 or UCS2
    characters: int  # what the user sees: len(text) in code points
    units: int  # septets for GSM-7 (extension characters count 2), UTF-16 code units for UCS-2
    segments: int  # 0 for empty text
    non_gsm_characters: list[str]  # distinct characters forcing UCS-2, in order of first appearance


def segment_count(text: str) -> SegmentCount:
    """The encoding, size and number of segments of an SMS text."""
    length = len(text)
    if _ALL_BASIC.fullmatch(text):
        # The common case: one septet per character, nothing to keep whole.
        return SegmentCount(GSM7, length, length, _segments(length, _SINGLE_SEPTETS, _MULTI_SEPTETS), [])
    if _ALL_GSM.fullmatch(text):
        # The septets as sent: an extension character is the escape then the character.
        septets = _EXTENSION_CHAR.sub(f"{ESCAPE}\\g<0>", text)  # much faster than str.translate here
        segments = _segments(len(septets), _SINGLE_SEPTETS, _MULTI_SEPTETS, lambda k: septets[k] == ESCAPE)
        return SegmentCount(GSM7, length, len(septets), segments, [])
    # surrogatepass: a lone surrogate (JSON allows "\ud83d") is still one code unit on the wire.
    utf16 = text.encode("utf-16-le", "surrogatepass")
    segments = _segments(len(utf16) // 2, _SINGLE_UNITS, _MULTI_UNITS, lambda k: 0xD8 <= utf16[2 * k + 1] <= 0xDB)
    return SegmentCount(UCS2, length, len(utf16) // 2, segments, non_gsm_characters(text))


def text_quote(text: str) -> dict:
    """What sending `text` costs, as the quote endpoint and the dashboard's send form say it: one credit a
    segment."""
    count = segment_count(text)
    return {
        "encoding": count.encoding,
        "characters": count.characters,
        "segments": count.segments,
        "credits": count.segments,
        "non_gsm_characters": count.non_gsm_characters,
    }


def non_gsm_characters(text: str) -> list[str]:
    """The distinct characters that force UCS-2, in order of first appearance; [] when the text is GSM-7."""
    return list(dict.fromkeys(_NOT_GSM.findall(text)))


def _segments(units: int, single: int, multi: int, starts_pair: Callable[[int], bool] | None = None) -> int:
    """Segments for `units` units; `starts_pair(k)` says unit k is the first half of a pair that must not be split.

    Steps a segment at a time: a pair that would straddle the boundary moves whole to the next segment.
    """
    if units <= single:
        return 1 if units else 0
    if starts_pair is None:
        return -(-units // multi)
    segments, start = 0, 0
    while start < units:
        end = start + multi
        if end < units and starts_pair(end - 1):
            end -= 1  # the segment's last unit stays unused
        segments, start = segments + 1, end
    return segments
