"""The report service, the Prometheus collector and GET /api/capacity/report."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from forecasting.config import load_capacity_config
from forecasting.http import add_routes
from forecasting.metrics import CapacityCollector
from forecasting.series import DailySeries
from forecasting.service import CapacityService

CONFIG = load_capacity_config()


@pytest.fixture
def history(history_from, linear_series):
    start = linear_series(0, 0, 1).start
    return history_from(
        {
            "database_size": linear_series(45, 50, 31, noise=0.05, capacity=100, unit="GB"),
            "storage_locations": DailySeries(start, np.full(31, 920.0), "", 1000.0),
            "event_store_size": linear_series(4.55e6, 5e6, 31, noise=1000.0, unit="events"),
            "new_queue": linear_series(1, 2, 5),
        }
    )


@pytest.fixture
def service(history, now) -> CapacityService:
    clock = {"now": now}
    svc = CapacityService(history, CONFIG, clock=lambda: clock["now"])
    svc.clock_state = clock  # type: ignore[attr-defined]
    return svc


def scrape(service: CapacityService) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry()
    registry.register(CapacityCollector(service))
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_collector_exposes_current_values_through_the_configured_gauge_names(service) -> None:
    samples = scrape(service)
    assert samples[
        ("capacity_database_size_gb", (("resource", "database_size"),))
    ] == pytest.approx(50, abs=0.3)
    assert samples[
        ("capacity_location_utilization_percent", (("resource", "storage_locations"),))
    ] == pytest.approx(92.0)
    assert samples[("capacity_event_count", (("resource", "event_store_size"),))] == pytest.approx(
        5e6, rel=0.001
    )


def test_collector_exposes_forecasts_and_days_to_threshold(service) -> None:
    samples = scrape(service)
    key = (
        "slaengine_capacity_forecast",
        (("bound", "yhat"), ("horizon_days", "180"), ("resource", "database_size")),
    )
    assert samples[key] == pytest.approx(80, abs=1.5)
    upper = samples[(key[0], (("bound", "upper95"), *key[1][1:]))]
    assert upper > samples[key]
    days = samples[
        (
            "slaengine_capacity_days_to_threshold",
            (("resource", "storage_locations"), ("threshold", "90")),
        )
    ]
    assert days == 0.0  # already above 90 %
    never = samples[
        (
            "slaengine_capacity_days_to_threshold",
            (("resource", "storage_locations"), ("threshold", "100")),
        )
    ]
    assert math.isinf(never)
    assert not any(
        name == "slaengine_capacity_forecast" and ("resource", "new_queue") in labels
        for name, labels in samples
    )  # insufficient data: no forecast series


def test_report_is_cached_until_the_history_changes_and_is_old_enough(service, history) -> None:
    first = service.report()
    assert service.report() is first
    service.clock_state["now"] += timedelta(seconds=10)
    history.observe("database_size", service.clock_state["now"], 51.0)
    assert service.report() is first  # changed, but the report is only 10 s old
    service.clock_state["now"] += timedelta(seconds=60)
    assert service.report() is not first


async def test_http_report_lists_every_resource_with_recommendations(
    aiohttp_client, service
) -> None:
    app = web.Application()
    add_routes(app, service)
    client = await aiohttp_client(app)
    response = await client.get("/api/capacity/report")
    assert response.status == 200
    body = await response.json()
    assert set(body["resources"]) == {
        "database_size",
        "storage_locations",
        "event_store_size",
        "new_queue",
    }
    locations = body["resources"]["storage_locations"]
    assert locations["recommendation"]["action"] == "add_locations"
    assert [a["labels"]["alertname"] for a in locations["alerts"]] == [
        "CapacityUtilizationCritical"
    ]
    assert body["resources"]["new_queue"]["status"] == "insufficient_data"
    assert "forecast" not in locations

    one = await client.get(
        "/api/capacity/report", params={"resource": "database_size", "rows": "true"}
    )
    rows = (await one.json())["resources"]["database_size"]["forecast"]
    assert len(rows) == CONFIG.horizon_days and set(rows[0]) == {
        "ds",
        "yhat",
        "lower80",
        "upper80",
        "lower95",
        "upper95",
        "linear",
    }


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"resource": "nope"}, 404, "unknown resource 'nope'"),
        ({"rows": "maybe"}, 400, "rows must be true or false, not 'maybe'"),
    ],
    ids=["an unknown resource is 404", "a bad rows flag is 400"],
)
async def test_http_errors_have_the_one_error_shape(
    aiohttp_client, service, params, status, message
) -> None:
    app = web.Application()
    add_routes(app, service)
    client = await aiohttp_client(app)
    response = await client.get("/api/capacity/report", params=params)
    assert response.status == status
    assert await response.json() == {"error": message}
