from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class JsonParser(JSONParser):
    """DRF's JSONParser, with JSON nested deeper than the decoder can go a 400 like any malformed body.

    Python's decoder gives up with a RecursionError (not a ValueError) at about 10,000 levels: 20 KB of
    brackets, well under any body limit, would otherwise be a 500.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
