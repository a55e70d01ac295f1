"""Which gateways carry a message: SMS_ROUTES maps E.164 prefixes to aliases in order of preference.

    SMS_ROUTES = {"+26377": ["econet", "twilio"], "+26371": ["netone", "twilio"]}

The longest matching prefix wins; a number no prefix matches goes to SMS_DEFAULT_GATEWAY.
"""

from django.conf import settings

from .circuit import circuit_is_open

_table: tuple[dict[str, tuple[str, ...]], tuple[int, ...]] | None = None


def _routes() -> tuple[dict[str, tuple[str, ...]], tuple[int, ...]]:
    """The routes by prefix, and the prefix lengths longest first (built once per settings)."""
    global _table
    if _table is None:
        routes = {prefix: tuple(aliases) for prefix, aliases in settings.SMS_ROUTES.items()}
        _table = routes, tuple(sorted({len(prefix) for prefix in routes}, reverse=True))
    return _table


def routes_reset() -> None:
    global _table
    _table = None


def routes_for(recipient: str) -> tuple[str, ...]:
    """Every gateway that may carry a message to this E.164 number, in order of preference."""
    routes, lengths = _routes()
    for length in lengths:
        aliases = routes.get(recipient[:length])
        if aliases is not None:
            return aliases
    return (settings.SMS_DEFAULT_GATEWAY,)


def usable_routes(recipient: str, *, last_failed: str = "") -> list[str]:
    """The gateways to try now, in order: those whose circuit is open are skipped, and the one that
    failed the message's last attempt goes last, so that a retry fails over to the next one."""
    aliases = [alias for alias in routes_for(recipient) if not circuit_is_open(alias)]
    if last_failed in aliases and len(aliases) > 1:
        aliases.remove(last_failed)
        aliases.append(last_failed)
    return aliases
