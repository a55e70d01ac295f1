"""Phone numbers as typed in Zimbabwe or internationally → E.164, with `phonenumbers`."""

import phonenumbers

DEFAULT_REGION = "ZW"


def phone_normalize(raw: str) -> str | None:
    """'0771234567', '+263 77 123 4567', '00263771234567' → '+263771234567'; None when invalid."""
    try:
        number = phonenumbers.parse(raw, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
