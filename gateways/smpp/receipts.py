"""Delivery receipts and mobile-originated messages, read from deliver_sm / data_sm.

A receipt names its part by the SMSC's message id: in the receipted_message_id TLV when the SMSC sends one,
else in the text of SMPP 3.4 Appendix B ("id:… sub:… dlvrd:… submit date:… done date:… stat:… err:… text:…").
SMSCs differ in how they write that id (hex in submit_sm_resp, decimal in the receipt, zero padding):
`normalise_id` brings both sides to one form so that they match.

Nothing here raises on what an SMSC sends: a field that does not parse is treated as missing.
"""

import logging
import re
import struct

from ..base import InboundSms, Receipt, ReceiptStatus
from .pdu import (
    ESM_DELIVERY_RECEIPT,
    ESM_INTERMEDIATE_NOTIFICATION,
    ESM_TYPE_MASK,
    ESM_UDHI,
    CommandId,
    Pdu,
    Tag,
)
from .text import decode_short_message

logger = logging.getLogger(__name__)

ID_FORMATS = ("text", "hex", "dec")
# message_state TLV values (SMPP 3.4 5.3.2.35) and the receipt text's stat: names.
MESSAGE_STATES = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}
DELIVERED_STATE = "DELIVRD"
FAILED_STATES = frozenset({"EXPIRED", "DELETED", "UNDELIV", "REJECTD"})

_RECEIPT_TYPES = (ESM_DELIVERY_RECEIPT, ESM_INTERMEDIATE_NOTIFICATION)
# A key starts the text or follows a space; its value runs to the next key. "text:" takes the rest.
_RECEIPT_KEY = re.compile(r"(?:^|\s)(id|sub|dlvrd|submit[\s_]*date|done[\s_]*date|stat|err|text)\s*:", re.IGNORECASE)
_ID_DIGITS = {"hex": re.compile(r"[0-9a-fA-F]{1,64}"), "dec": re.compile(r"[0-9]{1,64}")}
_BLANK = " \t\r\n\0"
_NETWORK_ERROR = struct.Struct(">BH")


def receipt_from_pdu(pdu: Pdu, *, gateway: str, id_format: str) -> Receipt | None:
    """The receipt a deliver_sm or data_sm carries, its id normalised per `id_format`; never raises on the PDU.

    None when the PDU is not a receipt (a mobile-originated message: see `inbound_from_pdu`), and also for a
    receipt that names no message id: it cannot be matched to a part, so it is logged and dropped.
    """
    if id_format not in ID_FORMATS:
        raise ValueError(f"Unknown id format {id_format!r}: one of {ID_FORMATS}.")
    if not is_receipt(pdu):
        return None
    part_id = normalise_id(pdu.tlvs.get(Tag.RECEIPTED_MESSAGE_ID, b"").partition(b"\0")[0].decode("latin-1"), id_format)
    state = MESSAGE_STATES.get(_tlv_int(pdu, Tag.MESSAGE_STATE), "")
    error = _network_error(pdu)
    if not part_id or not state or (state in FAILED_STATES and not error):
        # The receipt text, read only for what the TLVs did not say (it costs more than the TLVs).
        text_fields = parse_receipt_text(message_text(pdu)[0])
        part_id = part_id or normalise_id(text_fields.get("id", ""), id_format)
        state = state or text_fields.get("stat", "").upper()
        error = error or text_fields.get("err", "")
    if not part_id:
        logger.warning("Dropped a delivery receipt from %s without a message id: %r", gateway, pdu)
        return None
    if state == DELIVERED_STATE:
        return Receipt(gateway=gateway, part_id=part_id, status=ReceiptStatus.DELIVERED)
    if state not in FAILED_STATES:
        return Receipt(gateway=gateway, part_id=part_id, status=ReceiptStatus.INTERIM)
    return Receipt(
        gateway=gateway,
        part_id=part_id,
        status=ReceiptStatus.UNDELIVERED,
        error=f"Not delivered: {state} (err {error})" if error else f"Not delivered: {state}",
        error_code=f"dlr:{state}:{error}" if error else f"dlr:{state}",
    )


def is_receipt(pdu: Pdu) -> bool:
    """A deliver_sm whose esm_class says receipt or intermediate notification; a data_sm with those bits or a
    receipted_message_id."""
    esm_type = _int_field(pdu, "esm_class") & ESM_TYPE_MASK
    if pdu.command_id == CommandId.DELIVER_SM:
        return esm_type in _RECEIPT_TYPES
    if pdu.command_id == CommandId.DATA_SM:
        return esm_type in _RECEIPT_TYPES or Tag.RECEIPTED_MESSAGE_ID in pdu.tlvs
    return False


def parse_receipt_text(text: str) -> dict[str, str]:
    """The fields of an Appendix B receipt text by lower-case key ("id", "sub", "dlvrd", "submit date",
    "done date", "stat", "err", "text"), as written; keys in any case and order, missing ones absent."""
    fields: dict[str, str] = {}
    matches = list(_RECEIPT_KEY.finditer(text))
    for index, match in enumerate(matches):
        key = " ".join(match[1].lower().replace("_", " ").split())
        if key == "text":
            fields[key] = text[match.end() :]
            break
        value_end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        value = text[match.end() : value_end].split()
        fields.setdefault(key, value[0] if value else "")
    return fields


def normalise_id(raw: str, id_format: str) -> str:
    """An SMSC message id in one comparable form: "text" as written; "hex" and "dec" as the decimal number.

    So hex "7B", decimal "123" and "000123" are all "123". A value that does not parse in its base is kept as
    text, lower-cased. Whitespace and NULs around the id are dropped.
    """
    stripped = raw.strip(_BLANK)
    if id_format == "text":
        return stripped
    if id_format not in _ID_DIGITS:
        raise ValueError(f"Unknown id format {id_format!r}: one of {ID_FORMATS}.")
    # At most 64 digits: int() of a longer decimal string, or str() of a huge number, is refused (and slow).
    if _ID_DIGITS[id_format].fullmatch(stripped):
        return str(int(stripped, 16 if id_format == "hex" else 10))
    return stripped.lower()


def inbound_from_pdu(pdu: Pdu, *, gateway: str) -> InboundSms:
    """The mobile-originated message a deliver_sm or data_sm that is not a receipt carries; never raises."""
    text, concat = message_text(pdu)
    return InboundSms(
        gateway=gateway,
        sender=_str_field(pdu, "source_addr"),
        recipient=_str_field(pdu, "destination_addr"),
        text=text,
        concat=concat,
    )


def message_text(pdu: Pdu, *, gsm7_packed: bool = False) -> tuple[str, tuple[int, int, int] | None]:
    """(text, (reference, total, sequence) or None) of a submit_sm, deliver_sm or data_sm; never raises.

    The text is short_message, or the message_payload TLV when short_message is empty (data_sm has only
    that); the concatenation comes from the UDH, else from the sar_* TLVs.
    """
    payload = pdu.fields.get("short_message") or pdu.tlvs.get(Tag.MESSAGE_PAYLOAD) or b""
    if not isinstance(payload, bytes):
        return "", None
    text, concat = decode_short_message(
        payload,
        _int_field(pdu, "data_coding"),
        udhi=bool(_int_field(pdu, "esm_class") & ESM_UDHI),
        gsm7_packed=gsm7_packed,
    )
    return text, concat or _sar_concatenation(pdu)


def _sar_concatenation(pdu: Pdu) -> tuple[int, int, int] | None:
    reference = pdu.tlvs.get(Tag.SAR_MSG_REF_NUM, b"")
    total, sequence = _tlv_int(pdu, Tag.SAR_TOTAL_SEGMENTS), _tlv_int(pdu, Tag.SAR_SEGMENT_SEQNUM)
    if len(reference) != 2 or not 1 <= sequence <= total:
        return None
    return int.from_bytes(reference), total, sequence


def _network_error(pdu: Pdu) -> str:
    # network_error_code: network type (1 octet), then the error code (2 octets).
    value = pdu.tlvs.get(Tag.NETWORK_ERROR_CODE, b"")
    return f"{_NETWORK_ERROR.unpack(value)[1]:03d}" if len(value) == _NETWORK_ERROR.size else ""


def _tlv_int(pdu: Pdu, tag: int) -> int:
    value = pdu.tlvs.get(tag, b"")
    return value[0] if len(value) == 1 else 0


def _int_field(pdu: Pdu, name: str) -> int:
    value = pdu.fields.get(name, 0)
    return value if isinstance(value, int) else 0


def _str_field(pdu: Pdu, name: str) -> str:
    value = pdu.fields.get(name, "")
    return value if isinstance(value, str) else ""
