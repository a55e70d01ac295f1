"""SMPP 3.4 PDUs: the commands, statuses and TLVs we use, and their binary encoding.

A PDU is a 16-octet header (command_length, command_id, command_status, sequence_number, all big-endian
32-bit) and a body: the command's mandatory parameters in spec order, then optional TLVs. Mandatory
parameters are C-octet strings (latin-1 `str`, NUL-terminated on the wire), 1-octet integers (`int`), and
short_message (`bytes`, preceded by its sm_length octet, which is derived and never given).

On the hot path (thousands of PDUs a second per bind): each command's layout is compiled once into steps —
a C-string, a run of consecutive 1-octet integers packed by one `struct.Struct`, or short_message — so a
submit_sm is about ten steps, never a loop over bytes.
"""

import struct
from dataclasses import dataclass, field
from enum import IntEnum

HEADER_SIZE = 16
MAX_COMMAND_LENGTH = 65_536
RESP_BIT = 0x80000000  # a response's command_id is its request's with this bit set
SHORT_MESSAGE_MAX = 254


class CommandId(IntEnum):
    GENERIC_NACK = 0x80000000
    BIND_RECEIVER = 0x00000001
    BIND_RECEIVER_RESP = 0x80000001
    BIND_TRANSMITTER = 0x00000002
    BIND_TRANSMITTER_RESP = 0x80000002
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015
    DATA_SM = 0x00000103
    DATA_SM_RESP = 0x80000103


class Status(IntEnum):
    ESME_ROK = 0x00
    ESME_RINVMSGLEN = 0x01
    ESME_RINVCMDLEN = 0x02
    ESME_RINVCMDID = 0x03
    ESME_RINVBNDSTS = 0x04
    ESME_RALYBND = 0x05
    ESME_RINVPRTFLG = 0x06
    ESME_RINVREGDLVFLG = 0x07
    ESME_RSYSERR = 0x08
    ESME_RINVSRCADR = 0x0A
    ESME_RINVDSTADR = 0x0B
    ESME_RINVMSGID = 0x0C
    ESME_RBINDFAIL = 0x0D
    ESME_RINVPASWD = 0x0E
    ESME_RINVSYSID = 0x0F
    ESME_RCANCELFAIL = 0x11
    ESME_RREPLACEFAIL = 0x13
    ESME_RMSGQFUL = 0x14
    ESME_RINVSERTYP = 0x15
    ESME_RINVNUMDESTS = 0x33
    ESME_RINVDLNAME = 0x34
    ESME_RINVDESTFLAG = 0x40
    ESME_RINVSUBREP = 0x42
    ESME_RINVESMCLASS = 0x43
    ESME_RCNTSUBDL = 0x44
    ESME_RSUBMITFAIL = 0x45
    ESME_RINVSRCTON = 0x48
    ESME_RINVSRCNPI = 0x49
    ESME_RINVDSTTON = 0x50
    ESME_RINVDSTNPI = 0x51
    ESME_RINVSYSTYP = 0x53
    ESME_RINVREPFLAG = 0x54
    ESME_RINVNUMMSGS = 0x55
    ESME_RTHROTTLED = 0x58
    ESME_RINVSCHED = 0x61
    ESME_RINVEXPIRY = 0x62
    ESME_RINVDFTMSGID = 0x63
    ESME_RX_T_APPN = 0x64
    ESME_RX_P_APPN = 0x65
    ESME_RX_R_APPN = 0x66
    ESME_RQUERYFAIL = 0x67
    ESME_RINVOPTPARSTREAM = 0xC0
    ESME_ROPTPARNOTALLWD = 0xC1
    ESME_RINVPARLEN = 0xC2
    ESME_RMISSINGOPTPARAM = 0xC3
    ESME_RINVOPTPARAMVAL = 0xC4
    ESME_RDELIVERYFAILURE = 0xFE
    ESME_RUNKNOWNERR = 0xFF


_STATUS_NAMES = {status.value: status.name for status in Status}


def status_name(code: int) -> str:
    """ "ESME_RTHROTTLED" for a known command_status, "0x000000C5" for any other; never raises."""
    return _STATUS_NAMES.get(code) or f"0x{code:08X}"


class Tag(IntEnum):
    RECEIPTED_MESSAGE_ID = 0x001E
    USER_MESSAGE_REFERENCE = 0x0204
    SAR_MSG_REF_NUM = 0x020C
    SAR_TOTAL_SEGMENTS = 0x020E
    SAR_SEGMENT_SEQNUM = 0x020F
    SC_INTERFACE_VERSION = 0x0210
    NETWORK_ERROR_CODE = 0x0423
    MESSAGE_PAYLOAD = 0x0424
    MESSAGE_STATE = 0x0427


# esm_class bits.
ESM_UDHI = 0x40  # short_message starts with a user data header
ESM_TYPE_MASK = 0x3C  # the message type bits
ESM_DELIVERY_RECEIPT = 0x04
ESM_INTERMEDIATE_NOTIFICATION = 0x20

DATA_CODING_DEFAULT = 0  # the SMSC's default alphabet: GSM 03.38 for us
DATA_CODING_UCS2 = 8

TON_INTERNATIONAL = 1
TON_ALPHANUMERIC = 5
NPI_UNKNOWN = 0
NPI_ISDN = 1


class PduError(ValueError):
    """A frame that is not a valid PDU; `sequence` and `status` are what a generic_nack answers."""

    def __init__(self, reason: str, *, sequence: int = 0, status: int = Status.ESME_RINVCMDLEN):
        super().__init__(reason)
        self.reason = reason
        self.sequence = sequence
        self.status = status


_COMMAND_NAMES = {command.value: command.name.lower() for command in CommandId}


@dataclass(slots=True)
class Pdu:
    command_id: int
    sequence: int
    status: int = 0
    fields: dict[str, int | str | bytes] = field(default_factory=dict)  # mandatory parameters by spec name
    tlvs: dict[int, bytes] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The command's spec name ("submit_sm"), or its id in hex when unknown."""
        return _COMMAND_NAMES.get(self.command_id) or f"0x{self.command_id:08X}"

    def response(self, status: int = 0, **fields: int | str | bytes) -> "Pdu":
        """The matching *_resp, with the same sequence number."""
        if self.command_id & RESP_BIT or self.command_id | RESP_BIT not in _COMMAND_NAMES:
            raise ValueError(f"{self.name} has no response PDU.")
        return Pdu(self.command_id | RESP_BIT, self.sequence, status, fields)


# Layouts: (name, kind) in spec order. A C-string's kind is its maximum size including the NUL; "B" is a
# 1-octet integer; "sm" is sm_length + short_message.
_BIND = (
    ("system_id", 16),
    ("password", 9),
    ("system_type", 13),
    ("interface_version", "B"),
    ("addr_ton", "B"),
    ("addr_npi", "B"),
    ("address_range", 41),
)
_SHORT_MESSAGE = (
    ("service_type", 6),
    ("source_addr_ton", "B"),
    ("source_addr_npi", "B"),
    ("source_addr", 21),
    ("dest_addr_ton", "B"),
    ("dest_addr_npi", "B"),
    ("destination_addr", 21),
    ("esm_class", "B"),
    ("protocol_id", "B"),
    ("priority_flag", "B"),
    ("schedule_delivery_time", 17),
    ("validity_period", 17),
    ("registered_delivery", "B"),
    ("replace_if_present_flag", "B"),
    ("data_coding", "B"),
    ("sm_default_msg_id", "B"),
    ("short_message", "sm"),
)
_DATA_SM = (
    ("service_type", 6),
    ("source_addr_ton", "B"),
    ("source_addr_npi", "B"),
    ("source_addr", 65),
    ("dest_addr_ton", "B"),
    ("dest_addr_npi", "B"),
    ("destination_addr", 65),
    ("esm_class", "B"),
    ("registered_delivery", "B"),
    ("data_coding", "B"),
)
_MESSAGE_ID = (("message_id", 65),)
_SYSTEM_ID = (("system_id", 16),)
_INT_DEFAULTS = {"interface_version": 0x34}

_CSTRING, _INTEGERS, _SM = 0, 1, 2


@dataclass(frozen=True, slots=True)
class _Layout:
    names: tuple[str, ...]
    # (_CSTRING, name, max size with NUL) | (_INTEGERS, names, defaults, Struct) | (_SM,)
    steps: tuple[tuple, ...]
    defaults: dict[str, int | str | bytes]


def _compile(spec: tuple[tuple[str, int | str], ...]) -> _Layout:
    steps: list[tuple] = []
    for name, kind in spec:
        if kind == "B":
            if steps and steps[-1][0] == _INTEGERS:  # extend the run of integers
                _, names, defaults, _ = steps.pop()
            else:
                names, defaults = (), ()
            names, defaults = (*names, name), (*defaults, _INT_DEFAULTS.get(name, 0))
            steps.append((_INTEGERS, names, defaults, struct.Struct(f">{len(names)}B")))
        elif kind == "sm":
            steps.append((_SM,))
        else:
            steps.append((_CSTRING, name, kind))
    defaults = {
        name: b"" if kind == "sm" else "" if isinstance(kind, int) else _INT_DEFAULTS.get(name, 0)
        for name, kind in spec
    }
    return _Layout(tuple(name for name, _ in spec), tuple(steps), defaults)


_LAYOUTS: dict[int, _Layout] = {
    command: _compile(spec)
    for commands, spec in (
        ((CommandId.BIND_RECEIVER, CommandId.BIND_TRANSMITTER, CommandId.BIND_TRANSCEIVER), _BIND),
        (
            (CommandId.BIND_RECEIVER_RESP, CommandId.BIND_TRANSMITTER_RESP, CommandId.BIND_TRANSCEIVER_RESP),
            _SYSTEM_ID,
        ),
        ((CommandId.SUBMIT_SM, CommandId.DELIVER_SM), _SHORT_MESSAGE),
        ((CommandId.SUBMIT_SM_RESP, CommandId.DELIVER_SM_RESP, CommandId.DATA_SM_RESP), _MESSAGE_ID),
        ((CommandId.DATA_SM,), _DATA_SM),
        (
            (
                CommandId.ENQUIRE_LINK,
                CommandId.ENQUIRE_LINK_RESP,
                CommandId.UNBIND,
                CommandId.UNBIND_RESP,
                CommandId.GENERIC_NACK,
            ),
            (),
        ),
    )
    for command in commands
}

_HEADER = struct.Struct(">IIII")
_TLV_HEADER = struct.Struct(">HH")
_LENGTH = struct.Struct(">I")


def encode(pdu: Pdu) -> bytes:
    """The PDU's bytes, header included. Raises ValueError for a field SMPP cannot carry (too long, NUL, range).

    An unknown command's body is fields["body"] as is (what `decode` keeps of one).
    """
    layout = _LAYOUTS.get(pdu.command_id)
    body = pdu.fields.get("body", b"") if layout is None else _encode_body(layout, pdu.fields) if layout.steps else b""
    if pdu.tlvs:
        body += _encode_tlvs(pdu.tlvs)
    return _HEADER.pack(HEADER_SIZE + len(body), pdu.command_id, pdu.status, pdu.sequence) + body


def _encode_body(layout: _Layout, fields: dict) -> bytes:
    chunks = []
    append = chunks.append
    try:
        for step in layout.steps:
            kind = step[0]
            if kind == _CSTRING:
                value = fields.get(step[1], "").encode("latin-1")
                if len(value) >= step[2] or b"\0" in value:
                    raise ValueError(f"{step[1]} must be a C-string of at most {step[2] - 1} octets without NUL.")
                append(value)
                append(b"\0")
            elif kind == _INTEGERS:
                append(step[3].pack(*map(fields.get, step[1], step[2])))
            else:
                short_message = fields.get("short_message", b"")
                if len(short_message) > SHORT_MESSAGE_MAX:
                    raise ValueError(f"short_message is {len(short_message)} octets; at most {SHORT_MESSAGE_MAX}.")
                append(bytes((len(short_message),)))
                append(short_message)
    except struct.error as error:  # an integer field out of 0..255, or not an integer
        raise ValueError(f"A 1-octet field cannot hold its value: {error}") from error
    return b"".join(chunks)


def _encode_tlvs(tlvs: dict[int, bytes]) -> bytes:
    try:
        return b"".join(_TLV_HEADER.pack(tag, len(value)) + value for tag, value in tlvs.items())
    except struct.error as error:
        raise ValueError(f"A TLV's tag or length does not fit 16 bits: {error}") from error


def decode(frame: bytes) -> Pdu:
    """The PDU in one whole frame (header included).

    Raises PduError for a malformed one, carrying its sequence number and the status a generic_nack answers.
    An unknown command decodes, its body kept in fields["body"], so that the session can answer
    generic_nack ESME_RINVCMDID. A response with a non-zero status may have an empty body (its fields default).
    """
    size = len(frame)
    if size < HEADER_SIZE:
        raise PduError(f"A PDU is at least {HEADER_SIZE} octets; got {size}.")
    command_length, command_id, status, sequence = _HEADER.unpack_from(frame)
    if command_length != size:
        raise PduError(f"command_length {command_length} but the frame is {size} octets.", sequence=sequence)
    layout = _LAYOUTS.get(command_id)
    if layout is None:
        return Pdu(command_id, sequence, status, {"body": frame[HEADER_SIZE:]})
    if size == HEADER_SIZE and ((status and command_id & RESP_BIT) or not layout.steps):
        return Pdu(command_id, sequence, status, layout.defaults.copy())
    values: list[int | str | bytes] = []
    position = HEADER_SIZE
    for step in layout.steps:
        kind = step[0]
        if kind == _CSTRING:
            end = frame.find(b"\0", position)
            if end < 0:
                raise PduError(f"{step[1]} is not NUL-terminated.", sequence=sequence)
            values.append(frame[position:end].decode("latin-1"))
            position = end + 1
        elif kind == _INTEGERS:
            integers = step[3]
            if position + integers.size > size:
                raise PduError(f"The body ends before {step[1][0]}.", sequence=sequence)
            values.extend(integers.unpack_from(frame, position))
            position += integers.size
        else:
            end = position + 1 + (frame[position] if position < size else 0)
            if end > size:
                raise PduError("short_message runs past the end of the PDU.", sequence=sequence)
            values.append(frame[position + 1 : end])
            position = end
    tlvs = _decode_tlvs(frame, position, sequence) if position < size else {}
    return Pdu(command_id, sequence, status, dict(zip(layout.names, values, strict=True)), tlvs)


def _decode_tlvs(frame: bytes, position: int, sequence: int) -> dict[int, bytes]:
    tlvs = {}
    size = len(frame)
    while position < size:
        if position + _TLV_HEADER.size > size:
            raise PduError("A TLV header is cut short.", sequence=sequence, status=Status.ESME_RINVOPTPARSTREAM)
        tag, length = _TLV_HEADER.unpack_from(frame, position)
        position += _TLV_HEADER.size
        if position + length > size:
            raise PduError(
                f"TLV 0x{tag:04X} claims {length} octets past the end.",
                sequence=sequence,
                status=Status.ESME_RINVOPTPARSTREAM,
            )
        tlvs[tag] = frame[position : position + length]
        position += length
    return tlvs


class FrameBuffer:
    """Cuts a TCP byte stream into whole PDU frames."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """The frames completed by `data`, in order; raises PduError when the framing is broken (drop the link)."""
        buffer = self._buffer
        buffer += data
        size = len(buffer)
        frames = []
        start = 0
        while size - start >= 4:
            (length,) = _LENGTH.unpack_from(buffer, start)
            if not HEADER_SIZE <= length <= MAX_COMMAND_LENGTH:
                sequence = _LENGTH.unpack_from(buffer, start + 12)[0] if size - start >= HEADER_SIZE else 0
                raise PduError(
                    f"command_length {length} is out of {HEADER_SIZE}..{MAX_COMMAND_LENGTH}.", sequence=sequence
                )
            if size - start < length:
                break
            frames.append(bytes(buffer[start : start + length]))
            start += length
        if start:
            del buffer[:start]
        return frames
