"""`gateways["default"]`: backends built lazily from settings.SMS_GATEWAYS, like Django's `caches`."""

from asgiref.local import Local
from django.core.exceptions import ImproperlyConfigured
from django.utils.connection import BaseConnectionHandler
from django.utils.module_loading import import_string

from .base import BaseGateway


class InvalidGatewayError(ImproperlyConfigured):
    pass


class GatewayHandler(BaseConnectionHandler):
    settings_name = "SMS_GATEWAYS"
    exception_class = InvalidGatewayError

    def create_connection(self, alias: str) -> BaseGateway:
        config = self.settings[alias]
        try:
            backend = import_string(config["BACKEND"])
        except (KeyError, ImportError) as exc:
            raise InvalidGatewayError(f"SMS_GATEWAYS[{alias!r}] has no importable BACKEND: {exc}") from exc
        return backend(alias=alias, **config.get("OPTIONS", {}))

    def reset(self) -> None:
        """Close the backends and forget the settings they were built from (tests change SMS_GATEWAYS)."""
        self.close_all()
        self.__dict__.pop("settings", None)
        self._settings = None
        self._connections = Local(self.thread_critical)


gateways = GatewayHandler()
