"""GET /api/capacity/report: the capacity report of all resources as JSON.

Query parameters: ``resource`` (only that one; 404 if unknown) and ``rows`` (``true`` adds the
daily forecast rows). Forecasting is CPU-bound, so it runs in the default executor.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from forecasting.service import CapacityService
from slaengine.http.auth import json_error

CAPACITY_SERVICE_KEY = web.AppKey("capacity_service", CapacityService)
TRUE_WORDS = {"1", "true", "yes"}
FALSE_WORDS = {"", "0", "false", "no"}


async def get_capacity_report(request: web.Request) -> web.Response:
    service = request.config_dict[CAPACITY_SERVICE_KEY]
    rows_param = request.query.get("rows", "").lower()
    if rows_param not in TRUE_WORDS | FALSE_WORDS:
        return json_error(400, f"rows must be true or false, not {rows_param!r}")
    include_rows = rows_param in TRUE_WORDS
    report = await asyncio.get_running_loop().run_in_executor(None, service.report)
    body = report.to_json(include_rows=include_rows)
    resource = request.query.get("resource")
    if resource is not None:
        if resource not in body["resources"]:
            return json_error(404, f"unknown resource {resource!r}")
        body["resources"] = {resource: body["resources"][resource]}
    return web.json_response(body)


def add_routes(app: web.Application, capacity_service: CapacityService) -> None:
    app[CAPACITY_SERVICE_KEY] = capacity_service
    app.router.add_get("/api/capacity/report", get_capacity_report)
