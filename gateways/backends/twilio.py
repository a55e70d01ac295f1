"""Twilio's Messages API (or any provider shaped like it): one HTTPS POST per message, receipts by status callback.

    SMS_GATEWAYS = {"twilio": {
        "BACKEND": "gateways.backends.twilio.TwilioGateway",
        "OPTIONS": {"account_sid": "AC…", "auth_token": "…",
                    "status_callback_url": "https://sms.example.com/api/v1/gateways/twilio/status/",
                    "inbound_url": "https://sms.example.com/api/v1/gateways/twilio/inbound/"},
    }}

Twilio splits long texts itself and gives one message sid for all their parts, so a message has one part id.
"""

import base64
import concurrent.futures
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

import httpx

from ..base import BaseGateway, CallbackRefused, InboundSms, OutboundSms, Receipt, ReceiptStatus, SubmitResult

MESSAGES_PATH = "/2010-04-01/Accounts/{account_sid}/Messages.json"
SIGNATURE_HEADER = "x-twilio-signature"
# Statuses of a message Twilio has given up on, in its create answer and in status callbacks.
FAILED_STATUSES = frozenset({"failed", "undelivered"})
# Our credentials (401, 403), Twilio's own timeout (408) or our rate limit (429): not the message's fault,
# so another gateway may take it rather than the customer's message failing for good.
NOT_THE_MESSAGES_FAULT = frozenset({401, 403, 408, 429})


class TwilioGateway(BaseGateway):
    def __init__(
        self,
        *,
        alias: str,
        account_sid: str,
        auth_token: str,
        base_url: str = "https://api.twilio.com",
        status_callback_url: str = "",
        inbound_url: str = "",
        timeout: float = 10,
        concurrency: int = 4,
        **options,
    ):
        super().__init__(alias=alias, **options)
        if not account_sid or account_sid.isspace():
            raise ValueError("TwilioGateway needs an account_sid.")
        if not auth_token or auth_token.isspace():
            raise ValueError("TwilioGateway needs an auth_token.")
        _require_http_url("base_url", base_url)
        if status_callback_url:
            _require_http_url("status_callback_url", status_callback_url)
        if inbound_url:
            _require_http_url("inbound_url", inbound_url)
        if not timeout > 0:
            raise ValueError(f"TwilioGateway timeout must be a positive number of seconds, not {timeout!r}.")
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"TwilioGateway concurrency must be a whole number of at least 1, not {concurrency!r}.")
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messages_url = base_url.rstrip("/") + MESSAGES_PATH.format(account_sid=account_sid)
        self.status_callback_url = status_callback_url
        self.inbound_url = inbound_url
        self.timeout = timeout
        self.concurrency = concurrency
        self._client: httpx.Client | None = None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def send_messages(
        self, messages: Sequence[OutboundSms], *, timeout: float, wait: bool = True
    ) -> list[SubmitResult]:
        """POST the messages, `concurrency` at a time; `wait` changes nothing, as Twilio answers each POST."""
        if not messages:
            return []
        deadline = time.monotonic() + timeout
        client = self._http_client()
        pool = concurrent.futures.ThreadPoolExecutor(min(self.concurrency, len(messages)), thread_name_prefix="twilio")
        futures = [pool.submit(self._submit, client, message, deadline) for message in messages]
        # Each request's timeout bounds each read, not the whole request (a slow trickle outlasts it): the batch
        # stops at the deadline, and a request still running finishes in the background, too late to count.
        done, _ = concurrent.futures.wait(futures, timeout=max(0.0, deadline - time.monotonic()))
        pool.shutdown(wait=False, cancel_futures=True)
        return [future.result() if future in done else _timed_out() for future in futures]

    def status_callback(self, *, url: str, params: Mapping[str, str], headers: Mapping[str, str]) -> list[Receipt]:
        """The receipt of one message's status callback, once its signature proves Twilio sent it.

        Twilio signs the URL it was told to call, so the signature is checked against `status_callback_url`,
        never `url`: behind a proxy that terminates TLS the request arrives on another scheme, host or port.
        """
        self._check_signature(params, headers, signed_url=self.status_callback_url, option="status_callback_url")
        if not params.get("MessageSid"):
            raise CallbackRefused("The callback has no MessageSid.")
        return [self._receipt(params)]

    def inbound_callback(self, *, url: str, params: Mapping[str, str], headers: Mapping[str, str]) -> list[InboundSms]:
        """The message a phone sent, as Twilio's incoming-message webhook posts it (From, To, Body, MessageSid),
        checked against `inbound_url` as status callbacks are against theirs. Twilio joins long messages itself."""
        self._check_signature(params, headers, signed_url=self.inbound_url, option="inbound_url")
        if not params.get("MessageSid") or not params.get("From") or not params.get("To"):
            raise CallbackRefused("The inbound message has no MessageSid, From or To.")
        return [
            InboundSms(gateway=self.alias, sender=params["From"], recipient=params["To"], text=params.get("Body", ""))
        ]

    def _check_signature(self, params: Mapping[str, str], headers: Mapping[str, str], *, signed_url: str, option: str):
        if not signed_url:
            raise CallbackRefused(f"Gateway {self.alias!r} has no {option}, so it cannot check callbacks.")
        expected = twilio_signature(signed_url, params, self.auth_token)
        # Encoded: compare_digest refuses str with non-ASCII characters, which a forged header may hold.
        if not hmac.compare_digest(_header(headers, SIGNATURE_HEADER).encode(), expected.encode()):
            raise CallbackRefused("The X-Twilio-Signature header is missing or does not match.")
        if params.get("AccountSid") != self.account_sid:
            raise CallbackRefused("The callback is for another Twilio account.")

    def _http_client(self) -> httpx.Client:
        # One client per backend: its pool keeps a connection per worker alive across messages and batches.
        if self._client is None:
            limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
            self._client = httpx.Client(auth=(self.account_sid, self.auth_token), limits=limits)
        return self._client

    def _submit(self, client: httpx.Client, message: OutboundSms, deadline: float) -> SubmitResult:
        left = deadline - time.monotonic()
        if left <= 0:
            return _timed_out()
        try:
            response = client.post(self.messages_url, data=self._form(message), timeout=min(self.timeout, left))
        except httpx.TimeoutException:
            return _timed_out()
        except httpx.HTTPError as exc:
            return SubmitResult.retry(f"Could not reach Twilio: {exc or type(exc).__name__}.", "gateway:connection")
        return _submit_result(response)

    def _form(self, message: OutboundSms) -> dict[str, str]:
        form = {"To": message.recipient, "From": message.sender, "Body": message.text}
        if self.status_callback_url:
            form["StatusCallback"] = self.status_callback_url
        return form

    def _receipt(self, params: Mapping[str, str]) -> Receipt:
        status = params.get("MessageStatus", "")
        if status == "delivered":
            return Receipt(gateway=self.alias, part_id=params["MessageSid"], status=ReceiptStatus.DELIVERED)
        if status in FAILED_STATUSES:
            error_code = params.get("ErrorCode", "")
            return Receipt(
                gateway=self.alias,
                part_id=params["MessageSid"],
                status=ReceiptStatus.UNDELIVERED,
                error=f"Not delivered (Twilio error {error_code})" if error_code else f"Not delivered ({status})",
                error_code=f"twilio:{error_code or status}",
            )
        # queued, sending, sent, accepted, scheduled, read, canceled…: nothing final about delivery.
        return Receipt(gateway=self.alias, part_id=params["MessageSid"], status=ReceiptStatus.INTERIM)


def twilio_signature(url: str, params: Mapping[str, str], auth_token: str) -> str:
    """X-Twilio-Signature: base64 HMAC-SHA1, keyed with the auth token, of the URL then each name+value by name."""
    signed = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()).decode()


def _submit_result(response: httpx.Response) -> SubmitResult:
    body = _json_object(response)
    if response.is_success:
        return _created_result(body)
    status = response.status_code
    code = f"twilio:{body['code']}" if body.get("code") else f"twilio:http_{status}"
    message = str(body.get("message") or "")
    if 400 <= status < 500 and status not in NOT_THE_MESSAGES_FAULT:
        return SubmitResult.rejected(message or f"Twilio refused the message (HTTP {status}).", code)
    # 5xx, a redirect (an http:// base_url) or a refusal that another gateway may not share.
    return SubmitResult.retry(f"Twilio answered HTTP {status}" + (f": {message}" if message else "."), code)


def _created_result(body: dict) -> SubmitResult:
    """The outcome of a 2xx answer: the created message, which Twilio may have failed at once."""
    sid = body.get("sid")
    if not sid or not isinstance(sid, str):
        return SubmitResult.retry("Twilio's answer has no message sid.", "gateway:bad_response")
    status = body.get("status")
    if status in FAILED_STATUSES:
        error = body.get("error_message") or f"Twilio marked the message {status}."
        return SubmitResult.rejected(error, f"twilio:{body.get('error_code') or status}")
    return SubmitResult.accepted(sid)


def _json_object(response: httpx.Response) -> dict:
    """The answer's JSON object, or {} when it is not one (an HTML error page from a proxy)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _timed_out() -> SubmitResult:
    return SubmitResult.retry("Twilio did not answer in time.", "gateway:timeout")


def _header(headers: Mapping[str, str], name: str) -> str:
    """A header's value whatever the case of its name, from a case-insensitive mapping or a plain dict."""
    return next((value for key, value in headers.items() if key.lower() == name), "")


def _require_http_url(option: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"TwilioGateway {option} must be an http(s) URL, not {url!r}.")
