"""smsplatform.gsm7: the GSM 03.38 tables, septet encoding and 7-bit packing (no database needed)."""

import random

import pytest

from smsplatform import gsm7

# 3GPP TS 23.038 6.2.1.1, written out apart from the module's copy.
EXTENSION_BY_CODE = {
    0x0A: "\x0c",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}
GSM_CHARS = gsm7.BASIC_TABLE.replace("\x1b", "") + "".join(gsm7.EXTENSION_TABLE)


def test_basic_table_is_128_distinct_characters_with_the_escape_at_0x1b():
    assert len(gsm7.BASIC_TABLE) == 128
    assert len(set(gsm7.BASIC_TABLE)) == 128
    assert gsm7.BASIC_TABLE[0x00] == "@"
    assert gsm7.BASIC_TABLE[0x1B] == gsm7.ESCAPE == "\x1b"
    assert gsm7.BASIC_TABLE[0x24] == "¤"
    assert gsm7.BASIC_TABLE[0x7F] == "à"


def test_extension_table_has_the_spec_codes():
    assert {code: char for char, code in gsm7.EXTENSION_TABLE.items()} == EXTENSION_BY_CODE


@pytest.mark.parametrize("code", [code for code in range(128) if code != 0x1B])
def test_every_basic_character_encodes_as_its_code_and_back(code):
    char = gsm7.BASIC_TABLE[code]
    assert gsm7.encode(char) == bytes([code])
    assert gsm7.decode(bytes([code])) == char


@pytest.mark.parametrize(("code", "char"), EXTENSION_BY_CODE.items())
def test_every_extension_character_encodes_as_escape_then_code_and_back(code, char):
    assert gsm7.encode(char) == bytes([0x1B, code])
    assert gsm7.decode(bytes([0x1B, code])) == char


def test_encode_writes_a_mixed_text_one_septet_per_byte():
    assert gsm7.encode("A€{@}") == bytes([0x41, 0x1B, 0x65, 0x1B, 0x28, 0x00, 0x1B, 0x29])


@pytest.mark.parametrize("char", ["ж", "😀", "\x1b", "\ud83d", "`", "á"])
def test_encode_refuses_a_character_outside_the_alphabet_naming_it(char):
    with pytest.raises(ValueError, match=f"U\\+{ord(char):04X}"):
        gsm7.encode("ok " + char)


def test_an_escape_before_an_undefined_code_reads_as_the_basic_character():
    assert gsm7.decode(bytes([0x1B, 0x41, 0x42])) == "AB"


def test_an_escape_before_another_escape_or_at_the_end_reads_as_a_space():
    assert gsm7.decode(bytes([0x41, 0x1B, 0x1B, 0x42, 0x1B])) == "A B "


def test_decode_ignores_the_high_bit_of_a_stray_octet():
    assert gsm7.decode(bytes([0xC1])) == "A"


def test_decode_never_raises_on_any_pair_of_octets():
    for first in range(256):
        for second in range(256):
            assert isinstance(gsm7.decode(bytes([first, second])), str)


def test_random_gsm_texts_round_trip():
    rng = random.Random(38)
    for _ in range(500):
        text = "".join(rng.choices(GSM_CHARS, k=rng.randrange(0, 400)))
        assert gsm7.decode(gsm7.encode(text)) == text


def test_pack_matches_the_spec_example():
    # "hellohello" packed, the classic 23.038 illustration.
    assert gsm7.pack(gsm7.encode("hellohello")) == bytes.fromhex("E8329BFD4697D9EC37")


def test_pack_after_one_fill_bit_shifts_the_septets_by_one_bit():
    assert gsm7.pack(b"\x01", fill_bits=1) == b"\x02"
    assert gsm7.pack(bytes([0x7F]), fill_bits=1) == b"\xfe"
    assert gsm7.pack(bytes([0x7F, 0x7F]), fill_bits=1) == b"\xfe\x7f"


def test_eight_septets_pack_into_seven_octets():
    assert len(gsm7.pack(bytes(range(8)))) == 7
    assert len(gsm7.pack(bytes(range(160)))) == 140


@pytest.mark.parametrize("fill_bits", range(7))
def test_unpack_reverses_pack_at_every_fill(fill_bits):
    rng = random.Random(fill_bits)
    for length in range(0, 170):
        septets = bytes(rng.randrange(128) for _ in range(length))
        assert gsm7.unpack(gsm7.pack(septets, fill_bits), length, fill_bits) == septets


def test_unpack_reads_missing_bits_as_zeros():
    assert gsm7.unpack(b"", 2) == b"\x00\x00"
