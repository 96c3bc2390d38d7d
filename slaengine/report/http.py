"""HTTP routes of the monthly report (token required; errors as ``{"error": message}``).

POST /api/v1/reports?month=YYYY-MM[&slo=name...]  -> application/pdf (stored unless filtered)
GET  /api/v1/reports                              -> {"reports": [...]}
GET  /api/v1/reports/{month}                      -> the stored PDF
GET  /api/v1/reports/{month}.csv|.json            -> the stored PDF's figures (report.export)
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from slaengine.errors import SlaEngineError
from slaengine.http.auth import json_error, require_token
from slaengine.http.limits import HeavyWork, heavy_work
from slaengine.report.errors import ReportRequestError
from slaengine.report.export import export_filename
from slaengine.report.service import ReportService

REPORT_SERVICE_KEY = web.AppKey("report_service", ReportService)
REPORT_WORK_KEY = web.AppKey("report_work", HeavyWork)
MAX_SLO_FILTERS = 50
log = logging.getLogger(__name__)


def add_routes(app: web.Application, report_service: ReportService) -> None:
    app[REPORT_SERVICE_KEY] = report_service
    # rendering a PDF takes seconds of CPU: one at a time, one waiting, 429 beyond
    app[REPORT_WORK_KEY] = heavy_work(
        app, "report rendering", concurrency=1, waiting=1, timeout=300
    )
    app.router.add_post("/api/v1/reports", create_report)
    app.router.add_get("/api/v1/reports", list_reports)
    # before "{month}", which would also match "2026-10.csv"
    app.router.add_get(r"/api/v1/reports/{month}.{format:csv|json}", download_figures)
    app.router.add_get("/api/v1/reports/{month}", download_report)


def _pdf_response(pdf: bytes, filename: str) -> web.Response:
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@require_token
async def create_report(request: web.Request) -> web.StreamResponse:
    service = request.config_dict[REPORT_SERVICE_KEY]
    text = request.query.get("month")
    if not text:
        return json_error(400, "query parameter month=YYYY-MM is required")
    slo_names = request.query.getall("slo", [])
    if len(slo_names) > MAX_SLO_FILTERS:
        return json_error(400, f"at most {MAX_SLO_FILTERS} slo= filters")
    try:
        month = service.parse_month(text)
        # building and rendering are CPU-bound: keep the event loop free
        pdf = await request.config_dict[REPORT_WORK_KEY].run(service.generate, month, slo_names)
    except ReportRequestError as err:
        return json_error(400, str(err))
    except SlaEngineError as err:
        log.error("report for %s could not be built: %s", text, err)
        return json_error(500, f"report could not be built: {err}")
    return _pdf_response(pdf, f"sla-report-{month:%Y-%m}.pdf")


@require_token
async def list_reports(request: web.Request) -> web.StreamResponse:
    service = request.config_dict[REPORT_SERVICE_KEY]
    return web.json_response({"reports": await asyncio.to_thread(service.listing)})


@require_token
async def download_report(request: web.Request) -> web.StreamResponse:
    service = request.config_dict[REPORT_SERVICE_KEY]
    try:
        month = service.parse_month(request.match_info["month"])
    except ReportRequestError as err:
        return json_error(400, str(err))
    pdf = service.store.read(month)
    if pdf is None:
        return json_error(
            404,
            f"no report stored for {month:%Y-%m}; POST /api/v1/reports?month=... to generate it",
        )
    return _pdf_response(pdf, f"sla-report-{month:%Y-%m}.pdf")


FIGURE_CONTENT_TYPES = {"csv": "text/csv", "json": "application/json"}


@require_token
async def download_figures(request: web.Request) -> web.StreamResponse:
    """The numbers behind a stored PDF, written next to it when it was generated."""
    service = request.config_dict[REPORT_SERVICE_KEY]
    fmt = request.match_info["format"]
    try:
        month = service.parse_month(request.match_info["month"])
    except ReportRequestError as err:
        return json_error(400, str(err))
    filename = export_filename(month, fmt)
    try:
        body = (service.store.folder / filename).read_bytes()
    except FileNotFoundError:
        return json_error(
            404,
            f"no figures stored for {month:%Y-%m}; POST /api/v1/reports?month=... to generate "
            f"the report and its figures",
        )
    return web.Response(
        body=body,
        content_type=FIGURE_CONTENT_TYPES[fmt],
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
