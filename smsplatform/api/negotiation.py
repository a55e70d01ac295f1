from rest_framework.negotiation import DefaultContentNegotiation


class ApiContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, without parsing anything when the client takes the view's first renderer (JSON): no
    Accept header, `*/*` or that very media type, as every API client sends. Others are negotiated as before."""

    def select_renderer(self, request, renderers, format_suffix=None):
        accept = request.META.get("HTTP_ACCEPT", "*/*")
        first = renderers[0]
        overridden = format_suffix or self.settings.URL_FORMAT_OVERRIDE in request.query_params
        if not overridden and accept in ("*/*", first.media_type):
            return first, first.media_type
        return super().select_renderer(request, renderers, format_suffix)
