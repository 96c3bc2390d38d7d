"""POST /api/v1/pagerduty/webhook: receive PagerDuty v3 webhooks.

Authenticated by the ``X-PagerDuty-Signature`` HMAC, not the bearer token
(PagerDuty cannot send ours). 401 on a missing/bad signature, 400 on a body
that is not a v3 event, 413 on a body over 1 MiB (counted while it streams in,
whatever Content-Length says), 202 once recorded in the incident log.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence

from aiohttp import web

from slaengine.errors import InvalidEventError
from slaengine.http.auth import json_error
from slaengine.http.body import read_limited_body
from slaengine.pagerduty.env import WEBHOOK_SECRET_ENV
from slaengine.pagerduty.incidents import IncidentLog
from slaengine.pagerduty.webhook import SIGNATURE_HEADER, parse_webhook, verify_signature

WEBHOOK_PATH = "/api/v1/pagerduty/webhook"
MAX_BODY_BYTES = 1024 * 1024


def secrets_from_env(env: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if env is None else env
    return [s.strip() for s in env.get(WEBHOOK_SECRET_ENV, "").split(",") if s.strip()]


def add_routes(
    app: web.Application, incident_log: IncidentLog, *, secrets: Sequence[str] | None = None
) -> None:
    """Register the webhook route; secrets default to SLAENGINE_PAGERDUTY_WEBHOOK_SECRET."""
    accepted = list(secrets) if secrets is not None else secrets_from_env()

    async def receive_webhook(request: web.Request) -> web.Response:
        if not accepted:
            return json_error(401, f"webhook secret not configured (set {WEBHOOK_SECRET_ENV})")
        body = await read_limited_body(request, MAX_BODY_BYTES)
        if body is None:
            return json_error(413, f"webhook body over {MAX_BODY_BYTES} bytes")
        if not verify_signature(body, request.headers.get(SIGNATURE_HEADER), accepted):
            return json_error(401, f"missing or invalid {SIGNATURE_HEADER}")
        try:
            event = parse_webhook(body)
        except InvalidEventError as err:
            return json_error(400, f"not a PagerDuty v3 webhook event: {err.detail}")
        if event is None:
            return web.json_response({"status": "ignored"}, status=202)
        recorded = await asyncio.to_thread(incident_log.record, event)
        return web.json_response(
            {
                "status": "recorded" if recorded else "duplicate",
                "incident_id": event.incident_id,
                "event_type": event.event_type,
            },
            status=202,
        )

    app.router.add_post(WEBHOOK_PATH, receive_webhook)
