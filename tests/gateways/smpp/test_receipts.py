"""gateways.smpp.receipts: delivery receipts and inbound messages from deliver_sm / data_sm (no database needed)."""

import logging
import random

import pytest

from gateways.base import InboundSms, Receipt, ReceiptStatus
from gateways.smpp import pdu as smpp
from gateways.smpp.pdu import CommandId, Pdu, PduError, Tag
from gateways.smpp.receipts import (
    inbound_from_pdu,
    is_receipt,
    normalise_id,
    parse_receipt_text,
    receipt_from_pdu,
)
from gateways.smpp.text import sms_parts
from smsplatform import gsm7

RECEIPT_TEXT = (
    "id:1A2B3C sub:001 dlvrd:001 submit date:2501311200 done date:2501311201 stat:DELIVRD err:000 text:Hello there"
)


def deliver_sm(text: str = RECEIPT_TEXT, *, esm_class: int = smpp.ESM_DELIVERY_RECEIPT, tlvs=None, **fields) -> Pdu:
    return Pdu(
        CommandId.DELIVER_SM,
        1,
        fields={
            "source_addr": "263771234567",
            "destination_addr": "MyBrand",
            "esm_class": esm_class,
            "data_coding": 0,
            "short_message": gsm7.encode(text),
            **fields,
        },
        tlvs=tlvs or {},
    )


def receipt(pdu: Pdu, id_format: str = "hex") -> Receipt | None:
    return receipt_from_pdu(pdu, gateway="smpp1", id_format=id_format)


def test_a_delivered_receipt_names_its_part_by_the_normalised_id():
    assert receipt(deliver_sm()) == Receipt("smpp1", "1715004", ReceiptStatus.DELIVERED)
    assert receipt(deliver_sm(), "text") == Receipt("smpp1", "1A2B3C", ReceiptStatus.DELIVERED)


def test_an_intermediate_notification_is_a_receipt():
    pdu = deliver_sm(RECEIPT_TEXT.replace("DELIVRD", "ENROUTE"), esm_class=smpp.ESM_INTERMEDIATE_NOTIFICATION)
    assert receipt(pdu).status == ReceiptStatus.INTERIM


def test_a_mobile_originated_message_is_not_a_receipt_even_when_it_looks_like_one():
    assert receipt(deliver_sm(esm_class=0)) is None
    assert not is_receipt(deliver_sm(esm_class=smpp.ESM_UDHI))


def test_only_deliver_sm_and_data_sm_carry_receipts():
    submit = Pdu(CommandId.SUBMIT_SM, 1, fields={"esm_class": smpp.ESM_DELIVERY_RECEIPT})
    assert receipt(submit) is None


def test_a_data_sm_is_a_receipt_by_its_receipted_message_id_or_its_esm_class():
    by_tlv = Pdu(CommandId.DATA_SM, 1, fields={"esm_class": 0}, tlvs={Tag.RECEIPTED_MESSAGE_ID: b"FF\x00"})
    assert receipt(by_tlv) == Receipt("smpp1", "255", ReceiptStatus.INTERIM)
    by_esm = Pdu(
        CommandId.DATA_SM,
        1,
        fields={"esm_class": smpp.ESM_DELIVERY_RECEIPT},
        tlvs={Tag.MESSAGE_PAYLOAD: b"id:10 stat:DELIVRD"},
    )
    assert receipt(by_esm) == Receipt("smpp1", "16", ReceiptStatus.DELIVERED)
    assert receipt(Pdu(CommandId.DATA_SM, 1, fields={"esm_class": 0})) is None


def test_the_tlvs_win_over_the_text():
    pdu = deliver_sm(
        tlvs={
            Tag.RECEIPTED_MESSAGE_ID: b"00FF\x00",
            Tag.MESSAGE_STATE: b"\x05",
            Tag.NETWORK_ERROR_CODE: b"\x03\x00\x22",
        }
    )
    assert receipt(pdu) == Receipt(
        "smpp1", "255", ReceiptStatus.UNDELIVERED, "Not delivered: UNDELIV (err 034)", "dlr:UNDELIV:034"
    )


def test_a_receipted_message_id_without_its_nul_is_read_too():
    assert receipt(deliver_sm(tlvs={Tag.RECEIPTED_MESSAGE_ID: b"ab12"}), "text").part_id == "ab12"


@pytest.mark.parametrize(
    ("stat", "status", "error", "error_code"),
    [
        ("DELIVRD", ReceiptStatus.DELIVERED, "", ""),
        ("EXPIRED", ReceiptStatus.UNDELIVERED, "Not delivered: EXPIRED (err 001)", "dlr:EXPIRED:001"),
        ("DELETED", ReceiptStatus.UNDELIVERED, "Not delivered: DELETED (err 001)", "dlr:DELETED:001"),
        ("UNDELIV", ReceiptStatus.UNDELIVERED, "Not delivered: UNDELIV (err 001)", "dlr:UNDELIV:001"),
        ("REJECTD", ReceiptStatus.UNDELIVERED, "Not delivered: REJECTD (err 001)", "dlr:REJECTD:001"),
        ("ACCEPTD", ReceiptStatus.INTERIM, "", ""),
        ("ENROUTE", ReceiptStatus.INTERIM, "", ""),
        ("UNKNOWN", ReceiptStatus.INTERIM, "", ""),
        ("BOGUS", ReceiptStatus.INTERIM, "", ""),
        ("undeliv", ReceiptStatus.UNDELIVERED, "Not delivered: UNDELIV (err 001)", "dlr:UNDELIV:001"),
    ],
)
def test_each_receipt_state_maps_to_a_receipt_status(stat, status, error, error_code):
    pdu = deliver_sm(f"id:7 sub:001 dlvrd:000 submit date:2501311200 done date:2501311201 stat:{stat} err:001 text:")
    assert receipt(pdu, "dec") == Receipt("smpp1", "7", status, error, error_code)


@pytest.mark.parametrize(("code", "name"), [(1, "ENROUTE"), (3, "EXPIRED"), (4, "DELETED"), (8, "REJECTD")])
def test_the_message_state_tlv_uses_the_spec_numbering(code, name):
    pdu = deliver_sm("id:7", tlvs={Tag.MESSAGE_STATE: bytes([code])})
    assert receipt(pdu, "dec").error_code == ("" if name == "ENROUTE" else f"dlr:{name}")


def test_an_undelivered_receipt_without_an_error_omits_it():
    assert receipt(deliver_sm("id:9 stat:EXPIRED"), "dec") == Receipt(
        "smpp1", "9", ReceiptStatus.UNDELIVERED, "Not delivered: EXPIRED", "dlr:EXPIRED"
    )


def test_a_receipt_without_a_state_is_interim():
    assert receipt(deliver_sm("id:9"), "dec").status == ReceiptStatus.INTERIM


def test_a_receipt_without_an_id_is_logged_and_dropped(caplog):
    with caplog.at_level(logging.WARNING, logger="gateways.smpp.receipts"):
        assert receipt(deliver_sm("sub:001 stat:DELIVRD")) is None
        assert receipt(deliver_sm("id: stat:DELIVRD")) is None
    assert "without a message id" in caplog.text


def test_an_unknown_id_format_is_a_value_error():
    with pytest.raises(ValueError, match="octal"):
        receipt(deliver_sm(), "octal")
    with pytest.raises(ValueError, match="octal"):
        normalise_id("1", "octal")


def test_receipt_text_keys_in_any_case_order_and_spacing():
    assert parse_receipt_text("STAT:UNDELIV  Err:012   ID:abc  Submit  Date:250131120059 done_date:2501311201") == {
        "stat": "UNDELIV",
        "err": "012",
        "id": "abc",
        "submit date": "250131120059",
        "done date": "2501311201",
    }


def test_receipt_text_fields_parse_with_dates_of_10_and_12_digits():
    fields = parse_receipt_text(RECEIPT_TEXT.replace("done date:2501311201", "done date:250131120159"))
    assert fields == {
        "id": "1A2B3C",
        "sub": "001",
        "dlvrd": "001",
        "submit date": "2501311200",
        "done date": "250131120159",
        "stat": "DELIVRD",
        "err": "000",
        "text": "Hello there",
    }


def test_the_text_field_takes_the_rest_even_when_it_looks_like_keys():
    fields = parse_receipt_text("id:5 stat:DELIVRD text:id:6 stat:UNDELIV")
    assert fields == {"id": "5", "stat": "DELIVRD", "text": "id:6 stat:UNDELIV"}


def test_empty_values_and_spaces_after_the_colon_are_tolerated():
    assert parse_receipt_text("id: 77 sub: stat:DELIVRD") == {"id": "77", "sub": "", "stat": "DELIVRD"}


def test_a_receipt_text_with_garbage_dates_still_gives_its_receipt():
    pdu = deliver_sm("id:10 submit date:xx done date:99999999999999999 stat:DELIVRD err:")
    assert receipt(pdu, "dec") == Receipt("smpp1", "10", ReceiptStatus.DELIVERED)


def test_a_ucs2_receipt_text_is_decoded_per_its_data_coding():
    pdu = deliver_sm(data_coding=8, short_message="id:42 stat:REJECTD err:9".encode("utf-16-be"))
    assert receipt(pdu, "dec").error_code == "dlr:REJECTD:9"


@pytest.mark.parametrize(
    ("raw", "id_format", "normalised"),
    [
        ("7B", "hex", "123"),
        ("7b", "hex", "123"),
        ("0000007B", "hex", "123"),
        ("123", "dec", "123"),
        ("000123", "dec", "123"),
        (" 123\x00", "dec", "123"),
        ("\x00AbC-1 \n", "text", "AbC-1"),
        ("not-hex", "hex", "not-hex"),
        ("12AB", "dec", "12ab"),
        ("+12", "dec", "+12"),
        ("١٢٣", "dec", "١٢٣"),
        ("", "hex", ""),
        ("F" * 65, "hex", "f" * 65),
    ],
)
def test_normalise_id(raw, id_format, normalised):
    assert normalise_id(raw, id_format) == normalised


def test_a_hex_response_id_matches_the_same_number_in_a_decimal_receipt():
    assert normalise_id("1A2B3C", "hex") == normalise_id("1715004", "dec")


def test_an_inbound_message_gives_sender_recipient_and_text():
    pdu = deliver_sm("Hi there", esm_class=0, source_addr="263771234567", destination_addr="12345")
    assert inbound_from_pdu(pdu, gateway="smpp1") == InboundSms("smpp1", "263771234567", "12345", "Hi there")


def test_an_inbound_part_gives_its_concatenation_from_the_udh():
    data_coding, parts = sms_parts("Привет " * 20, "UCS-2", reference=0x42)
    pdu = deliver_sm(esm_class=smpp.ESM_UDHI, data_coding=data_coding, short_message=parts[1])
    inbound = inbound_from_pdu(pdu, gateway="smpp1")
    assert inbound.concat == (0x42, len(parts), 2)
    assert inbound.text == ("Привет " * 20)[67:134]


def test_an_inbound_part_gives_its_concatenation_from_sar_tlvs():
    tlvs = {Tag.SAR_MSG_REF_NUM: b"\x01\x02", Tag.SAR_TOTAL_SEGMENTS: b"\x03", Tag.SAR_SEGMENT_SEQNUM: b"\x02"}
    assert inbound_from_pdu(deliver_sm("part", esm_class=0, tlvs=tlvs), gateway="g").concat == (0x0102, 3, 2)


def test_an_inbound_text_in_message_payload_is_read_when_short_message_is_empty():
    pdu = deliver_sm(esm_class=0, short_message=b"", tlvs={Tag.MESSAGE_PAYLOAD: gsm7.encode("long " * 60)})
    assert inbound_from_pdu(pdu, gateway="g").text == "long " * 60
    data_sm = Pdu(
        CommandId.DATA_SM,
        2,
        fields={"source_addr": "1", "destination_addr": "2", "data_coding": 8},
        tlvs={Tag.MESSAGE_PAYLOAD: "日本".encode("utf-16-be")},
    )
    assert inbound_from_pdu(data_sm, gateway="g") == InboundSms("g", "1", "2", "日本")


def test_garbage_pdus_never_raise():
    rng = random.Random(99)
    tags = [*Tag, 0x1234]
    for _ in range(5000):
        tlvs = {rng.choice(tags): rng.randbytes(rng.randrange(0, 6)) for _ in range(rng.randrange(0, 4))}
        if rng.random() < 0.5:
            words = ["id:", "ID:", "stat:", "err:", "sub:", "text:", "date:", " ", "\x00", "DELIVRD", "7B", "ж"]
            text = "".join(rng.choices(words, k=rng.randrange(0, 12)))
            short_message = text.encode("utf-8")
        else:
            short_message = rng.randbytes(rng.randrange(0, 140))
        pdu = Pdu(
            rng.choice([CommandId.DELIVER_SM, CommandId.DATA_SM]),
            1,
            fields={
                "esm_class": rng.randrange(256),
                "data_coding": rng.choice([0, 1, 3, 8, 0xF0]),
                "short_message": short_message,
            },
            tlvs=tlvs,
        )
        result = receipt(pdu, rng.choice(["text", "hex", "dec"]))
        assert result is None or isinstance(result, Receipt)
        assert isinstance(inbound_from_pdu(pdu, gateway="g"), InboundSms)


def test_mutated_receipt_frames_that_decode_never_make_receipts_raise():
    rng = random.Random(5)
    tlvs = {
        Tag.RECEIPTED_MESSAGE_ID: b"1A2B3C\x00",
        Tag.MESSAGE_STATE: b"\x02",
        Tag.NETWORK_ERROR_CODE: b"\x03\x00\x01",
    }
    original = smpp.encode(deliver_sm(tlvs=tlvs))
    decoded = 0
    for _ in range(5000):
        frame = bytearray(original)
        for _ in range(rng.randrange(1, 6)):
            frame[rng.randrange(16, len(frame))] = rng.randrange(256)
        try:
            pdu = smpp.decode(bytes(frame))
        except PduError:
            continue
        decoded += 1
        receipt(pdu)
        inbound_from_pdu(pdu, gateway="g")
    assert decoded > 1000
