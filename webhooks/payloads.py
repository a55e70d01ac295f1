"""The bodies of the events, rebuilt from a delivery row the same, byte for byte, at every attempt."""

import json
from datetime import UTC, datetime

from .models import WebhookDelivery


def event_time(moment: datetime) -> str:
    """ISO 8601 in UTC, to the millisecond: events of one message in one second keep their order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def event_payload(delivery: WebhookDelivery) -> dict:
    if delivery.type == WebhookDelivery.Type.MESSAGE_STATUS:
        message = delivery.message
        data = {
            "message_id": str(message.pk),
            "status": delivery.message_status,
            "recipient": message.recipient,
            "sender": message.sender,
            "error": delivery.error,
            "error_code": delivery.error_code,
            "campaign_id": str(message.campaign_id) if message.campaign_id else None,
            "segments": message.segments,
            "credits": message.credits,
        }
    else:
        inbound = delivery.inbound
        data = {
            "message_id": str(inbound.pk),
            "from": inbound.sender,
            "to": inbound.recipient,
            "text": inbound.text,
            "keyword": inbound.keyword,
            "parts": inbound.parts,
            "received_at": event_time(inbound.received_at),
        }
    return {"type": delivery.type, "timestamp": event_time(delivery.created_at), "data": data}


def event_body(delivery: WebhookDelivery) -> bytes:
    return json.dumps(event_payload(delivery), separators=(",", ":"), ensure_ascii=False).encode()
