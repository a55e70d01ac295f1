from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

from .throttling import parse_rate

RATE_SETTINGS = ("API_RATE_LIMIT", "API_ANON_RATE_LIMIT")
API_TAG = "api"  # `manage.py check --tag api` runs only these


@register(API_TAG)
def check_rate_limits(app_configs, **kwargs) -> list[Error]:
    """A misspelt rate limit fails `manage.py check` and every start-up, not each request with a 500."""
    errors = []
    for name in RATE_SETTINGS:
        try:
            parse_rate(getattr(settings, name))
        except ImproperlyConfigured as exc:
            errors.append(Error(f"{name}: {exc}", id="api.E001"))
    return errors
