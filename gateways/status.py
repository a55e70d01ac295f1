"""What the health endpoint says of the gateways: each one's state and circuit, and the routes that cannot deliver."""

import logging

from django.conf import settings

from .circuit import circuits_open
from .handler import gateways

logger = logging.getLogger(__name__)

DEFAULT_ROUTE = "default"


def gateways_state() -> dict[str, dict]:
    """Per alias: `available` (it can take messages now: bound, circuit closed), its circuit, and what its
    backend reports (SMPP: binds bound, window in use, hand-off backlog)."""
    open_circuits = circuits_open()
    states = {}
    for alias in settings.SMS_GATEWAYS:
        try:
            state = gateways[alias].state()
        except Exception:
            logger.exception("Health check: gateway %s could not report its state", alias)
            state = {"available": False, "error": "The gateway could not report its state."}
        circuit = "open" if alias in open_circuits else "closed"
        states[alias] = {**state, "available": state["available"] and circuit == "closed", "circuit": circuit}
    return states


def routes_down(states: dict[str, dict]) -> list[str]:
    """The routes (E.164 prefixes, and "default" for the rest) with no available gateway."""
    routes = {**settings.SMS_ROUTES, DEFAULT_ROUTE: [settings.SMS_DEFAULT_GATEWAY]}
    return [
        prefix
        for prefix, aliases in routes.items()
        if not any(states.get(alias, {}).get("available") for alias in aliases)
    ]
