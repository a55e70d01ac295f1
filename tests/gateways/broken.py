from gateways.base import BaseGateway


class BrokenGateway(BaseGateway):
    """A backend with a bug: it raises instead of answering."""

    def send_messages(self, messages, *, timeout):
        raise ConnectionResetError("peer went away")
