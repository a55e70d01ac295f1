"""One place that turns every error into the API's JSON shape: {"error", "code", "fields"?}."""

import logging
import math
import sys

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

from smsplatform.cache import REDIS_UNREACHABLE
from smsplatform.errors import ApplicationError

logger = logging.getLogger(__name__)

SERVER_ERROR = {"error": "Internal server error.", "code": "server_error"}
# What still needs Redis when it does not answer (docs/operations.md): a moment's outage, not a fault.
SERVICE_UNAVAILABLE = {
    "error": "A service the platform needs is unavailable for a moment. Try again shortly.",
    "code": "service_unavailable",
}
SERVICE_UNAVAILABLE_RETRY_AFTER = "5"  # seconds: a Redis restart or failover takes a few


def error_body(message: str, code: str, fields: dict | None = None) -> dict:
    body = {"error": message, "code": code}
    if fields:
        body["fields"] = fields
    return body


def _flatten_fields(detail, prefix: str = "") -> dict[str, list[str]]:
    """{"contacts": [{"phone": ["…"]}]} → {"contacts.0.phone": ["…"]}: one list of messages per field."""
    if isinstance(detail, dict):
        items = detail.items()
    elif isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        items = ((str(index), item) for index, item in enumerate(detail))
    else:
        messages = detail if isinstance(detail, list) else [detail]
        return {prefix or "non_field_errors": [str(message) for message in messages]}
    fields: dict[str, list[str]] = {}
    for key, value in items:
        if value:
            fields.update(_flatten_fields(value, f"{prefix}.{key}" if prefix else str(key)))
    return fields


def _validation_error_body(exc: exceptions.ValidationError) -> dict:
    fields = _flatten_fields(exc.detail)
    names = [name for name in fields if name != "non_field_errors"]
    if len(fields) == 1:
        name, messages = next(iter(fields.items()))
        message = messages[0] if name == "non_field_errors" else f"Invalid {name}: {messages[0]}"
    else:
        message = "Invalid input in " + ", ".join(names) + "." if names else "Invalid input."
    return error_body(message, "invalid", fields)


def _api_exception_response(exc: exceptions.APIException) -> Response:
    headers = {}
    if isinstance(exc, exceptions.ValidationError):
        body = _validation_error_body(exc)
    elif isinstance(exc, exceptions.Throttled):
        wait = math.ceil(exc.wait or 1)
        headers["Retry-After"] = str(wait)
        body = error_body(f"Rate limit exceeded. Try again in {wait} seconds.", "rate_limited")
    else:
        detail = exc.detail
        message = str(detail) if not isinstance(detail, list | dict) else str(exc.default_detail)
        code = getattr(detail, "code", None) or exc.default_code
        body = error_body(message, code)
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    return Response(body, status=exc.status_code, headers=headers)


def api_exception_handler(exc, context) -> Response:
    """DRF's EXCEPTION_HANDLER: never returns None, so nothing reaches Django's HTML pages."""
    if isinstance(exc, ApplicationError):
        body = error_body(exc.message, exc.code, getattr(exc, "fields", None))
        return Response(body | (exc.extra or {}), status=exc.status)
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        return Response(error_body("Not found.", "not_found"), status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, RequestDataTooBig):
        return Response(
            error_body("Request body is too large.", "request_too_large"),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, exceptions.APIException):
        return _api_exception_response(exc)
    if isinstance(exc, REDIS_UNREACHABLE):
        logger.warning("%s answered 503: Redis does not answer (%s)", context.get("view").__class__.__name__, exc)
        return Response(
            SERVICE_UNAVAILABLE,
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": SERVICE_UNAVAILABLE_RETRY_AFTER},
        )
    logger.exception("Unhandled exception in %s", context.get("view").__class__.__name__, exc_info=exc)
    return Response(SERVER_ERROR, status=status.HTTP_500_INTERNAL_SERVER_ERROR)


# Django's handlers, for what never reaches a DRF view (unknown paths, middleware errors).


def bad_request(request, exception=None):
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse(error_body("Request body is too large.", "request_too_large"), status=413)
    return JsonResponse(error_body("Bad request.", "bad_request"), status=400)


def permission_denied(request, exception=None):
    return JsonResponse(error_body("You do not have permission to perform this action.", "forbidden"), status=403)


def not_found(request, exception=None, **kwargs):
    return JsonResponse(error_body("Not found.", "not_found"), status=404)


def server_error(request):
    # Django calls this while handling the exception, which sys.exc_info() still holds.
    if isinstance(sys.exc_info()[1], REDIS_UNREACHABLE):
        response = JsonResponse(SERVICE_UNAVAILABLE, status=503)
        response["Retry-After"] = SERVICE_UNAVAILABLE_RETRY_AFTER
        return response
    return JsonResponse(SERVER_ERROR, status=500)
