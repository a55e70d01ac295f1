"""The application's error hierarchy: in app code, just raise.

Each class carries the HTTP status and the stable `code` that the one exception
handler (`smsplatform.api.exceptions`) renders as `{"error", "code"}`.
"""


class ApplicationError(Exception):
    status = 400
    code = "invalid"
    message = "The request could not be completed."
    # More keys of the error body, e.g. the id of the contact a 409 collided with.
    extra: dict | None = None

    def __init__(self, message: str | None = None, *, code: str | None = None):
        self.message = message or self.message
        if code:
            self.code = code
        super().__init__(self.message)


class InvalidInput(ApplicationError):
    """A 400 that names its fields, for rules a serializer cannot see (a number, a message's length)."""

    status = 400
    code = "invalid"

    def __init__(self, fields: dict[str, list[str]]):
        self.fields = fields
        name, messages = next(iter(fields.items()))
        super().__init__(f"Invalid {name}: {messages[0]}")


class NotFound(ApplicationError):
    status = 404
    code = "not_found"
    message = "Not found."


class Forbidden(ApplicationError):
    status = 403
    code = "forbidden"
    message = "You do not have permission to perform this action."


class Conflict(ApplicationError):
    status = 409
    code = "conflict"
    message = "The request conflicts with the current state."


class InsufficientCredits(ApplicationError):
    status = 402
    code = "insufficient_credits"
    message = "Insufficient SMS credits."
