"""Request bodies of the import, read without Django's in-memory limit (DATA_UPLOAD_MAX_MEMORY_SIZE)
but never past CONTACTS_IMPORT_MAX_BYTES."""

import io
import tempfile

from django.conf import settings
from rest_framework.parsers import BaseParser

from smsplatform.api.parsers import JsonParser

from .errors import ImportTooLarge

_CHUNK = 64 * 1024
# A CSV body is spooled to disk past this size, so that the import reads it at disk speed and
# no database transaction waits on a slow client.
_SPOOL_IN_MEMORY = 1024 * 1024


def _chunks(stream):
    """The body in chunks; a 413 when it turns out longer than its Content-Length promised."""
    max_bytes = settings.CONTACTS_IMPORT_MAX_BYTES
    total = 0
    while chunk := stream.read(_CHUNK):
        total += len(chunk)
        if total > max_bytes:
            raise ImportTooLarge(max_bytes)
        yield chunk


class CsvParser(BaseParser):
    """A `text/csv` body → a seekable binary file (spooled to disk when large), decoded later."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None):
        # Handed to the view open; freed (and its disk file deleted) with the request.
        spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115
        for chunk in _chunks(stream):
            spool.write(chunk)
        spool.seek(0)
        return spool


class ImportJsonParser(BaseParser):
    """JSON read as every other request's (JsonParser), up to CONTACTS_IMPORT_MAX_BYTES instead of
    DATA_UPLOAD_MAX_MEMORY_SIZE.

    Not a JSONParser itself: DRF reads a JSONParser's body through `request.body`, which enforces the smaller limit.
    """

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        body = io.BytesIO(b"".join(_chunks(stream)))
        return JsonParser().parse(body, media_type, parser_context)
