"""gateways.smpp.text: a text as short_message parts, agreeing with segment counting (no database needed)."""

import random

import pytest

from gateways.smpp.text import GSM7, UCS2, decode_short_message, sms_parts
from messaging.segments import MAX_SEGMENTS, segment_count
from smsplatform import gsm7

EURO = "€"  # GSM-7 extension: 2 septets
EMOJI = "😀"  # outside the BMP: a surrogate pair
CYRILLIC = "ж"  # forces UCS-2, 1 unit
GSM_BASIC = gsm7.BASIC_TABLE.replace("\x1b", "")
GSM_EXTENSION = "".join(gsm7.EXTENSION_TABLE)
LATIN = "ÀÁÂÃÄÅàáâãäåÇçÈÉÊËèéêëÌÍÎÏìíîïÑñÒÓÔÕÖØòóôõöøÙÚÛÜùúûüÿĀāŁłŒœ"
EMOJIS = "😀🎉👍🏽🇿🇼❤️"
LONE_SURROGATES = "\ud83d\ude00\udbff\udc00"


def texts_of(data_coding: int, parts: list[bytes], *, packed: bool = False) -> list[str]:
    return [decode_short_message(part, data_coding, udhi=len(parts) > 1, gsm7_packed=packed)[0] for part in parts]


def utf16_units(text: str) -> bytes:
    """A text as its UTF-16 code units: a lone high then low surrogate equals the pair they make."""
    return text.encode("utf-16-be", "surrogatepass")


def assert_parts_match_segment_count(text: str) -> None:
    count = segment_count(text)
    data_coding, parts = sms_parts(text, count.encoding, reference=77)
    assert len(parts) == count.segments, (text, count)
    assert utf16_units("".join(texts_of(data_coding, parts))) == utf16_units(text)
    if len(parts) > 1:
        assert [decode_short_message(part, data_coding, udhi=True)[1] for part in parts] == [
            (77, len(parts), sequence) for sequence in range(1, len(parts) + 1)
        ]
    if count.encoding == GSM7:
        # A CR may read as padding at the end of a packed part (see below): the same text with LF instead.
        text = text.replace("\r", "\n")
        _, packed = sms_parts(text, GSM7, reference=77, gsm7_packed=True)
        assert len(packed) == count.segments
        assert all(len(part) <= 140 for part in packed)
        assert "".join(texts_of(data_coding, packed, packed=True)) == text
    else:
        assert all(len(part) <= 140 for part in parts)


def test_a_short_gsm_text_is_one_part_without_a_header():
    assert sms_parts("Hello @ £5", GSM7, reference=1) == (0, [gsm7.encode("Hello @ £5")])


def test_a_short_ucs2_text_is_one_part_of_utf16_be():
    assert sms_parts("Привет " + EMOJI, UCS2, reference=1) == (8, [("Привет " + EMOJI).encode("utf-16-be")])


def test_an_empty_text_has_no_parts_as_it_has_no_segments():
    assert sms_parts("", GSM7, reference=1) == (0, [])
    assert sms_parts("", UCS2, reference=1) == (8, [])


def test_each_part_of_a_long_text_starts_with_the_concatenation_header():
    data_coding, parts = sms_parts("x" * 400, GSM7, reference=0x1234)
    assert data_coding == 0
    assert [part[:6] for part in parts] == [bytes([5, 0, 3, 0x34, 3, sequence]) for sequence in (1, 2, 3)]
    assert [len(part) - 6 for part in parts] == [153, 153, 94]


def test_ucs2_parts_carry_67_units():
    _, parts = sms_parts(CYRILLIC * 140, UCS2, reference=9)
    assert [len(part) - 6 for part in parts] == [134, 134, 12]


@pytest.mark.parametrize("length", [1, 152, 153, 154, 159, 160, 161, 305, 306, 307, 459, 460, 1377, 1530, 1531])
def test_plain_gsm_part_counts_agree_with_segment_count_at_the_boundaries(length):
    assert_parts_match_segment_count("a" * length)


@pytest.mark.parametrize("length", [1, 66, 67, 68, 69, 70, 71, 133, 134, 135, 201, 202, 670, 671])
def test_ucs2_part_counts_agree_with_segment_count_at_the_boundaries(length):
    assert_parts_match_segment_count(CYRILLIC * length)


@pytest.mark.parametrize("position", range(148, 162))
@pytest.mark.parametrize("length", [160, 161, 306, 307, 320])
def test_an_extension_character_straddling_any_boundary_moves_whole(position, length):
    text = "a" * position + EURO + "a" * (length - position - 2)
    assert_parts_match_segment_count(text)
    _, parts = sms_parts(text, GSM7, reference=1)
    assert all(not part.endswith(b"\x1b") for part in parts)


@pytest.mark.parametrize("position", range(62, 72))
@pytest.mark.parametrize("length", [70, 71, 134, 135, 140])
def test_an_emoji_straddling_any_boundary_moves_whole(position, length):
    text = CYRILLIC * position + EMOJI + CYRILLIC * (length - position - 2)
    assert_parts_match_segment_count(text)
    _, parts = sms_parts(text, UCS2, reference=1)
    assert all(not 0xD8 <= part[-2] <= 0xDB for part in parts[:-1])


def test_extension_pairs_at_every_boundary_of_a_ten_segment_text():
    for offset in range(3):
        assert_parts_match_segment_count("a" * offset + EURO * 765)
        assert_parts_match_segment_count("a" * offset + EMOJI * 335)


def test_random_texts_have_as_many_parts_as_segments_and_decode_back():
    rng = random.Random(20240601)
    pools = [GSM_BASIC, GSM_BASIC + GSM_EXTENSION, GSM_BASIC + LATIN, GSM_BASIC + EMOJIS, LONE_SURROGATES + "ab"]
    checked = 0
    while checked < 4000:
        pool = "".join(rng.sample(pools, rng.randrange(1, 3)))
        text = "".join(rng.choices(pool, k=rng.choice([rng.randrange(1, 200), rng.randrange(1, 1600)])))
        if segment_count(text).segments <= MAX_SEGMENTS:
            assert_parts_match_segment_count(text)
            checked += 1


def test_a_character_the_encoding_cannot_carry_or_an_unknown_encoding_is_refused():
    with pytest.raises(ValueError):
        sms_parts("ж", GSM7, reference=1)
    with pytest.raises(ValueError):
        sms_parts("a", "UTF-8", reference=1)


def test_more_than_255_parts_are_refused():
    sms_parts("a" * 153 * 255, GSM7, reference=1)
    with pytest.raises(ValueError, match="256 parts"):
        sms_parts("a" * (153 * 255 + 1), GSM7, reference=1)


def test_packed_single_part_of_160_septets_fills_140_octets():
    data_coding, parts = sms_parts("b" * 160, GSM7, reference=1, gsm7_packed=True)
    assert (data_coding, [len(part) for part in parts]) == (0, [140])
    assert texts_of(0, parts, packed=True) == ["b" * 160]


def test_packed_parts_start_their_septets_after_one_fill_bit():
    _, parts = sms_parts("c" * 200, GSM7, reference=3, gsm7_packed=True)
    assert [len(part) for part in parts] == [140, 6 + 42]  # 1 + 47 * 7 bits
    assert parts[0][:6] == bytes([5, 0, 3, 3, 2, 1])
    assert gsm7.unpack(parts[0][6:], 153, fill_bits=1) == b"c" * 153
    assert parts[0][6] & 1 == 0  # the fill bit


def test_packed_seven_spare_bits_are_padded_with_a_carriage_return_not_read_as_at():
    _, [part] = sms_parts("abcdefg", GSM7, reference=1, gsm7_packed=True)
    assert gsm7.unpack(part, 8) == gsm7.encode("abcdefg\r")
    assert texts_of(0, [part], packed=True) == ["abcdefg"]
    _, [part] = sms_parts("abcdef@", GSM7, reference=1, gsm7_packed=True)
    assert texts_of(0, [part], packed=True) == ["abcdef@"]


def test_packed_final_carriage_return_on_an_octet_boundary_reads_as_padding():
    # 23.038 6.1.2.3.1 reserves that position for padding; a carriage return elsewhere is kept.
    _, [part] = sms_parts("abcdefg\r", GSM7, reference=1, gsm7_packed=True)
    assert texts_of(0, [part], packed=True) == ["abcdefg"]
    _, [part] = sms_parts("ab\rcd", GSM7, reference=1, gsm7_packed=True)
    assert texts_of(0, [part], packed=True) == ["ab\rcd"]


def test_a_16_bit_concatenation_reference_is_read():
    payload = bytes([6, 8, 4, 0x12, 0x34, 3, 2]) + b"hi"
    assert decode_short_message(payload, 0, udhi=True) == ("hi", (0x1234, 3, 2))


def test_the_concatenation_element_is_found_after_other_elements():
    port_addressing = bytes([0x05, 4, 0x0B, 0x84, 0x23, 0xF0])
    payload = bytes([11]) + port_addressing + bytes([0, 3, 9, 2, 1]) + "ok".encode("utf-16-be")
    assert decode_short_message(payload, 8, udhi=True) == ("ok", (9, 2, 1))


def test_a_header_without_concatenation_is_stripped_and_gives_none():
    assert decode_short_message(bytes([4, 0x05, 2, 1, 2]) + b"abc", 0, udhi=True) == ("abc", None)


def test_a_concatenation_element_with_sequence_zero_or_past_the_total_is_ignored():
    assert decode_short_message(bytes([5, 0, 3, 1, 2, 0]) + b"a", 0, udhi=True) == ("a", None)
    assert decode_short_message(bytes([5, 0, 3, 1, 2, 3]) + b"a", 0, udhi=True) == ("a", None)


def test_a_header_longer_than_the_payload_is_read_as_text():
    assert decode_short_message(b"\x50abc", 3, udhi=True) == ("\x50abc", None)


def test_without_udhi_a_leading_header_is_text():
    assert decode_short_message(bytes([5, 0, 3, 1, 2, 1]) + b"a", 3, udhi=False) == ("\x05\x00\x03\x01\x02\x01a", None)


@pytest.mark.parametrize(
    ("data_coding", "payload", "text"),
    [
        (0, gsm7.encode("Ça coûte 5€"[:4]), "Ça c"),
        (1, b"plain \xe9", "plain \ufffd"),
        (3, b"caf\xe9", "café"),
        (8, "日本".encode("utf-16-be"), "日本"),
        (8, b"\x00a\x00", "a\ufffd"),
        (8, b"\xd8\x3d", "\ud83d"),
        (0xF5, b"caf\xe9", "café"),
        (4, b"\x00\xff", "\x00\xff"),
    ],
)
def test_each_data_coding_decodes_as_its_alphabet(data_coding, payload, text):
    assert decode_short_message(payload, data_coding, udhi=False) == (text, None)


def test_decoding_never_raises_on_random_payloads():
    rng = random.Random(7)
    for _ in range(5000):
        payload = rng.randbytes(rng.randrange(0, 160))
        text, concat = decode_short_message(
            payload, rng.choice([0, 1, 3, 4, 8, 0xF0]), udhi=rng.random() < 0.5, gsm7_packed=rng.random() < 0.5
        )
        assert isinstance(text, str)
        assert concat is None or len(concat) == 3
