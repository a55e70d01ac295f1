from django.conf import settings
from django.core.checks import Error, register
from django.utils.module_loading import import_string

from .base import BaseGateway


@register()
def check_sms_gateways(app_configs, **kwargs) -> list[Error]:
    """SMS_GATEWAYS must name importable BaseGateway subclasses and include the default alias."""
    errors = []
    configured = getattr(settings, "SMS_GATEWAYS", None)
    if not isinstance(configured, dict) or not configured:
        return [Error("SMS_GATEWAYS must be a non-empty dict of alias → {BACKEND, OPTIONS}.", id="gateways.E001")]
    if settings.SMS_DEFAULT_GATEWAY not in configured:
        errors.append(
            Error(f"SMS_DEFAULT_GATEWAY {settings.SMS_DEFAULT_GATEWAY!r} is not in SMS_GATEWAYS.", id="gateways.E002")
        )
    for alias, config in configured.items():
        try:
            backend = import_string(config["BACKEND"])
        except (TypeError, KeyError, ImportError) as exc:
            errors.append(Error(f"SMS_GATEWAYS[{alias!r}]: no importable BACKEND ({exc}).", id="gateways.E003"))
            continue
        if not (isinstance(backend, type) and issubclass(backend, BaseGateway)):
            errors.append(Error(f"SMS_GATEWAYS[{alias!r}]: BACKEND is not a BaseGateway.", id="gateways.E004"))
        if not isinstance(config.get("OPTIONS", {}), dict):
            errors.append(Error(f"SMS_GATEWAYS[{alias!r}]: OPTIONS must be a dict.", id="gateways.E005"))
    return errors
