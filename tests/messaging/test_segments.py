"""segment_count: encoding, units and segments at every boundary (no database needed)."""

import random

import pytest

from messaging.segments import GSM7, MAX_SEGMENTS, UCS2, SegmentCount, non_gsm_characters, segment_count

# The GSM-7 basic table, written out from 3GPP TS 23.038 by code (0x00-0x7F) apart from the module's copy.
GSM7_BASIC_BY_CODE = {
    **dict(enumerate("@£$¥èéùìòÇ\nØø\rÅå")),
    **dict(enumerate("Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ", start=0x10)),
    **dict(enumerate(" !\"#¤%&'()*+,-./0123456789:;<=>?", start=0x20)),
    **dict(enumerate("¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§", start=0x40)),
    **dict(enumerate("¿abcdefghijklmnopqrstuvwxyzäöñüà", start=0x60)),
}
GSM7_EXTENSION = "\x0c^{}\\[~]|€"
EMOJI = "😀"  # outside the BMP: a surrogate pair in UTF-16
CYRILLIC = "ж"  # in the BMP, not GSM-7: 1 UCS-2 unit


def test_basic_table_transcription_has_128_codes_with_spec_landmarks():
    assert len(GSM7_BASIC_BY_CODE) == 128
    assert len(set(GSM7_BASIC_BY_CODE.values())) == 128
    assert GSM7_BASIC_BY_CODE[0x02] == "$"
    assert GSM7_BASIC_BY_CODE[0x09] == "Ç"
    assert GSM7_BASIC_BY_CODE[0x1B] == "\x1b"
    assert GSM7_BASIC_BY_CODE[0x24] == "¤"
    assert GSM7_BASIC_BY_CODE[0x40] == "¡"
    assert GSM7_BASIC_BY_CODE[0x7F] == "à"


def test_exactly_the_gsm_alphabet_is_gsm7_across_the_whole_bmp():
    expected = (set(GSM7_BASIC_BY_CODE.values()) - {"\x1b"}) | set(GSM7_EXTENSION)
    gsm = {
        chr(code)
        for code in range(0x10000)
        if not 0xD800 <= code <= 0xDFFF and segment_count(chr(code)).encoding == GSM7
    }
    assert gsm == expected
    assert len(gsm) == 127 + 10


@pytest.mark.parametrize("char", sorted(set(GSM7_BASIC_BY_CODE.values()) - {"\x1b"}))
def test_every_basic_character_costs_one_septet(char):
    assert segment_count(char) == SegmentCount(GSM7, 1, 1, 1, [])


@pytest.mark.parametrize("char", GSM7_EXTENSION)
def test_every_extension_character_costs_two_septets(char):
    assert segment_count(char) == SegmentCount(GSM7, 1, 2, 1, [])


def test_empty_text_is_zero_segments_of_gsm7():
    assert segment_count("") == SegmentCount(GSM7, 0, 0, 0, [])


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4), (1530, 10), (1531, 11)],
)
def test_gsm7_segments_at_each_boundary(length, segments):
    count = segment_count("a" * length)
    assert count == SegmentCount(GSM7, length, length, segments, [])


@pytest.mark.parametrize(
    ("text", "units", "segments"),
    [
        ("€" * 80, 160, 1),  # 160 septets still fit one segment
        ("€" * 81, 162, 2),
        ("a" * 79 + "€" + "a" * 79, 160, 1),
        ("a" * 79 + "€" + "a" * 80, 161, 2),
        ("a" * 158 + "€", 160, 1),
        ("a" * 159 + "€", 161, 2),
        ("€" * 152, 304, 2),  # 76 € per segment of 153 septets
    ],
)
def test_extension_characters_cost_two_septets(text, units, segments):
    assert segment_count(text) == SegmentCount(GSM7, len(text), units, segments, [])


@pytest.mark.parametrize(
    ("text", "units", "segments"),
    [
        # The € would take septets 153 and 154: it moves whole to the second segment.
        ("a" * 152 + "€" + "a" * 10, 164, 2),
        # 306 septets, a multiple of 153, but the septet left before the € is wasted: 3 segments, not 2.
        ("a" * 152 + "€" + "a" * 152, 306, 3),
        # The € ends the first segment exactly (septets 152 and 153): nothing wasted.
        ("a" * 151 + "€" + "a" * 153, 306, 2),
        # Each segment holds 76 whole € and one unused septet, so 153 € need a third segment.
        ("€" * 153, 306, 3),
        # The € right after a full first segment starts the second one, as any character would.
        ("a" * 153 + "€" + "a" * 151, 306, 2),
    ],
)
def test_extension_character_is_never_split_across_segments(text, units, segments):
    assert segment_count(text) == SegmentCount(GSM7, len(text), units, segments, [])


@pytest.mark.parametrize(
    "text", ["mañana", "Ç", "Ñandu? ¡Si! ¿Qué? ÄÖÜ äöü ß É é è à ù ì ò Ø ø Å å Æ æ", "ΔΦΓΛΩΠΨΣΘΞ", "£$¥¤§@_"]
)
def test_accented_and_greek_characters_of_the_default_alphabet_stay_gsm7(text):
    count = segment_count(text)
    assert count.encoding == GSM7
    assert count.units == len(text)
    assert count.non_gsm_characters == []


def test_lowercase_c_cedilla_forces_ucs2_and_is_reported():
    count = segment_count("Ça ç'est ça")
    assert count == SegmentCount(UCS2, 11, 11, 1, ["ç"])


@pytest.mark.parametrize("char", ["ç", "á", "í", "ó", "ú", "ê", "`", "\t", "\u2019", "\u00a0", "\u2126", "\u2206"])
def test_near_misses_of_the_alphabet_force_ucs2(char):
    # Typographic quote, no-break space, ohm and increment signs look like GSM characters but are not.
    count = segment_count("abc" + char)
    assert count.encoding == UCS2
    assert count.non_gsm_characters == [char]


def test_newlines_are_gsm7_basic_characters():
    assert segment_count("line one\r\nline two\n") == SegmentCount(GSM7, 19, 19, 1, [])


def test_form_feed_is_a_gsm7_extension_character():
    assert segment_count("page\x0cnext") == SegmentCount(GSM7, 9, 10, 1, [])


def test_escape_character_in_text_forces_ucs2():
    count = segment_count("a\x1bb")
    assert count == SegmentCount(UCS2, 3, 3, 1, ["\x1b"])


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4), (670, 10), (671, 11)],
)
def test_ucs2_segments_at_each_boundary(length, segments):
    count = segment_count(CYRILLIC * length)
    assert count == SegmentCount(UCS2, length, length, segments, [CYRILLIC])


def test_one_non_gsm_character_turns_a_whole_gsm_text_into_ucs2():
    count = segment_count("a" * 69 + CYRILLIC)
    assert (count.encoding, count.units, count.segments) == (UCS2, 70, 1)
    count = segment_count("a" * 70 + CYRILLIC)
    assert (count.encoding, count.units, count.segments) == (UCS2, 71, 2)


@pytest.mark.parametrize(
    ("emoji", "units", "segments"),
    [(1, 2, 1), (35, 70, 1), (36, 72, 2), (67, 134, 3), (66, 132, 2)],
)
def test_emoji_cost_two_utf16_units(emoji, units, segments):
    # 33 whole surrogate pairs fit in 67 units, one unit left unused.
    count = segment_count(EMOJI * emoji)
    assert count == SegmentCount(UCS2, emoji, units, segments, [EMOJI])


@pytest.mark.parametrize(
    ("text", "units", "segments"),
    [
        # The pair would take units 67 and 68: it moves whole to the second segment.
        (CYRILLIC * 66 + EMOJI + CYRILLIC * 10, 78, 2),
        # 134 units, a multiple of 67, but the unit left before the pair is wasted: 3 segments, not 2.
        (CYRILLIC * 66 + EMOJI + CYRILLIC * 66, 134, 3),
        # The pair ends the first segment exactly (units 66 and 67): nothing wasted.
        (CYRILLIC * 65 + EMOJI + CYRILLIC * 67, 134, 2),
        # 70 units fit one segment, whatever the pairs: no concatenation, no split.
        (CYRILLIC * 68 + EMOJI, 70, 1),
        (CYRILLIC * 69 + EMOJI, 71, 2),
    ],
)
def test_surrogate_pair_is_never_split_across_segments(text, units, segments):
    count = segment_count(text)
    assert (count.encoding, count.characters, count.units, count.segments) == (UCS2, len(text), units, segments)


def test_characters_counts_code_points_while_units_count_utf16():
    count = segment_count("hi " + EMOJI)
    assert (count.characters, count.units) == (4, 5)


def test_lone_surrogate_from_json_counts_one_unit_instead_of_raising():
    # json.loads("\\ud83d") gives a lone surrogate, which UTF-8 cannot encode.
    assert segment_count("a\ud83db") == SegmentCount(UCS2, 3, 3, 1, ["\ud83d"])


def test_extension_characters_in_a_ucs2_text_cost_one_unit():
    count = segment_count("€" * 69 + CYRILLIC)
    assert (count.encoding, count.units, count.segments) == (UCS2, 70, 1)


def test_non_gsm_characters_are_distinct_in_order_of_first_appearance():
    # é is in the GSM alphabet: only the emoji and ç force UCS-2.
    assert non_gsm_characters("héllo 😀 ça 😀 ç") == ["😀", "ç"]
    assert segment_count("héllo 😀 ça 😀 ç").non_gsm_characters == ["😀", "ç"]


@pytest.mark.parametrize("text", ["", "plain text", "{curly} [square] ~tilde~ |pipe| \\ ^ €5"])
def test_non_gsm_characters_is_empty_for_gsm7_text(text):
    assert non_gsm_characters(text) == []


def test_text_over_max_segments_is_counted_not_refused():
    count = segment_count("a" * 5000)
    assert count.segments == 33 > MAX_SEGMENTS
    count = segment_count(EMOJI * 2000)
    assert count.segments == 61 > MAX_SEGMENTS


def test_max_segments_is_ten():
    assert MAX_SEGMENTS == 10


def reference_segments(costs: list[int], single: int, multi: int) -> int:
    """The rule read literally: fill each segment character by character, a 2-unit character never split."""
    if sum(costs) <= single:
        return 1 if costs else 0
    segments, used = 1, 0
    for cost in costs:
        if used + cost > multi:
            segments, used = segments + 1, 0
        used += cost
    return segments


@pytest.mark.parametrize("seed", range(20))
def test_segments_agree_with_a_character_by_character_walk_on_random_texts(seed):
    rng = random.Random(seed)
    for _ in range(50):
        length = rng.randrange(0, 1700)
        density = rng.choice([0.0, 0.01, 0.1, 0.5, 1.0])
        if rng.random() < 0.5:
            text = "".join(rng.choice("€[]") if rng.random() < density else "a" for _ in range(length))
            costs = [2 if char in GSM7_EXTENSION else 1 for char in text]
            expected = (GSM7, sum(costs), reference_segments(costs, 160, 153))
        else:
            text = "".join(EMOJI if rng.random() < density else rng.choice("жa") for _ in range(length))
            if "ж" not in text and EMOJI not in text:
                text += "ж"  # make sure the text is UCS-2
            costs = [2 if char == EMOJI else 1 for char in text]
            expected = (UCS2, sum(costs), reference_segments(costs, 70, 67))
        count = segment_count(text)
        assert (count.encoding, count.units, count.segments) == expected, text
