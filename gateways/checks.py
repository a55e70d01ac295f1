import re

from django.conf import settings
from django.core.checks import Error, register
from django.utils.module_loading import import_string

from .base import BaseGateway

E164_PREFIX = re.compile(r"\+[1-9][0-9]{0,14}")


@register()
def check_sms_gateways(app_configs, **kwargs) -> list[Error]:
    """SMS_GATEWAYS must name BaseGateway subclasses that build from their OPTIONS, and include the default alias.

    Building each backend here makes a misspelt or bad option fail `manage.py check` (and every
    start-up), not the first send.
    """
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
            continue
        options = config.get("OPTIONS", {})
        if not isinstance(options, dict):
            errors.append(Error(f"SMS_GATEWAYS[{alias!r}]: OPTIONS must be a dict.", id="gateways.E005"))
            continue
        try:
            backend(alias=alias, **options).close()
        except (TypeError, ValueError) as exc:
            errors.append(Error(f"SMS_GATEWAYS[{alias!r}]: bad OPTIONS: {exc}", id="gateways.E006"))
        if backend.bind_process and not settings.REDIS_URL:
            errors.append(
                Error(
                    f"SMS_GATEWAYS[{alias!r}] holds binds in the bind process, which takes messages through Redis:"
                    " set REDIS_URL.",
                    id="gateways.E007",
                )
            )
    return errors + _route_errors(configured)


def _route_errors(configured: dict) -> list[Error]:
    routes = getattr(settings, "SMS_ROUTES", None)
    if not isinstance(routes, dict):
        return [Error("SMS_ROUTES must be a dict of E.164 prefix → [gateway alias, ...].", id="gateways.E010")]
    errors = []
    for prefix, aliases in routes.items():
        if not E164_PREFIX.fullmatch(prefix):
            errors.append(Error(f"SMS_ROUTES: {prefix!r} is not an E.164 prefix like '+26377'.", id="gateways.E011"))
        if not isinstance(aliases, list) or not aliases or not all(isinstance(alias, str) for alias in aliases):
            errors.append(Error(f"SMS_ROUTES[{prefix!r}] must be a non-empty list of aliases.", id="gateways.E012"))
            continue
        for alias in aliases:
            if alias not in configured:
                errors.append(Error(f"SMS_ROUTES[{prefix!r}]: {alias!r} is not in SMS_GATEWAYS.", id="gateways.E013"))
    return errors
