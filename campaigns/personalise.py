"""Campaign message templates: `Hi {name}, enjoy 20% off!` rendered per contact.

Placeholders are `{name}` (the first name), `{first_name}`, `{last_name}` and `{phone}`;
`{{` and `}}` are literal braces. Anything else in braces is refused when the campaign
is created, naming it, so a typo never reaches thousands of phones.
"""

import string
from dataclasses import dataclass

PLACEHOLDERS = ("name", "first_name", "last_name", "phone")
# The recipient's field each placeholder reads.
FIELDS = {"name": "first_name", "first_name": "first_name", "last_name": "last_name", "phone": "phone"}

_formatter = string.Formatter()


class TemplateError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Recipient:
    first_name: str
    last_name: str
    phone: str


def template_check(template: str) -> None:
    """Raise TemplateError naming what is wrong: an unknown placeholder or a stray brace."""
    try:
        fields = [
            (name, spec, conversion) for _, name, spec, conversion in _formatter.parse(template) if name is not None
        ]
    except ValueError as exc:  # "Single '}' encountered in format string", …
        raise TemplateError(f"{exc}. Write {{{{ and }}}} for literal braces.") from None
    for name, spec, conversion in fields:
        if name not in PLACEHOLDERS:
            allowed = ", ".join(f"{{{placeholder}}}" for placeholder in PLACEHOLDERS)
            raise TemplateError(f"Unknown placeholder {{{name}}}; use {allowed}.")
        if spec or conversion:
            raise TemplateError(f"Placeholder {{{name}}} takes no format or conversion.")


def template_fields(template: str) -> list[str]:
    """The recipient's fields the template reads, in Recipient's order; the template must have passed
    template_check."""
    used = {FIELDS[name] for _, name, _, _ in _formatter.parse(template) if name is not None}
    return [field for field in ("first_name", "last_name", "phone") if field in used]


def template_render(template: str, recipient: Recipient) -> str:
    """The message one recipient gets; the template must have passed template_check."""
    return template.format(
        name=recipient.first_name,
        first_name=recipient.first_name,
        last_name=recipient.last_name,
        phone=recipient.phone,
    )
