import logging

from django.conf import settings
from django.db import connection
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from kombu import Connection
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from gateways.status import gateways_state, routes_down
from smsplatform.api.exceptions import SERVICE_UNAVAILABLE_RETRY_AFTER
from smsplatform.api.schema import ERROR_REF
from smsplatform.cache import REDIS_UNREACHABLE

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 2
HEALTH_STATUSES = ["ok", "degraded", "unavailable"]
COMPONENT_STATES = ["ok", "unavailable"]


def _database_state() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception:
        logger.exception("Health check: database unavailable")
        return "unavailable"


def _broker_state() -> str:
    broker = Connection(
        settings.CELERY_BROKER_URL,
        transport_options=getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}),
        connect_timeout=BROKER_TIMEOUT_SECONDS,
    )
    try:
        with broker:
            broker.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT_SECONDS)
        return "ok"
    except REDIS_UNREACHABLE as error:  # a line per check, not a traceback: load balancers ask every few seconds
        logger.warning("Health check: broker unavailable (%s)", error)
        return "unavailable"
    except Exception:
        logger.exception("Health check: broker unavailable")
        return "unavailable"


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=HEALTH_STATUSES)
    database = serializers.ChoiceField(choices=COMPONENT_STATES)
    broker = serializers.ChoiceField(choices=COMPONENT_STATES)
    gateways = serializers.DictField(
        child=serializers.DictField(), help_text="Each gateway: `available`, its circuit, what its backend reports."
    )
    routes_down = serializers.ListField(
        child=serializers.CharField(), help_text="The routes (prefixes, and `default`) no gateway can serve now."
    )
    # Only in a 503, as in every error.
    error = serializers.CharField(required=False)
    code = serializers.CharField(required=False)


HEALTH_EXAMPLE = {
    "status": "ok",
    "database": "ok",
    "broker": "ok",
    "gateways": {"default": {"available": True, "circuit": "closed"}},
    "routes_down": [],
}


class HealthApi(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    @extend_schema(
        summary="Check health",
        description="The state of the database, the broker and every gateway. No API key needed.",
        responses={
            200: OpenApiResponse(
                HealthSerializer,
                description="`ok`, or `degraded` when some route cannot deliver or the broker is down "
                "(sends are accepted and queued meanwhile).",
            ),
            503: OpenApiResponse(
                {"anyOf": [{"$ref": "#/components/schemas/Health"}, ERROR_REF]},
                description="`unavailable`: the database is down, or no route can deliver; the body "
                "reports each. `service_unavailable`: Redis does not answer, and the check could not finish.",
            ),
        },
        parameters=[
            OpenApiParameter(
                "Retry-After",
                int,
                location=OpenApiParameter.HEADER,
                response=[503],
                required=True,
                description="Whole seconds to wait before trying again.",
            )
        ],
        examples=[
            OpenApiExample("Healthy", value=HEALTH_EXAMPLE, response_only=True),
            OpenApiExample(
                "Database down",
                value=HEALTH_EXAMPLE
                | {
                    "status": "unavailable",
                    "database": "unavailable",
                    "error": "The database is unavailable.",
                    "code": "unavailable",
                },
                response_only=True,
                status_codes=["503"],
            ),
            OpenApiExample(
                "Broker down",
                value=HEALTH_EXAMPLE | {"status": "degraded", "broker": "unavailable"},
                response_only=True,
            ),
        ],
    )
    def get(self, request):
        """200 "ok"; 200 "degraded" when some route has no gateway that can take messages, or the broker is
        down (the API serves on: sends are charged, stored and queued for the sweeper); 503 when the database
        is down, or when no route can deliver at all."""
        states = gateways_state()
        down = routes_down(states)
        body = {
            "status": "ok",
            "database": _database_state(),
            "broker": _broker_state(),
            "gateways": states,
            "routes_down": down,
        }
        if body["database"] != "ok":
            body.update(status="unavailable", error="The database is unavailable.", code="unavailable")
            return Response(body, status=503, headers={"Retry-After": SERVICE_UNAVAILABLE_RETRY_AFTER})
        if down or body["broker"] != "ok":
            body["status"] = "degraded"
        if len(down) == len(settings.SMS_ROUTES) + 1:
            body.update(status="unavailable", error="No gateway can deliver messages now.", code="unavailable")
            return Response(body, status=503, headers={"Retry-After": SERVICE_UNAVAILABLE_RETRY_AFTER})
        return Response(body)
