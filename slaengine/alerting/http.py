"""HTTP routes of the alert router: Alertmanager webhook intake and the silences API.

Every route needs ``Authorization: Bearer $SLAENGINE_API_TOKEN``; errors are ``{"error": ...}``
with a 4xx status, never a traceback.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from slaengine.alerting.alertmanager import (
    InvalidAlertmanagerPayloadError,
    parse_alertmanager_payload,
)
from slaengine.alerting.durations import Duration
from slaengine.alerting.service import AlertRouter
from slaengine.alerting.silences import InvalidSilenceError, SilenceNotFoundError
from slaengine.http.auth import json_error, require_token

ROUTER_KEY = web.AppKey("alert_router", AlertRouter)


class SilenceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    matchers: list[str] = Field(min_length=1)
    starts_at: datetime | None = None  # default: now
    ends_at: datetime | None = None
    duration: Duration | None = None  # alternative to ends_at, e.g. "2h"
    created_by: str
    comment: str = ""


def add_routes(app: web.Application, router: AlertRouter) -> None:
    app[ROUTER_KEY] = router
    app.router.add_post("/api/v1/alertmanager", receive_alertmanager)
    app.router.add_get("/api/v1/silences", list_silences)
    app.router.add_post("/api/v1/silences", create_silence)
    app.router.add_delete("/api/v1/silences/{silence_id}", expire_silence)


async def _read_json(request: web.Request) -> Any:
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"body is not valid JSON: {err}"}),
            content_type="application/json") from err


@require_token
async def receive_alertmanager(request: web.Request) -> web.StreamResponse:
    body = await _read_json(request)
    try:
        alerts = parse_alertmanager_payload(body)
    except InvalidAlertmanagerPayloadError as err:
        return json_error(400, f"invalid Alertmanager payload: {err}")
    router = request.app[ROUTER_KEY]
    for alert in alerts:
        await router.receive(alert)
    return web.json_response({"status": "accepted", "alerts": len(alerts)})


@require_token
async def list_silences(request: web.Request) -> web.StreamResponse:
    router = request.app[ROUTER_KEY]
    now = router.clock()
    include_expired = request.query.get("state") in ("all", "expired")
    silences = router.silences.listing(now, include_expired=include_expired)
    return web.json_response({"silences": [s.to_json(now) for s in silences]})


@require_token
async def create_silence(request: web.Request) -> web.StreamResponse:
    body = await _read_json(request)
    try:
        wanted = SilenceRequest.model_validate(body)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        return json_error(400, f"invalid silence: {where}: {first['msg']}")
    router = request.app[ROUTER_KEY]
    now = router.clock()
    starts_at = wanted.starts_at or now
    if (wanted.ends_at is None) == (wanted.duration is None):
        return json_error(400, "invalid silence: give exactly one of ends_at or duration")
    ends_at = wanted.ends_at or starts_at + wanted.duration  # type: ignore[operator]
    try:
        silence = await asyncio.to_thread(router.silences.create, wanted.matchers, starts_at, ends_at,
                                          wanted.created_by, wanted.comment, now)
    except InvalidSilenceError as err:
        return json_error(400, f"invalid silence: {err}")
    return web.json_response({"silence": silence.to_json(now)}, status=201)


@require_token
async def expire_silence(request: web.Request) -> web.StreamResponse:
    router = request.app[ROUTER_KEY]
    now = router.clock()
    try:
        silence = await asyncio.to_thread(router.silences.expire, request.match_info["silence_id"],
                                          now)
    except SilenceNotFoundError as err:
        return json_error(404, str(err.args[0]))
    except InvalidSilenceError as err:
        return json_error(400, str(err))
    return web.json_response({"silence": silence.to_json(now)})
