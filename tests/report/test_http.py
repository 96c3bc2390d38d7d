"""HTTP routes with a real aiohttp server (pytest-aiohttp)."""

from __future__ import annotations

import subprocess
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from slaengine.http.auth import API_TOKEN_KEY
from slaengine.report.errors import ReportDataError
from slaengine.report.export import to_csv, to_json
from slaengine.report.http import add_routes
from slaengine.report.model import MonthReport
from slaengine.report.service import ReportService
from slaengine.report.store import ReportStore

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOW = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def make_client(
    aiohttp_client: Callable[..., Awaitable[Any]], tmp_path: Path, october_report: MonthReport
) -> Callable[..., Awaitable[Any]]:
    async def make(build: Callable[[date], MonthReport] | None = None) -> Any:
        app = web.Application()
        app[API_TOKEN_KEY] = TOKEN
        service = ReportService(
            build or (lambda month: october_report),
            ReportStore(tmp_path),
            lambda: NOW,
            "Europe/Berlin",
        )
        add_routes(app, service)
        return await aiohttp_client(app)

    return make


def headlines(pdf: bytes) -> list[str]:
    out = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True)
    return [line.strip() for line in out.stdout.decode().splitlines()]


async def test_post_returns_the_pdf_and_get_lists_it(make_client: Any) -> None:
    client = await make_client()
    response = await client.post("/api/v1/reports?month=2026-10", headers=AUTH)
    assert response.status == 200
    assert response.content_type == "application/pdf"
    assert "sla-report-2026-10.pdf" in response.headers["Content-Disposition"]
    pdf = await response.read()
    assert "Uptime: 99.95%" in headlines(pdf)

    listing = await (await client.get("/api/v1/reports", headers=AUTH)).json()
    [entry] = listing["reports"]
    assert entry["month"] == "2026-10" and entry["size_bytes"] == len(pdf)
    stored = await client.get("/api/v1/reports/2026-10", headers=AUTH)
    assert await stored.read() == pdf


@pytest.mark.parametrize(
    ("query", "message"),
    [
        pytest.param("month=2026-13", "MM must be 01..12", id="month 13 is refused"),
        pytest.param("month=abc", "YYYY-MM", id="a word is refused"),
        pytest.param("month=2026-12", "has not started yet", id="a future month is refused"),
        pytest.param("", "month=YYYY-MM is required", id="the month is required"),
        pytest.param("month=2026-10&slo=nope", "unknown SLO nope", id="an unknown SLO is refused"),
    ],
)
async def test_bad_requests_get_400_with_a_message(
    make_client: Any, query: str, message: str
) -> None:
    client = await make_client()
    response = await client.post(f"/api/v1/reports?{query}", headers=AUTH)
    assert response.status == 400
    assert message in (await response.json())["error"]


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="without a token"),
        pytest.param({"Authorization": "Bearer wrong"}, id="with a wrong token"),
    ],
)
async def test_the_token_is_required(make_client: Any, headers: dict[str, str]) -> None:
    client = await make_client()
    for method, path in (("POST", "/api/v1/reports?month=2026-10"), ("GET", "/api/v1/reports")):
        response = await client.request(method, path, headers=headers)
        assert response.status == 401
        assert "error" in await response.json()


async def test_a_filtered_report_has_only_those_slos_and_is_not_stored(make_client: Any) -> None:
    client = await make_client()
    response = await client.post(
        "/api/v1/reports?month=2026-10&slo=uptime&slo=api-latency", headers=AUTH
    )
    lines = headlines(await response.read())
    assert "Uptime: 99.95%" in lines and "API p95: 420 ms" in lines
    assert "Fulfillment: 96.0%" not in lines
    assert (await (await client.get("/api/v1/reports", headers=AUTH)).json()) == {"reports": []}


async def test_a_collector_failure_is_a_json_500(make_client: Any) -> None:
    def broken(month: date) -> MonthReport:
        raise ReportDataError("events file unreadable")

    client = await make_client(broken)
    response = await client.post("/api/v1/reports?month=2026-10", headers=AUTH)
    assert response.status == 500
    assert (await response.json()) == {"error": "report could not be built: events file unreadable"}


async def test_a_month_never_generated_is_404(make_client: Any) -> None:
    client = await make_client()
    response = await client.get("/api/v1/reports/2026-09", headers=AUTH)
    assert response.status == 404
    assert "no report stored for 2026-09" in (await response.json())["error"]


async def test_the_figures_of_a_stored_report_as_csv_and_json(
    make_client: Any, october_report: MonthReport
) -> None:
    client = await make_client()
    assert (await client.post("/api/v1/reports?month=2026-10", headers=AUTH)).status == 200
    as_json = await client.get("/api/v1/reports/2026-10.json", headers=AUTH)
    assert as_json.status == 200
    assert as_json.content_type == "application/json"
    assert "sla-report-2026-10.json" in as_json.headers["Content-Disposition"]
    assert await as_json.text() == to_json(october_report)
    as_csv = await client.get("/api/v1/reports/2026-10.csv", headers=AUTH)
    assert as_csv.status == 200 and as_csv.content_type == "text/csv"
    assert await as_csv.text() == to_csv(october_report)
    # the PDF route still answers the bare month, and the listing still lists only PDFs
    assert (await client.get("/api/v1/reports/2026-10", headers=AUTH)).content_type == (
        "application/pdf"
    )
    listing = await (await client.get("/api/v1/reports", headers=AUTH)).json()
    assert [entry["file"] for entry in listing["reports"]] == ["sla-report-2026-10.pdf"]


async def test_figures_need_the_token_and_a_stored_month(make_client: Any) -> None:
    client = await make_client()
    assert (await client.get("/api/v1/reports/2026-10.json")).status == 401
    missing = await client.get("/api/v1/reports/2026-09.csv", headers=AUTH)
    assert missing.status == 404
    assert "no figures stored for 2026-09" in (await missing.json())["error"]
    bad = await client.get("/api/v1/reports/2026-13.json", headers=AUTH)
    assert bad.status == 400 and "MM must be 01..12" in (await bad.json())["error"]
    other = await client.get("/api/v1/reports/2026-10.xml", headers=AUTH)
    assert other.status == 400 and "YYYY-MM" in (await other.json())["error"]


async def test_a_filtered_report_stores_no_figures(make_client: Any) -> None:
    client = await make_client()
    await client.post("/api/v1/reports?month=2026-10&slo=uptime", headers=AUTH)
    assert (await client.get("/api/v1/reports/2026-10.json", headers=AUTH)).status == 404
