from smsplatform.api.fields import StrictCharField

from .phone import phone_normalize


class PhoneNumberField(StrictCharField):
    """A phone number as typed (`0771234567`, `+263 77 123 4567`, …), validated to E.164."""

    default_error_messages = {"invalid_phone": "Enter a valid phone number."}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 32)
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> str:
        normalized = phone_normalize(super().to_internal_value(data))
        if normalized is None:
            self.fail("invalid_phone")
        return normalized
