import logging

from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
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


# --- The dashboard's middleware, which API requests skip ----------------------------------------------------
# An API request carries an API key: never a session, a dashboard user or a flash message. Django's middleware for
# those cost about 4 % of a send's CPU (docs/performance.md, 2026-12-07 evening) and change nothing in an API
# answer, so below /api/ they hand the request straight on; everywhere else they are Django's. CSRF stays
# Django's own everywhere (its deploy check wants that very class; every API view is exempt from it anyway).

API_PREFIX = "/api/"


def _is_api(request) -> bool:
    return request.path_info.startswith(API_PREFIX)


class _DashboardOnly:
    def __call__(self, request):
        if _is_api(request):
            return self.get_response(request)
        return super().__call__(request)


class DashboardSessionMiddleware(_DashboardOnly, SessionMiddleware):
    pass


class DashboardAuthenticationMiddleware(_DashboardOnly, AuthenticationMiddleware):
    pass


class DashboardMessageMiddleware(_DashboardOnly, MessageMiddleware):
    pass
