from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class DashboardConfig(AppConfig):
    """The account owner's console: its pages, templates and static files (listed before the admin, so its
    templates override the admin's)."""

    name = "dashboard"


class DashboardAdminConfig(admin_apps.AdminConfig):
    """Django's admin, on the dashboard's site: every app's `@admin.register` lands there."""

    default = False  # named in INSTALLED_APPS; `dashboard` alone means DashboardConfig

    default_site = "dashboard.sites.DashboardSite"
