from django.conf import settings


def gateway_for(recipient: str) -> str:
    """The alias of the gateway that carries messages to this E.164 number.

    One default gateway for now; routing by network prefix comes with the gateway work.
    """
    return settings.SMS_DEFAULT_GATEWAY
