"""Where a webhook may go: https to public addresses only (server-side request forgery), checked when a URL is
given and again, against the addresses DNS gives then, at each delivery, which connects to the address checked.

WEBHOOK_ALLOW_PRIVATE (tests, `make run`) lets http and every address through.
"""

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from smsplatform.errors import InvalidInput

# scheme://host[:port] of a URL. The same expression in PostgreSQL (outbox.origin_sql) and here (SQLite's
# function and Python): one rule for the dispatcher's unit, wherever it is computed.
ORIGIN_PATTERN = r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]+"
_ORIGIN = re.compile(ORIGIN_PATTERN)
ORIGIN_MAX_LENGTH = 300

NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UnsafeUrl(ValueError):
    """A URL the platform will not call; the message says why, to the account."""


@dataclass(frozen=True, slots=True)
class Target:
    """A URL checked for a delivery: where to connect (an address checked), and the name to ask for."""

    host: str  # for TLS: the name the certificate must show (SNI)
    netloc: str  # for the Host header: the URL's, with its port if it names one
    port: int
    address: str

    def url(self, url: str) -> str:
        """`url` with its host replaced by the checked address: httpx connects there and resolves nothing."""
        parts = urlsplit(url)
        address = f"[{self.address}]" if ":" in self.address else self.address
        return parts._replace(netloc=f"{address}:{self.port}").geturl()


def url_origin(url: str) -> str:
    match = _ORIGIN.match(url or "")
    return match.group(0) if match else ""


def sqlite_functions_register(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function("webhook_origin", 1, url_origin, deterministic=True)


def address_is_public(address: str) -> bool:
    """A global unicast address: not loopback, private, link-local (cloud metadata), CGNAT, multicast or reserved,
    also when an IPv6 address carries an IPv4 one (mapped, NAT64, 6to4, Teredo)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # a scope id (fe80::1%eth0) is link-local anyway
    embedded = []
    if ip.version == 6:
        if ip.ipv4_mapped:
            embedded.append(ip.ipv4_mapped)
        if ip in NAT64:
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if ip.sixtofour:
            embedded.append(ip.sixtofour)
        if ip.teredo:
            embedded.extend(ip.teredo)
    if embedded:
        return all(address_is_public(str(inner)) for inner in embedded)
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_link_local or ip.is_loopback)


def _parse(url: str) -> tuple[str, str, int]:
    """(netloc, host, port) of a URL the platform may call, whatever it resolves to."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeUrl("Enter a valid URL.") from None
    schemes = ("https", "http") if settings.WEBHOOK_ALLOW_PRIVATE else ("https",)
    if parts.scheme not in schemes:
        raise UnsafeUrl("Use an https:// URL.")
    host = parts.hostname
    if not host or not url_origin(url):
        raise UnsafeUrl("Enter a valid URL.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("Leave credentials out of the URL: the signature tells the receiver the event is ours.")
    if len(url_origin(url)) > ORIGIN_MAX_LENGTH or any(char.isspace() for char in url):
        raise UnsafeUrl("Enter a valid URL.")
    try:
        host.encode("idna")
    except UnicodeError:
        raise UnsafeUrl("Enter a valid host name.") from None
    return parts.netloc, host, port or (443 if parts.scheme == "https" else 80)


def _addresses(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeUrl(f"The host {host} does not resolve.") from None
    return list(dict.fromkeys(info[4][0] for info in infos))


def url_resolve(url: str) -> Target:
    """The target of a URL: its addresses now, every one of them public (one that is not could be chosen by a
    resolver that rebinds the name), and the first to connect to. Raises UnsafeUrl."""
    netloc, host, port = _parse(url)
    addresses = _addresses(host, port)
    if not settings.WEBHOOK_ALLOW_PRIVATE:
        for address in addresses:
            if not address_is_public(address):
                raise UnsafeUrl(f"The host {host} resolves to {address}, an address the platform does not call.")
    return Target(host=host, netloc=netloc, port=port, address=addresses[0])


def url_check(*, url: str, field: str) -> None:
    """A URL an account gives (its webhook, a callback_url): a 400 naming `field` when the platform would not
    call it. With WEBHOOK_ALLOW_PRIVATE only its form is checked, with no DNS lookup."""
    try:
        if settings.WEBHOOK_ALLOW_PRIVATE:
            _parse(url)
        else:
            url_resolve(url)
    except UnsafeUrl as exc:
        raise InvalidInput({field: [str(exc)]}) from None
