from django.urls import Resolver404, resolve

# The name of the catch-all route that answers unknown paths (smsplatform.urls).
NOT_FOUND_ROUTE = "not-found"


def _resolves(path: str, urlconf) -> bool:
    try:
        return resolve(path, urlconf).url_name != NOT_FOUND_ROUTE
    except Resolver404:
        return False


class OptionalTrailingSlashMiddleware:
    """Serves `/api/v1/health` as `/api/v1/health/` in place, for every method.

    Django's APPEND_SLASH answers with a redirect, and a client that follows a 301
    turns its POST into a GET: the send is lost. Rewriting the path keeps it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if not path.endswith("/"):
            urlconf = getattr(request, "urlconf", None)
            if not _resolves(path, urlconf) and _resolves(path + "/", urlconf):
                request.path_info = path + "/"
        return self.get_response(request)
