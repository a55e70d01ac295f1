from django.contrib import admin
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from messaging.apis import GatewayInboundCallbackApi, GatewayStatusCallbackApi
from messaging.inbox_apis import OptOutImportApi, OptOutListApi
from smsplatform.api import exceptions, schema  # noqa: F401  (schema registers the X-API-KEY scheme)
from smsplatform.api.middleware import NOT_FOUND_ROUTE
from smsplatform.health import HealthApi

api_v1 = [
    path("health/", HealthApi.as_view(), name="health"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("auth/", include("accounts.urls")),
    path("billing/", include("billing.urls")),
    path("sms/", include("messaging.urls")),
    path("campaigns/", include("campaigns.urls")),
    path("contacts/", include("contacts.urls")),
    path("webhooks/", include("webhooks.urls")),
    path("reports/", include("reports.urls")),
    path("opt-outs/", OptOutListApi.as_view(), name="opt-outs"),
    path("opt-outs/import/", OptOutImportApi.as_view(), name="opt-outs-import"),
    path("gateways/<str:alias>/status/", GatewayStatusCallbackApi.as_view(), name="gateway-status"),
    path("gateways/<str:alias>/inbound/", GatewayInboundCallbackApi.as_view(), name="gateway-inbound"),
]

urlpatterns = [
    # People who open the site's root want the dashboard; the API documents itself at /api/v1/docs/.
    # CSRF-exempt like the catch-all: a POST to / must not meet Django's HTML CSRF page.
    path("", csrf_exempt(RedirectView.as_view(pattern_name="admin:index")), name="home"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    # Last: every other path is a JSON 404, also with DEBUG on (Django's would be an HTML page).
    re_path(r"", csrf_exempt(exceptions.not_found), name=NOT_FOUND_ROUTE),
]

handler400 = exceptions.bad_request
handler403 = exceptions.permission_denied
handler404 = exceptions.not_found
handler500 = exceptions.server_error
