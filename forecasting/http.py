"""GET /api/capacity/report: the capacity report of all resources as JSON.

Query parameters: ``resource`` (only that one; 404 if unknown) and ``rows`` (``true`` adds the
daily forecast rows). Forecasting is CPU-bound and the route is open (no token), so it runs in
its own bounded thread pool: one forecast at a time, a few waiting, 429 beyond, 503 after 60 s.
"""

from __future__ import annotations

import json

from aiohttp import web

from forecasting.service import CapacityService
from slaengine.http.auth import json_error
from slaengine.http.limits import HeavyWork, heavy_work

CAPACITY_SERVICE_KEY = web.AppKey("capacity_service", CapacityService)
CAPACITY_WORK_KEY = web.AppKey("capacity_work", HeavyWork)
TRUE_WORDS = {"1", "true", "yes"}
FALSE_WORDS = {"", "0", "false", "no"}


async def get_capacity_report(request: web.Request) -> web.Response:
    service = request.config_dict[CAPACITY_SERVICE_KEY]
    rows_param = request.query.get("rows", "").lower()
    if rows_param not in TRUE_WORDS | FALSE_WORDS:
        return json_error(400, f"rows must be true or false, not {rows_param[:40]!r}")
    include_rows = rows_param in TRUE_WORDS
    resource = request.query.get("resource")

    def render() -> str | None:  # forecast and serialise in the pool: both are heavy
        body = service.report().to_json(include_rows=include_rows)
        if resource is not None:
            if resource not in body["resources"]:
                return None
            body["resources"] = {resource: body["resources"][resource]}
        return json.dumps(body)

    text = await request.config_dict[CAPACITY_WORK_KEY].run(render)
    if text is None:
        return json_error(404, f"unknown resource {str(resource)[:200]!r}")
    return web.Response(text=text, content_type="application/json")


def add_routes(app: web.Application, capacity_service: CapacityService) -> None:
    app[CAPACITY_SERVICE_KEY] = capacity_service
    app[CAPACITY_WORK_KEY] = heavy_work(
        app, "capacity forecast", concurrency=1, waiting=4, timeout=60
    )
    app.router.add_get("/api/capacity/report", get_capacity_report)
