"""gateways.smpp.pdu: the SMPP 3.4 codec and framing (no database needed)."""

import random
import struct

import pytest

from gateways.smpp import pdu as smpp
from gateways.smpp.pdu import CommandId, FrameBuffer, Pdu, PduError, Status, Tag

SUBMIT_FIELDS = {
    "service_type": "",
    "source_addr_ton": smpp.TON_ALPHANUMERIC,
    "source_addr_npi": smpp.NPI_UNKNOWN,
    "source_addr": "MyBrand",
    "dest_addr_ton": smpp.TON_INTERNATIONAL,
    "dest_addr_npi": smpp.NPI_ISDN,
    "destination_addr": "263771234567",
    "esm_class": smpp.ESM_UDHI,
    "protocol_id": 0,
    "priority_flag": 0,
    "schedule_delivery_time": "",
    "validity_period": "",
    "registered_delivery": 1,
    "replace_if_present_flag": 0,
    "data_coding": smpp.DATA_CODING_UCS2,
    "sm_default_msg_id": 0,
    "short_message": b"\x05\x00\x03\x2a\x02\x01\x00h\x00i",
}


def frame_with_body(command_id: int, body: bytes, *, sequence: int = 7, status: int = 0) -> bytes:
    return struct.pack(">IIII", 16 + len(body), command_id, status, sequence) + body


def test_enquire_link_is_a_bare_16_octet_header():
    assert smpp.encode(Pdu(CommandId.ENQUIRE_LINK, 1)) == bytes.fromhex("00000010 00000015 00000000 00000001")


def test_submit_sm_is_encoded_field_by_field_in_spec_order():
    expected = bytes.fromhex(
        "0000003e 00000004 00000000 00000009"  # header: 62 octets, submit_sm, status 0, sequence 9
        "00 05 00 4d794272616e6400"  # service_type "", ton 5, npi 0, source "MyBrand"
        "01 01 32363337373132333435363700"  # ton 1, npi 1, destination "263771234567"
        "40 00 00 00 00"  # esm_class UDHI, protocol_id, priority, schedule "", validity ""
        "01 00 08 00"  # registered_delivery, replace_if_present, data_coding UCS-2, sm_default_msg_id
        "0a 0500032a0201 00680069"  # sm_length 10, the UDH, "hi" in UTF-16-BE
    )
    assert smpp.encode(Pdu(CommandId.SUBMIT_SM, 9, fields=SUBMIT_FIELDS)) == expected


def test_fields_not_given_take_their_defaults():
    decoded = smpp.decode(smpp.encode(Pdu(CommandId.BIND_TRANSCEIVER, 1, fields={"system_id": "me"})))
    assert decoded.fields == {
        "system_id": "me",
        "password": "",
        "system_type": "",
        "interface_version": 0x34,
        "addr_ton": 0,
        "addr_npi": 0,
        "address_range": "",
    }


@pytest.mark.parametrize(
    ("command_id", "fields", "tlvs"),
    [
        (CommandId.BIND_TRANSMITTER, {"system_id": "acme", "password": "secret", "system_type": "SMS"}, {}),
        (CommandId.BIND_RECEIVER_RESP, {"system_id": "SMSC"}, {Tag.SC_INTERFACE_VERSION: b"\x34"}),
        (CommandId.SUBMIT_SM, SUBMIT_FIELDS, {Tag.USER_MESSAGE_REFERENCE: b"\x00\x01"}),
        (CommandId.SUBMIT_SM_RESP, {"message_id": "1A2B3C"}, {}),
        (
            CommandId.DELIVER_SM,
            {**SUBMIT_FIELDS, "esm_class": smpp.ESM_DELIVERY_RECEIPT, "short_message": b"id:1 stat:DELIVRD"},
            {Tag.RECEIPTED_MESSAGE_ID: b"1\x00", Tag.MESSAGE_STATE: b"\x02", Tag.NETWORK_ERROR_CODE: b"\x03\x00\x00"},
        ),
        (CommandId.DELIVER_SM_RESP, {"message_id": ""}, {}),
        (
            CommandId.DATA_SM,
            {"source_addr": "263771234567", "destination_addr": "12345", "data_coding": 8},
            {Tag.MESSAGE_PAYLOAD: "héllo".encode("utf-16-be")},
        ),
        (CommandId.DATA_SM_RESP, {"message_id": "x" * 64}, {}),
        (CommandId.UNBIND, {}, {}),
        (CommandId.UNBIND_RESP, {}, {}),
        (CommandId.ENQUIRE_LINK_RESP, {}, {}),
        (CommandId.GENERIC_NACK, {}, {}),
    ],
)
def test_every_command_round_trips(command_id, fields, tlvs):
    original = Pdu(command_id, 0x7FFFFFFF, Status.ESME_ROK, fields, tlvs)
    decoded = smpp.decode(smpp.encode(original))
    assert (decoded.command_id, decoded.sequence, decoded.status, decoded.tlvs) == (command_id, 0x7FFFFFFF, 0, tlvs)
    assert decoded.fields.items() >= fields.items()
    assert smpp.encode(decoded) == smpp.encode(original)


def test_a_short_message_of_254_octets_fits():
    decoded = smpp.decode(smpp.encode(Pdu(CommandId.SUBMIT_SM, 1, fields={"short_message": b"\xff" * 254})))
    assert decoded.fields["short_message"] == b"\xff" * 254


@pytest.mark.parametrize(
    ("command_id", "name", "longest"),
    [
        (CommandId.BIND_TRANSCEIVER, "system_id", 15),
        (CommandId.BIND_TRANSCEIVER, "password", 8),
        (CommandId.BIND_TRANSCEIVER, "system_type", 12),
        (CommandId.BIND_TRANSCEIVER, "address_range", 40),
        (CommandId.SUBMIT_SM, "service_type", 5),
        (CommandId.SUBMIT_SM, "source_addr", 20),
        (CommandId.SUBMIT_SM, "destination_addr", 20),
        (CommandId.SUBMIT_SM, "validity_period", 16),
        (CommandId.SUBMIT_SM_RESP, "message_id", 64),
        (CommandId.DATA_SM, "destination_addr", 64),
    ],
)
def test_a_c_string_longer_than_its_maximum_is_refused(command_id, name, longest):
    smpp.encode(Pdu(command_id, 1, fields={name: "9" * longest}))
    with pytest.raises(ValueError, match=name):
        smpp.encode(Pdu(command_id, 1, fields={name: "9" * (longest + 1)}))


@pytest.mark.parametrize(
    "fields",
    [
        {"short_message": b"x" * 255},
        {"source_addr": "a\x00b"},
        {"source_addr": "ж"},
        {"esm_class": 256},
        {"data_coding": -1},
        {"priority_flag": "1"},
    ],
)
def test_a_field_smpp_cannot_carry_is_a_value_error(fields):
    with pytest.raises(ValueError):
        smpp.encode(Pdu(CommandId.SUBMIT_SM, 1, fields=fields))


def test_a_tlv_longer_than_16_bits_can_count_is_a_value_error():
    with pytest.raises(ValueError):
        smpp.encode(Pdu(CommandId.SUBMIT_SM, 1, tlvs={Tag.MESSAGE_PAYLOAD: b"x" * 65536}))


def test_a_response_has_the_matching_command_and_the_same_sequence():
    response = Pdu(CommandId.SUBMIT_SM, 41).response(message_id="ABC")
    assert response == Pdu(CommandId.SUBMIT_SM_RESP, 41, 0, {"message_id": "ABC"})
    assert Pdu(CommandId.BIND_RECEIVER, 2).response(Status.ESME_RINVPASWD).command_id == CommandId.BIND_RECEIVER_RESP
    assert Pdu(CommandId.DATA_SM, 3).response().command_id == CommandId.DATA_SM_RESP


@pytest.mark.parametrize("command_id", [CommandId.GENERIC_NACK, CommandId.SUBMIT_SM_RESP, 0x00000099])
def test_responses_and_unknown_commands_have_no_response(command_id):
    with pytest.raises(ValueError):
        Pdu(command_id, 1).response()


def test_name_is_the_spec_name_or_the_id_in_hex():
    assert Pdu(CommandId.SUBMIT_SM, 1).name == "submit_sm"
    assert Pdu(CommandId.BIND_TRANSCEIVER_RESP, 1).name == "bind_transceiver_resp"
    assert Pdu(0x00000099, 1).name == "0x00000099"


def test_status_name_knows_the_table_and_writes_other_codes_in_hex():
    assert smpp.status_name(0x58) == "ESME_RTHROTTLED"
    assert smpp.status_name(Status.ESME_RINVDSTADR) == "ESME_RINVDSTADR"
    assert smpp.status_name(0xC5) == "0x000000C5"
    assert smpp.status_name(0x400) == "0x00000400"


def test_status_table_has_every_smpp_34_code_once():
    assert len(Status) == 48
    assert Status.ESME_RX_R_APPN == 0x66
    assert Status.ESME_RUNKNOWNERR == 0xFF


def test_an_error_response_without_a_body_decodes_with_an_empty_message_id():
    for command_id in (CommandId.SUBMIT_SM_RESP, CommandId.DATA_SM_RESP):
        decoded = smpp.decode(frame_with_body(command_id, b"", status=Status.ESME_RTHROTTLED))
        assert (decoded.status, decoded.fields) == (Status.ESME_RTHROTTLED, {"message_id": ""})
    decoded = smpp.decode(frame_with_body(CommandId.BIND_TRANSCEIVER_RESP, b"", status=Status.ESME_RBINDFAIL))
    assert decoded.fields == {"system_id": ""}


def test_a_successful_submit_sm_resp_without_its_message_id_is_malformed():
    with pytest.raises(PduError) as error:
        smpp.decode(frame_with_body(CommandId.SUBMIT_SM_RESP, b"", sequence=12))
    assert (error.value.sequence, error.value.status) == (12, Status.ESME_RINVCMDLEN)


def test_an_unknown_command_decodes_with_its_raw_body_and_encodes_back():
    frame = frame_with_body(0x00000099, b"\x01\x02\x03")
    decoded = smpp.decode(frame)
    assert (decoded.command_id, decoded.fields, decoded.tlvs) == (0x99, {"body": b"\x01\x02\x03"}, {})
    assert smpp.encode(decoded) == frame


def test_a_body_cut_inside_a_mandatory_field_is_a_pdu_error_with_its_sequence():
    body = smpp.encode(Pdu(CommandId.SUBMIT_SM, 1, fields=SUBMIT_FIELDS))[16:]
    for cut in range(len(body)):
        with pytest.raises(PduError) as error:
            smpp.decode(frame_with_body(CommandId.SUBMIT_SM, body[:cut], sequence=33))
        assert (error.value.sequence, error.value.status) == (33, Status.ESME_RINVCMDLEN)


def test_a_truncated_tlv_is_a_pdu_error_of_the_optional_part():
    body = smpp.encode(Pdu(CommandId.SUBMIT_SM, 1, fields=SUBMIT_FIELDS, tlvs={Tag.MESSAGE_PAYLOAD: b"abcd"}))[16:]
    for cut in range(1, 8):
        with pytest.raises(PduError) as error:
            smpp.decode(frame_with_body(CommandId.SUBMIT_SM, body[:-cut], sequence=5))
        assert (error.value.sequence, error.value.status) == (5, Status.ESME_RINVOPTPARSTREAM)


def test_tlvs_after_the_mandatory_fields_are_decoded_in_order():
    tlvs = {Tag.SAR_MSG_REF_NUM: b"\x01\x02", Tag.SAR_TOTAL_SEGMENTS: b"\x03", Tag.SAR_SEGMENT_SEQNUM: b"\x01"}
    decoded = smpp.decode(smpp.encode(Pdu(CommandId.SUBMIT_SM, 1, fields=SUBMIT_FIELDS, tlvs=tlvs)))
    assert list(decoded.tlvs.items()) == list(tlvs.items())


def test_a_frame_whose_length_disagrees_with_its_header_is_a_pdu_error():
    frame = smpp.encode(Pdu(CommandId.ENQUIRE_LINK, 4))
    with pytest.raises(PduError):
        smpp.decode(frame + b"\x00")
    with pytest.raises(PduError):
        smpp.decode(frame[:12])


def test_random_bodies_raise_only_pdu_errors():
    rng = random.Random(1)
    for _ in range(5000):
        command_id = rng.choice([*CommandId, 0x99])
        body = rng.randbytes(rng.randrange(0, 120))
        try:
            decoded = smpp.decode(frame_with_body(command_id, body, status=rng.choice([0, 8])))
        except PduError:
            continue
        assert isinstance(decoded, Pdu)


def test_frames_split_over_many_reads_come_out_whole():
    frames = [smpp.encode(Pdu(CommandId.SUBMIT_SM, sequence, fields=SUBMIT_FIELDS)) for sequence in range(1, 4)]
    stream = b"".join(frames)
    buffer = FrameBuffer()
    received = []
    for octet in range(len(stream)):
        received += buffer.feed(stream[octet : octet + 1])
    assert received == frames


def test_many_frames_in_one_read_come_out_in_order_and_a_partial_one_waits():
    frames = [smpp.encode(Pdu(CommandId.ENQUIRE_LINK, sequence)) for sequence in range(100)]
    buffer = FrameBuffer()
    assert buffer.feed(b"".join(frames) + frames[0][:5]) == frames
    assert buffer.feed(frames[0][5:]) == [frames[0]]
    assert buffer.feed(b"") == []


@pytest.mark.parametrize("command_length", [0, 15, 65_537, 0xFFFFFFFF])
def test_a_command_length_out_of_range_breaks_the_framing(command_length):
    with pytest.raises(PduError):
        FrameBuffer().feed(struct.pack(">IIII", command_length, CommandId.ENQUIRE_LINK, 0, 1))


def test_the_largest_command_length_is_waited_for():
    assert FrameBuffer().feed(struct.pack(">IIII", 65_536, CommandId.SUBMIT_SM, 0, 1)) == []
