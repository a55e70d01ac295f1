from django.apps import AppConfig
from django.core.signals import setting_changed


def _reset_gateways(*, setting, **kwargs):
    if setting in ("SMS_GATEWAYS", "SMS_DEFAULT_GATEWAY", "SMS_ROUTES"):
        from .circuit import circuits_forget
        from .handler import gateways
        from .router import routes_reset

        gateways.reset()
        routes_reset()
        circuits_forget()


class GatewaysConfig(AppConfig):
    name = "gateways"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import checks  # noqa: F401  (registers the SMS_GATEWAYS and SMS_ROUTES checks)

        setting_changed.connect(_reset_gateways)
