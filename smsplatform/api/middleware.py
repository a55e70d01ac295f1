import logging

from django.core.exceptions import DisallowedHost
from django.http import JsonResponse
from django.urls import Resolver404, resolve

from .exceptions import error_body

# Django's logger for refused hosts, where operators look for them (and may silence them).
host_logger = logging.getLogger("django.security.DisallowedHost")

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


class AllowedHostsMiddleware:
    """Refuses a request whose Host header is not in ALLOWED_HOSTS with a JSON 400, before anything else runs.

    Django checks the host only when something asks for it (CommonMiddleware, which we do without, or a
    view building an absolute URL): a foreign Host would otherwise reach every view.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            request.get_host()
        except DisallowedHost as exc:
            # One line, without the traceback Django would log: scanners send these by the thousand.
            host_logger.warning("%s", exc)
            return JsonResponse(
                error_body("The Host header names a host this server does not serve.", "invalid_host"), status=400
            )
        return self.get_response(request)
