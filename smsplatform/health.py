import logging

from django.conf import settings
from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from kombu import Connection
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from gateways.status import gateways_state, routes_down

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 2


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
    except Exception:
        logger.exception("Health check: broker unavailable")
        return "unavailable"


class HealthApi(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    @extend_schema(
        responses=inline_serializer(
            "Health",
            {
                "status": serializers.ChoiceField(choices=["ok", "degraded", "unavailable"]),
                "database": serializers.CharField(),
                "broker": serializers.CharField(),
                "gateways": serializers.DictField(child=serializers.DictField()),
                "routes_down": serializers.ListField(child=serializers.CharField()),
            },
        )
    )
    def get(self, request):
        """200 "ok"; 200 "degraded" when some route has no gateway that can take messages; 503 when the
        database or the broker is down, or when no route can deliver at all."""
        states = gateways_state()
        down = routes_down(states)
        body = {
            "status": "degraded" if down else "ok",
            "database": _database_state(),
            "broker": _broker_state(),
            "gateways": states,
            "routes_down": down,
        }
        if body["database"] != "ok" or body["broker"] != "ok":
            body.update(status="unavailable", error="A service the platform needs is unavailable.", code="unavailable")
            return Response(body, status=503)
        if len(down) == len(settings.SMS_ROUTES) + 1:
            body.update(status="unavailable", error="No gateway can deliver messages now.", code="unavailable")
            return Response(body, status=503)
        return Response(body)
