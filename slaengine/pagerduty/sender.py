"""PagerDutySender: deliver alert-group notifications through Events API v2.

The ``pagerduty`` client is synchronous (httpx2), so each send runs in a worker
thread and the event loop is never blocked. Failures surface as
RetryableDeliveryError (429, 5xx, network; the outbox retries) or
FatalDeliveryError (other 4xx; fix the event or the routing key).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import pagerduty

from slaengine.alerts import Notification
from slaengine.errors import ConfigError
from slaengine.pagerduty.clients import (
    EventsClient,
    build_events_client,
    to_delivery_error,
)
from slaengine.pagerduty.config import EventsSettings
from slaengine.pagerduty.env import DEFAULT_EVENTS_URL, DEFAULT_TIMEOUT_SECONDS, ROUTING_KEY_ENV
from slaengine.pagerduty.events_payload import build_event

log = logging.getLogger(__name__)


class PagerDutySender:
    """Implements slaengine.router.senders.Sender for PagerDuty."""

    name = "pagerduty"

    def __init__(
        self,
        routing_key: str,
        events_url: str = DEFAULT_EVENTS_URL,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        verify: bool | str = True,
    ) -> None:
        if not routing_key:
            raise ConfigError(f"PagerDuty routing key is empty (set {ROUTING_KEY_ENV})")
        self._client: EventsClient = build_events_client(
            routing_key, events_url, timeout=timeout, verify=verify
        )

    @classmethod
    def from_settings(
        cls, settings: EventsSettings | None = None, env: Mapping[str, str] | None = None
    ) -> PagerDutySender:
        """Build from pagerduty.yaml's ``events`` section, environment variables winning."""
        settings = settings or EventsSettings()
        routing_key, url = settings.resolved(env)
        if not routing_key:
            raise ConfigError(
                f"no PagerDuty routing key: set {ROUTING_KEY_ENV} "
                "or events.routing_key in pagerduty.yaml"
            )
        return cls(routing_key, url, timeout=settings.timeout_seconds)

    @property
    def events_url(self) -> str:
        return self._client.url

    def __repr__(self) -> str:
        return f"PagerDutySender(events_url={self.events_url!r}, routing_key=<redacted>)"

    async def send(self, notification: Notification) -> None:
        event = build_event(notification)
        await asyncio.to_thread(self._post, event, notification.notification_id)

    def _post(self, event: dict[str, Any], notification_id: str) -> None:
        action = event.pop("event_action")
        dedup_key = event.pop("dedup_key")
        context = f"PagerDuty {action} for {notification_id}"
        try:
            self._client.send_event(action, dedup_key=dedup_key, **event)
        except pagerduty.Error as err:
            raise to_delivery_error(err, context) from err
        log.debug("%s delivered (dedup_key=%s)", context, dedup_key)

    def close(self) -> None:
        self._client.close()

    async def aclose(self) -> None:
        await asyncio.to_thread(self._client.close)
