"""Heavy work is bounded and off the loop; query ranges are checked (issue 12, defects 7, 12)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest

from forecasting.config import load_capacity_config
from forecasting.metrics import CapacityCollector
from forecasting.service import CapacityService
from slaengine.http.limits import HeavyWork
from slaengine.http.looplag import LoopLagMonitor

from .apiserver import TOKEN, build_api, resource_history

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def api(aiohttp_client, tmp_path: Path) -> Any:
    app, router, incident_log = build_api(tmp_path)
    client = await aiohttp_client(app)
    yield client
    await router.close()
    incident_log.close()


async def test_saturated_heavy_work_answers_429_and_a_slow_job_503(aiohttp_client) -> None:
    release = threading.Event()
    work = HeavyWork("test work", concurrency=1, waiting=1, timeout=0.5)

    async def handler(request: web.Request) -> web.Response:
        await work.run(release.wait, 5)
        return web.json_response({"done": True})

    app = web.Application()
    app.router.add_get("/work", handler)
    client = await aiohttp_client(app)
    first = asyncio.ensure_future(client.get("/work"))
    second = asyncio.ensure_future(client.get("/work"))
    await asyncio.sleep(0.1)
    third = await client.get("/work")
    assert third.status == 429 and third.headers["Retry-After"]
    assert "busy" in (await third.json())["error"]
    assert (await first).status == 503
    assert "longer than 0.5 s" in (await (await second).json())["error"]
    release.set()
    await asyncio.sleep(0.1)
    assert work.in_use == 0
    assert (await client.get("/work")).status == 200


async def test_forecasts_never_run_on_the_event_loop_or_in_a_scrape() -> None:
    service = CapacityService(resource_history(), load_capacity_config())
    registry = CollectorRegistry()
    registry.register(CapacityCollector(service, cached_only=True))
    started = time.perf_counter()
    assert b"slaengine_capacity_current" not in generate_latest(registry)  # nothing cached yet
    assert time.perf_counter() - started < 0.5
    await asyncio.to_thread(service.report)  # what the worker's background refresh does
    assert b"slaengine_capacity_current{" in generate_latest(registry)


async def test_the_capacity_report_keeps_the_loop_free(api) -> None:
    monitor = LoopLagMonitor(interval=0.01)
    monitor.start()
    try:
        answers = await asyncio.gather(
            *(api.get("/api/capacity/report") for _ in range(8)),
            api.get("/api/v1/silences", headers=AUTH),
        )
    finally:
        await monitor.stop()
    statuses = [answer.status for answer in answers]
    assert statuses[-1] == 200
    assert set(statuses[:-1]) <= {200, 429} and 429 in statuses  # 1 running + 4 waiting
    assert monitor.max_seen < 0.1, monitor.max_seen


@pytest.mark.parametrize(
    "query, expected",
    [
        (
            "start=2026-11-01T00:00:00Z&end=2026-11-02T00:00:00Z&step=99999999999999999999y",
            "invalid replay range",
        ),
        (
            "start=2026-11-01T00:00:00Z&end=2026-11-02T00:00:00Z&step=" + "9" * 5000 + "s",
            "too long",
        ),
        ("start=2026-11-01T00:00:00Z&end=2026-11-02T00:00:00Z&step=0s", "positive"),
        ("start=2026-11-01T00:00:00Z&end=2026-11-02T00:00:00Z&step=100ms", "step must be between"),
        ("start=0001-01-01T00:00:00%2B14:00&end=2026-11-02T00:00:00Z", "outside years"),
        ("start=2026-11-01T00:00:00Z&end=9999-12-31T23:59:59-14:00", "outside years"),
        ("start=2026-11-01&end=2026-10-01", "end must follow start"),
        ("end=2026-10-01", "missing query parameter 'start'"),
    ],
)
async def test_replay_ranges_get_400_with_the_reason(api, query: str, expected: str) -> None:
    response = await api.get(f"/api/v1/alerts/replay?{query}", headers=AUTH)
    assert response.status == 400
    assert expected in (await response.json())["error"]


@pytest.mark.parametrize(
    "at", ["0001-01-01T00:00:00%2B14:00", "9999-12-31T23:59:59-14:00", "99999-01-01", "9" * 5000]
)
async def test_slo_results_at_out_of_range_times_get_400(api, at: str) -> None:
    response = await api.get(f"/api/v1/slos?at={at}")
    assert response.status == 400
    assert "'at'" in (await response.json())["error"]


async def test_aiohttp_errors_keep_their_real_reason(api) -> None:
    response = await api.post("/api/v1/silences", headers=AUTH, data=b"x" * (17 * 1024 * 1024))
    assert response.status == 413
    assert "1048576" in (await response.json())["error"]
    response = await api.put("/api/v1/silences", headers=AUTH)
    assert response.status == 405
