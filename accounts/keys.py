"""The API key format: `smsk_` + 36 random base62 characters + a 6-character checksum.

As with GitHub's tokens, the fixed prefix lets secret scanners spot a leaked key,
and the CRC32 checksum of the random part lets a mistyped key be refused without
a database lookup. Keys carry ~214 bits of entropy, so one fast SHA-256 is the
right hash: a password hash would cost milliseconds on every request.
"""

import hashlib
import secrets
import string
import zlib

KEY_PREFIX = "smsk_"
_ALPHABET = string.digits + string.ascii_letters
_RANDOM_LENGTH = 36
_CHECKSUM_LENGTH = 6
KEY_LENGTH = len(KEY_PREFIX) + _RANDOM_LENGTH + _CHECKSUM_LENGTH
# How much of the key is kept in clear to tell keys apart: the prefix and 7 random characters.
DISPLAY_PREFIX_LENGTH = len(KEY_PREFIX) + 7


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, remainder = divmod(number, 62)
        digits.append(_ALPHABET[remainder])
    return "".join(reversed(digits))


def _checksum(random_part: str) -> str:
    return _base62(zlib.crc32(random_part.encode()), _CHECKSUM_LENGTH)


def key_generate() -> str:
    random_part = "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_LENGTH))
    return KEY_PREFIX + random_part + _checksum(random_part)


def key_is_well_formed(key: str) -> bool:
    """True when the key has the right shape and checksum; says nothing about whether it exists."""
    if len(key) != KEY_LENGTH or not key.startswith(KEY_PREFIX):
        return False
    random_part = key[len(KEY_PREFIX) : -_CHECKSUM_LENGTH]
    if not all(char in _ALPHABET for char in random_part):
        return False
    return secrets.compare_digest(key[-_CHECKSUM_LENGTH:], _checksum(random_part))


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_display_prefix(key: str) -> str:
    return key[:DISPLAY_PREFIX_LENGTH]
