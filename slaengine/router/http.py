"""HTTP routes of the alert router: Alertmanager webhook intake and the silences API.

Every route needs ``Authorization: Bearer $SLAENGINE_API_TOKEN``; errors are ``{"error": ...}``
with a 4xx status, never a traceback. An intake request is bounded (``MAX_INTAKE_ALERTS`` alerts,
``MAX_INTAKE_BYTES``) and filed with one state write, whatever its size.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from slaengine.alerts import Alert
from slaengine.durations import TimedeltaField
from slaengine.http.auth import json_error, require_token
from slaengine.http.body import read_json_body
from slaengine.http.limits import HeavyWork, heavy_work
from slaengine.router.alertmanager import (
    InvalidAlertmanagerPayloadError,
    parse_alertmanager_payload,
)
from slaengine.router.intake import InvalidAlertError, check_time
from slaengine.router.silences import InvalidSilenceError, SilenceNotFoundError, SilenceStore


class RouterApi(Protocol):
    """What these routes need: an ``AlertRouter``, or a worker's ``streams.router.RouterFront``."""

    silences: SilenceStore

    def clock(self) -> datetime: ...

    async def receive_many(self, alerts: Iterable[Alert]) -> list[list[str]]: ...


ROUTER_KEY = web.AppKey("alert_router", RouterApi)
INTAKE_WORK_KEY = web.AppKey("alert_intake_work", HeavyWork)
MAX_INTAKE_ALERTS = 1000  # deploy/alertmanager/alertmanager.yml sends at most 500 per request
MAX_INTAKE_BYTES = 4 * 1024 * 1024


class SilenceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    matchers: list[str] = Field(min_length=1, max_length=32)
    starts_at: datetime | None = None  # default: now
    ends_at: datetime | None = None
    duration: TimedeltaField | None = None  # alternative to ends_at, e.g. "2h"
    created_by: str = Field(max_length=200)
    comment: str = Field(default="", max_length=4096)


def add_routes(app: web.Application, router: RouterApi) -> None:
    app[ROUTER_KEY] = router
    # validating 1,000-alert payloads is CPU work: one at a time, off the loop; Alertmanager
    # retries a 429
    app[INTAKE_WORK_KEY] = heavy_work(app, "alert intake", concurrency=1, waiting=16, timeout=60)
    app.router.add_post("/api/v1/alertmanager", receive_alertmanager)
    app.router.add_get("/api/v1/silences", list_silences)
    app.router.add_post("/api/v1/silences", create_silence)
    app.router.add_delete("/api/v1/silences/{silence_id}", expire_silence)


@require_token
async def receive_alertmanager(request: web.Request) -> web.StreamResponse:
    body = await read_json_body(request, MAX_INTAKE_BYTES)
    try:  # up to 1,000 alerts: validated off the event loop
        alerts = await request.app[INTAKE_WORK_KEY].run(parse_alertmanager_payload, body)
    except InvalidAlertmanagerPayloadError as err:
        return json_error(400, f"invalid Alertmanager payload: {err}")
    if len(alerts) > MAX_INTAKE_ALERTS:
        return json_error(
            413,
            f"{len(alerts)} alerts in one request; at most {MAX_INTAKE_ALERTS} "
            "(set max_alerts in Alertmanager's webhook_config)",
        )
    router = request.app[ROUTER_KEY]
    try:
        await router.receive_many(alerts)
    except InvalidAlertError as err:
        return json_error(400, f"invalid Alertmanager payload: {err}")
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
    body = await read_json_body(request)
    try:
        wanted = SilenceRequest.model_validate(body)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        return json_error(400, f"invalid silence: {where}: {first['msg']}")
    except OverflowError:
        return json_error(400, "invalid silence: duration: too long")
    router = request.app[ROUTER_KEY]
    now = router.clock()
    starts_at = wanted.starts_at or now
    if (wanted.ends_at is None) == (wanted.duration is None):
        return json_error(400, "invalid silence: give exactly one of ends_at or duration")
    try:
        check_time(wanted.starts_at, "starts_at")
        check_time(wanted.ends_at, "ends_at")
        ends_at = wanted.ends_at or starts_at + wanted.duration  # type: ignore[operator]
        check_time(ends_at, "ends_at")
    except InvalidAlertError as err:
        return json_error(400, f"invalid silence: {err}")
    except OverflowError:
        return json_error(400, "invalid silence: starts_at + duration is past year 9999")
    try:
        silence = await asyncio.to_thread(
            router.silences.create,
            wanted.matchers,
            starts_at,
            ends_at,
            wanted.created_by,
            wanted.comment,
            now,
        )
    except InvalidSilenceError as err:
        return json_error(400, f"invalid silence: {err}")
    return web.json_response({"silence": silence.to_json(now)}, status=201)


@require_token
async def expire_silence(request: web.Request) -> web.StreamResponse:
    router = request.app[ROUTER_KEY]
    now = router.clock()
    try:
        silence = await asyncio.to_thread(
            router.silences.expire, request.match_info["silence_id"], now
        )
    except SilenceNotFoundError as err:
        return json_error(404, str(err.args[0]))
    except InvalidSilenceError as err:
        return json_error(400, str(err))
    return web.json_response({"silence": silence.to_json(now)})
