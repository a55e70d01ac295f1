from rest_framework.renderers import BaseRenderer


class CsvRenderer(BaseRenderer):
    """Lets a view answer `?format=csv` and `Accept: text/csv` (DRF's content negotiation picks it); the view
    then streams the CSV itself, as a StreamingHttpResponse, so this renderer never renders anything."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        raise NotImplementedError("A view that offers CSV streams it itself (e.g. messaging.export).")
