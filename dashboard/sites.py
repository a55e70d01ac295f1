"""The admin site as the product's console: branded, with a home page of figures for an account owner, and
the pages an owner needs that are not a model's list (sending an SMS)."""

from django.conf import settings
from django.contrib import admin
from django.urls import path

from smsplatform.admin import owner_account_id

from . import views
from .charts import STACK, daily_messages_chart
from .selectors import home_figures

# The order an owner meets the apps in the sidebar and on the home page: the daily work first.
APP_ORDER = ["messaging", "campaigns", "contacts", "billing", "webhooks", "accounts"]


class DashboardSite(admin.AdminSite):
    index_title = "Home"

    @property
    def site_header(self) -> str:
        return settings.PRODUCT_NAME

    @property
    def site_title(self) -> str:
        return settings.PRODUCT_NAME

    def get_urls(self):
        return [
            path("send/", self.admin_view(views.send), name="send"),
            path("send/quote/", self.admin_view(views.quote), name="send-quote"),
            path("reference/<uuid:reference>/", self.admin_view(views.reference), name="reference"),
            *super().get_urls(),
        ]

    def each_context(self, request):
        context = super().each_context(request)
        context["owner_account_id"] = owner_account_id(request)
        return context

    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        rank = {label: index for index, label in enumerate(APP_ORDER)}
        return sorted(apps, key=lambda app: rank.get(app["app_label"], len(rank)))

    def index(self, request, extra_context=None):
        account_id = owner_account_id(request)
        context = {}
        if account_id is not None:
            home = home_figures(account_id=account_id)
            context = {"home": home, "chart": daily_messages_chart(home.days), "statuses": [s for s, _ in STACK]}
        return super().index(request, context | (extra_context or {}))
