"""OpenAPI details drf-spectacular cannot infer: the X-API-KEY scheme and the error responses."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

ERROR_REF = {"$ref": "#/components/schemas/Error"}
_ERROR_RESPONSES = {
    "400": "Invalid input; `fields` says which.",
    "401": "Missing, unknown or revoked X-API-KEY.",
    "404": "No such object in this account.",
    "429": "Rate limit exceeded; see Retry-After.",
    "500": "Internal server error.",
}


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "smsplatform.api.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "X-API-KEY"}


def add_error_responses(result, generator, request, public):
    """Postprocessing hook: every operation documents the error shape it can answer with."""
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status, description in _ERROR_RESPONSES.items():
                if status == "401" and not operation.get("security"):
                    continue
                if status == "404" and "{" not in path:
                    continue
                if status == "400" and method not in ("post", "put", "patch"):
                    continue
                responses.setdefault(
                    status, {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}
                )
    return result
