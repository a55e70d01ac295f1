"""The real URLconf plus views that crash, to show what a crash looks like to a client."""

from django.urls import include, path

from smsplatform.api.views import AccountApi
from smsplatform.urls import urlpatterns as real_urlpatterns


class CrashApi(AccountApi):
    def get(self, request):
        raise RuntimeError("secret internal detail")


def crash_outside_drf(request):
    raise RuntimeError("secret internal detail")


urlpatterns = [
    path("test/crash/", CrashApi.as_view()),
    path("test/crash-django/", crash_outside_drf),
    path("", include(real_urlpatterns)),
]

handler500 = "smsplatform.api.exceptions.server_error"
