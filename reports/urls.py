from django.urls import path

from . import apis

urlpatterns = [
    path("usage/", apis.UsageReportApi.as_view(), name="reports-usage"),
]
