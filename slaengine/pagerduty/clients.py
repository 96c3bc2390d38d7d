"""The real ``pagerduty`` clients, configured the way slaengine needs them.

Two adjustments to the library's defaults, both through its documented hooks:

* No internal retry loops. The library sleeps and retries 429 forever and 5xx
  several times inside a blocking call; our outbox owns retries, so a
  retryable status leaves ``request()`` at once (raised from ``postprocess``)
  and a network error is not reattempted (``max_network_attempts = 0``).
* Base URLs must be https, except plain http on a loopback host, where the
  local contract server (``slaengine dev pagerduty``) runs for tests and demos.

``to_delivery_error`` is the one place that maps client failures onto
slaengine's retryable/fatal delivery errors. Messages never contain secrets:
they are built from the status and the server's own message, not from the
library's text (which can quote request bodies that carry the routing key).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import pagerduty
from httpx2 import Response

from slaengine.errors import ConfigError, DeliveryError, FatalDeliveryError, RetryableDeliveryError
from slaengine.pagerduty.env import DEFAULT_EVENTS_URL, DEFAULT_REST_URL, DEFAULT_TIMEOUT_SECONDS

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def check_base_url(url: str) -> str:
    """The URL without a trailing slash; https anywhere, http only on loopback."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url.rstrip("/")
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return url.rstrip("/")
    raise ConfigError(f"PagerDuty base URL must be https:// (http:// only on loopback): {url!r}")


def is_retryable_status(status: int) -> bool:
    return status == 429 or status >= 500


class _OutboxFriendly:
    """Mixin for ApiClient subclasses: fail fast, leave retrying to the caller."""

    max_network_attempts = 0

    @property
    def url(self) -> str:
        return self._checked_url

    @url.setter
    def url(self, new_base_url: str) -> None:
        self._checked_url = check_base_url(new_base_url)

    def postprocess(self, response: Response, *args: Any, **kwargs: Any) -> None:
        super().postprocess(response, *args, **kwargs)  # type: ignore[misc]
        if is_retryable_status(response.status_code):
            raise pagerduty.HttpError(f"status {response.status_code}", response)


class EventsClient(_OutboxFriendly, pagerduty.EventsApiV2Client):
    """Events API v2 client (routing key travels in the body)."""


class RestClient(_OutboxFriendly, pagerduty.RestApiV2Client):
    """REST API v2 client (``Authorization: Token token=...``)."""


def build_events_client(
    routing_key: str,
    base_url: str = DEFAULT_EVENTS_URL,
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    verify: bool | str = True,
) -> EventsClient:
    client = EventsClient(routing_key, base_url=check_base_url(base_url), verify=verify)
    client.retry = {}  # drop the library's 5xx retry table; postprocess stops them anyway
    client.timeout = timeout  # type: ignore[assignment]  # httpx takes float seconds
    return client


def build_rest_client(
    api_token: str,
    base_url: str = DEFAULT_REST_URL,
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    verify: bool | str = True,
) -> RestClient:
    client = RestClient(api_token, base_url=check_base_url(base_url), verify=verify)
    client.retry = {}
    client.timeout = timeout  # type: ignore[assignment]  # httpx takes float seconds
    return client


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def server_message(response: Response) -> str:
    """PagerDuty's explanation from an error body (Events or REST shape), else the status."""
    try:
        body = response.json()
    except (json.JSONDecodeError, ValueError):
        text = response.text.strip()
        return text[:300] if text else f"HTTP {response.status_code}"
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"]  # REST API v2 wraps its error object
    if not isinstance(body, dict):
        return str(body)[:300]
    message = str(body.get("message") or body.get("status") or f"HTTP {response.status_code}")
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        message += ": " + "; ".join(str(e) for e in errors)
    return message


def to_delivery_error(err: pagerduty.Error, context: str) -> DeliveryError:
    """429/5xx/network → RetryableDeliveryError; any other 4xx → FatalDeliveryError."""
    response = err.response
    if response is None:
        cause = type(err.__cause__).__name__ if err.__cause__ else "network error"
        return RetryableDeliveryError(f"{context}: cannot reach PagerDuty ({cause})")
    status = response.status_code
    message = f"{context}: PagerDuty answered {status}: {server_message(response)}"
    if is_retryable_status(status):
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return RetryableDeliveryError(message, retry_after=retry_after)
    return FatalDeliveryError(message)
