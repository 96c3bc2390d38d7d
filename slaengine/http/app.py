"""The aiohttp application factory: health, metrics, SLO results, plus feature routes.

Feature packages (alerting, pagerduty, reports, capacity) attach their routes
through ``add_routes`` functions passed in ``route_setups``; every error leaves
as ``{"error": message}`` with a 4xx/5xx status, never a traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from slaengine.http.auth import API_TOKEN_KEY, json_error
from slaengine.http.limits import WORK_TIMEOUT_KEY
from slaengine.http.looplag import LoopLagMonitor
from slaengine.http.openapi import openapi_document
from slaengine.metrics import exposition
from slaengine.sli.engine import SliEngine
from slaengine.sli.results import evaluate_all

log = logging.getLogger(__name__)

REGISTRY_KEY = web.AppKey("registry", CollectorRegistry)
ENGINE_KEY = web.AppKey("engine", SliEngine)
HEALTH_KEY: web.AppKey[dict[str, Any]] = web.AppKey("health")

RouteSetup = Callable[[web.Application], None]


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as err:
        if err.status < 400:
            raise
        return json_error(err.status, message_of(err))
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return json_error(500, "internal error; see the worker log")


def message_of(err: web.HTTPException) -> str:
    """The real reason of an HTTP error: our ``{"error": ...}`` body, aiohttp's own text
    (e.g. the body size limit), or the status phrase when there is nothing better."""
    text = err.text or ""
    if err.content_type == "application/json":
        try:
            return str(json.loads(text)["error"])
        except (ValueError, KeyError, TypeError):
            pass
    if text and text != f"{err.status}: {err.reason}":
        return text
    return err.reason or "error"


async def health(request: web.Request) -> web.Response:
    info: dict[str, Any] = request.app[HEALTH_KEY]
    return web.json_response({"status": "ok", **info})


async def metrics(request: web.Request) -> web.Response:
    """``?windows=all``: every SLO window, not only the default ones (slaengine.metrics)."""
    windows = request.query.get("windows", "default")
    if windows not in ("default", "all"):
        return json_error(400, f"'windows': {windows[:60]!r} is not 'all' or 'default'")
    body = exposition(request.app[REGISTRY_KEY], every_window=windows == "all")
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


MIN_YEAR, MAX_YEAR = 1970, 2999  # what any SLO question may sensibly ask about


def parse_at(text: str | None) -> int:
    """``?at=`` as epoch ms (now when absent); ValueError with a message when malformed or
    outside years 1970..2999."""
    if not text:
        return int(datetime.now(UTC).timestamp() * 1000)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as err:
        raise ValueError(f"{text[:60]!r} is not an ISO-8601 time") from err
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise ValueError(f"time {text[:60]!r} is outside years {MIN_YEAR}..{MAX_YEAR}")
    return int(parsed.timestamp() * 1000)


async def slo_results(request: web.Request) -> web.Response:
    try:
        now_ms = parse_at(request.query.get("at"))
    except ValueError as err:
        return json_error(400, f"'at': {err}")
    engine = request.app[ENGINE_KEY]
    rows = [row.to_json() for row in evaluate_all(engine, now_ms)]
    return web.json_response({"at": now_ms, "slos": rows, "late_dropped": engine.late_dropped})


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())


def create_app(
    registry: CollectorRegistry,
    engine: SliEngine | None = None,
    api_token: str | None = None,
    health_info: dict[str, Any] | None = None,
    route_setups: Iterable[RouteSetup] = (),
    loop_monitor: LoopLagMonitor | None = None,
    work_timeout_s: float | None = None,
) -> web.Application:
    """The API app; ``loop_monitor`` (registered on ``registry`` by the caller) runs while the
    app does."""
    app = web.Application(middlewares=[error_middleware], client_max_size=16 * 1024 * 1024)
    app[REGISTRY_KEY] = registry
    app[HEALTH_KEY] = health_info if health_info is not None else {}
    if work_timeout_s is not None:
        app[WORK_TIMEOUT_KEY] = work_timeout_s
    if api_token:
        app[API_TOKEN_KEY] = api_token
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/openapi.json", openapi)
    if engine is not None:
        app[ENGINE_KEY] = engine
        app.router.add_get("/api/v1/slos", slo_results)
    for setup in route_setups:
        setup(app)
    if loop_monitor is not None:

        async def start_monitor(_: web.Application) -> None:
            loop_monitor.start()

        async def stop_monitor(_: web.Application) -> None:
            await loop_monitor.stop()

        app.on_startup.append(start_monitor)
        app.on_cleanup.append(stop_monitor)
    return app
