"""Signed v3 webhook deliveries from the local contract server.

Incident transitions are queued and POSTed in the background (as PagerDuty
delivers asynchronously) to the subscribed URL, signed with ``v1=<hmac>``.
``flush()`` lets tests and demos wait until the queue is delivered.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from slaengine.pagerduty.dev_events import DevIncident, IncidentChange
from slaengine.pagerduty.webhook import SIGNATURE_HEADER, sign_body

log = logging.getLogger(__name__)
DELIVERY_TIMEOUT_SECONDS = 5.0


@dataclass
class WebhookSubscription:
    url: str
    secret: str = field(repr=False)


def incident_payload(
    change: IncidentChange, base_url: str, service_name: Callable[[str], str]
) -> dict[str, Any]:
    """The v3 ``{"event": ...}`` body for one incident transition."""
    incident: DevIncident = change.incident
    return {
        "event": {
            "id": uuid.uuid4().hex,
            "event_type": change.event_type,
            "resource_type": "incident",
            "occurred_at": change.occurred_at.isoformat(),
            "agent": None,
            "client": None,
            "data": {
                "id": incident.id,
                "type": "incident",
                "self": f"{base_url}/incidents/{incident.id}",
                "html_url": f"{base_url}/incidents/{incident.id}",
                "number": incident.number,
                "status": incident.status,
                "incident_key": incident.incident_key,
                "created_at": incident.created_at.isoformat(),
                "title": incident.title,
                "urgency": incident.urgency,
                "escalation_level": incident.escalation_level,
                "service": {
                    "id": incident.service_id,
                    "type": "service_reference",
                    "summary": service_name(incident.service_id),
                },
                "assignees": [],
                "priority": None,
            },
        }
    }


class WebhookEmitter:
    def __init__(self, service_name: Callable[[str], str]) -> None:
        self.subscription: WebhookSubscription | None = None
        self.service_name = service_name
        self.deliveries: list[dict[str, Any]] = []  # what was sent and how it went
        self._queue: asyncio.Queue[tuple[IncidentChange, str]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=DELIVERY_TIMEOUT_SECONDS)
        )
        self._worker = asyncio.create_task(self._run(), name="pagerduty-dev-webhooks")

    async def stop(self) -> None:
        if self._worker:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        if self._session:
            await self._session.close()

    def publish(self, changes: list[IncidentChange], base_url: str) -> None:
        if self.subscription is None:
            return
        for change in changes:
            self._queue.put_nowait((change, base_url))

    async def flush(self) -> None:
        await self._queue.join()

    async def _run(self) -> None:
        while True:
            change, base_url = await self._queue.get()
            try:
                await self._deliver(change, base_url)
            finally:
                self._queue.task_done()

    async def _deliver(self, change: IncidentChange, base_url: str) -> None:
        subscription = self.subscription
        if subscription is None or self._session is None:
            return
        body = json.dumps(incident_payload(change, base_url, self.service_name)).encode()
        record: dict[str, Any] = {
            "event_type": change.event_type,
            "incident_id": change.incident.id,
            "url": subscription.url,
        }
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "PagerDuty-Webhook/V3.0",
            "X-Webhook-Id": uuid.uuid4().hex,
            SIGNATURE_HEADER: sign_body(body, subscription.secret),
        }
        try:
            async with self._session.post(subscription.url, data=body, headers=headers) as resp:
                record["status"] = resp.status
        except (aiohttp.ClientError, TimeoutError) as err:
            record["error"] = type(err).__name__
            log.warning("webhook to %s failed: %s", subscription.url, type(err).__name__)
        self.deliveries.append(record)
