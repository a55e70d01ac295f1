from django.conf import settings
from django.core.checks import Error, register


@register()
def time_zone_is_utc(app_configs, **kwargs) -> list[Error]:
    """The rollup's triggers count UTC days (reports/triggers.py), as the API writes every time in UTC."""
    if settings.TIME_ZONE == "UTC":
        return []
    return [
        Error(
            f"TIME_ZONE is {settings.TIME_ZONE!r}: the usage report's triggers count days in UTC.",
            hint="Keep TIME_ZONE = 'UTC', or change the zone in reports/triggers.py, migrate it and run "
            "`manage.py usage_rebuild`.",
            id="reports.E001",
        )
    ]
