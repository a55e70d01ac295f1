"""OpenAPI details drf-spectacular cannot infer: the X-API-KEY scheme, the errors every operation shares, and a
request body on DELETE."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse

ERROR_REF = {"$ref": "#/components/schemas/Error"}


def error_response(description: str, **properties) -> OpenApiResponse:
    """An error response of one operation: the Error shape, with the keys some errors add (`contact_id`)."""
    schema = {"allOf": [ERROR_REF, {"type": "object", "properties": properties}]} if properties else ERROR_REF
    return OpenApiResponse(response=schema, description=description)


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "smsplatform.api.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "X-API-KEY"}


class DeleteWithBodySchema(AutoSchema):
    """The schema of a view whose DELETE reads a body, as `DELETE …/groups/{id}/contacts/ {"contact_ids": […]}`.

    drf-spectacular documents bodies only for POST, PUT and PATCH (OpenAPI 3.0 leaves a DELETE body's meaning
    open); left out, clients and generated tests send none and get a 400.
    """

    def _get_request_body(self, direction="request"):
        if self.method != "DELETE":
            return super()._get_request_body(direction)
        # The parent's one use of the method here is its "has a body" test.
        self.method = "POST"
        try:
            return super()._get_request_body(direction)
        finally:
            self.method = "DELETE"


RETRY_AFTER = {
    "Retry-After": {
        "description": "Whole seconds to wait before trying again.",
        "required": True,
        "schema": {"type": "integer"},
    }
}
WWW_AUTHENTICATE = {
    "WWW-Authenticate": {"description": '`ApiKey header="X-API-KEY"`', "required": True, "schema": {"type": "string"}}
}


def _shared_errors(path: str, operation: dict) -> dict[str, tuple[dict[str, str], dict]]:
    """Status → ({code: cause}, headers) of what an operation may answer whatever its view does: the
    authentication, the rate limits, the Host check, the parsers, pagination and an outage."""
    takes_body = "requestBody" in operation
    parameters = [parameter for parameter in operation.get("parameters", []) if parameter["in"] != "path"]
    secured = any(operation.get("security", []))  # `[{}]`: no key needed
    errors: dict[str, tuple[dict[str, str], dict]] = {}

    def answer(status: int, code: str, cause: str, headers: dict | None = None) -> None:
        causes, _ = errors.setdefault(str(status), ({}, headers or {}))
        causes[code] = f"{cause} (`{code}`)."

    if takes_body or parameters:
        answer(400, "invalid", "Invalid input: `fields` names each bad field or parameter")
    if takes_body:
        answer(400, "parse_error", "Malformed JSON")
    answer(400, "invalid_host", "A Host header the platform does not serve")
    if secured:
        answer(401, "not_authenticated", "No X-API-KEY", WWW_AUTHENTICATE)
        answer(401, "invalid_api_key", "An unknown or revoked X-API-KEY", WWW_AUTHENTICATE)
    missing = []
    if "{" in path:
        missing.append("no such object in this account")
    if any(parameter["name"] == "page" for parameter in parameters):
        missing.append("a page past the last one")
    if missing:
        answer(404, "not_found", " or ".join(missing).capitalize())
    if takes_body:
        answer(413, "request_too_large", "The body is over the size limit")
        answer(415, "unsupported_media_type", "The body's Content-Type is not one the operation takes")
    if secured:
        answer(
            429,
            "rate_limited",
            "Over the rate limit of the key, or of the client's address without a valid key",
            RETRY_AFTER,
        )
    answer(500, "server_error", "Internal server error")
    if secured:  # what an API view cannot do without Redis or the broker; health reports an outage itself
        answer(503, "service_unavailable", "A service the platform needs is down for now", RETRY_AFTER)
    return errors


def add_error_responses(result, generator, request, public):
    """Postprocessing hook: every operation documents the errors it shares with the others, in the Error shape.

    An operation that documents one of these statuses itself keeps its own body and description; the shared
    causes its description does not name (by their `code`) are added to it.
    """
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, (causes, headers) in _shared_errors(path, operation).items():
                if status in responses:
                    own = responses[status]["description"]
                    others = [cause for code, cause in causes.items() if f"`{code}`" not in own]
                    responses[status]["description"] = " ".join([own, *others])
                    continue
                responses[status] = {
                    "description": " ".join(causes.values()),
                    "content": {"application/json": {"schema": ERROR_REF}},
                }
                if headers:
                    responses[status]["headers"] = headers
    return result
