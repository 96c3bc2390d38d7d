"""The report's data equals the batch ``compute`` numbers and the raw events behind them.

One synthetic file (29 Sep - 31 Oct 2026, UTC, seed 5) goes through slaengine.batch once;
the report's figures are checked against what ``slaengine compute --at 2026-11-01T00:00:00Z``
computes (the instant a finished month is evaluated at) and, where it says something different
from the engine's own code, against counts taken straight from the file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from slaengine.batch import BatchResult, run_batch
from slaengine.config import SlaConfig, load_sla_config
from slaengine.errors import ConfigError
from slaengine.events import OrderEvent, RequestEvent, ResourceEvent
from slaengine.pagerduty.incidents import IncidentTimeline
from slaengine.report.collect import (
    build_month_report,
    incident_rows,
    month_report_from_engine,
)
from slaengine.report.collect_capacity import capacity_sections
from slaengine.report.errors import ReportRequestError
from slaengine.report.formatting import format_headline, format_lag
from slaengine.report.model import MonthReport, SloMonth
from slaengine.sli.engine import SliEngine
from slaengine.sli.results import evaluate_all
from slaengine.synthetic import plan_incidents

from .conftest import SYNTHETIC_PLAN

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "slaengine" / "data" / "slo.yaml"
OCTOBER = date(2026, 10, 1)
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


@dataclass
class Month:
    config: SlaConfig
    batch: BatchResult
    report: MonthReport
    compute: dict[tuple[str, str], dict[str, Any]]  # (slo, window) -> compute row
    raw: list[dict[str, Any]]

    def slo(self, name: str) -> SloMonth:
        return next(slo for slo in self.report.slos if slo.name == name)

    def requests(self, service: str) -> list[dict[str, Any]]:
        return [e for e in self.raw if e.get("service") == service]


@pytest.fixture(scope="module")
def month(synthetic_events: Path) -> Month:
    path = synthetic_events
    config = load_sla_config(CONFIG)
    batch = run_batch(path, config, NOW_MS)
    report = month_report_from_engine(batch.engine, config, OCTOBER, NOW_MS)
    # what ``slaengine compute --at 2026-11-01T00:00:00Z --format json`` prints (the real
    # command is compared with the PDF in test_report_cli.py)
    rows = {
        (row.name, row.window): row.to_json()
        for row in evaluate_all(batch.engine, ms("2026-11-01T00:00:00Z"))
    }
    raw = [json.loads(line) for line in path.read_text().splitlines()]
    return Month(config, batch, report, rows, raw)


EVENT_SLOS = ["api-availability", "api-latency", "catalog-availability", "order-fulfillment"]
ALL_DATA_SLOS = [*EVENT_SLOS, "api-uptime"]


@pytest.mark.parametrize("name", ALL_DATA_SLOS, ids=lambda n: f"{n} shows the compute numbers")
def test_month_figures_are_the_compute_numbers_for_the_month(month: Month, name: str) -> None:
    row = month.compute[(name, "month:2026-10")]
    slo = month.slo(name)
    assert row["total"] > 0
    assert slo.attained == row["value"]
    assert slo.status == row["status"]
    assert slo.budget_remaining == row["error_budget_remaining"]
    assert slo.budget_consumed == row["burn_rate"]
    assert slo.target == row["target"]
    if slo.sli == "latency":
        assert (slo.p50_ms, slo.p95_ms, slo.p99_ms) == (row["p50_ms"], row["p95_ms"], row["p99_ms"])
        assert slo.latency_threshold_ms == 500


@pytest.mark.parametrize("name", ALL_DATA_SLOS, ids=lambda n: f"{n} compares with September")
def test_previous_month_and_trend_are_the_compute_numbers(month: Month, name: str) -> None:
    september = month.compute[(name, "month:2026-09")]["value"]
    assert month.slo(name).previous_attained == september
    trend = {p.month: p.attained for p in month.report.trend if p.slo_name == name}
    assert trend == {date(2026, 9, 1): september, OCTOBER: month.slo(name).attained}


@pytest.mark.parametrize("name", ALL_DATA_SLOS, ids=lambda n: f"{n} days add up to the month")
def test_daily_points_sum_to_the_month_totals(month: Month, name: str) -> None:
    row = month.compute[(name, "month:2026-10")]
    daily = month.slo(name).daily
    assert [p.day for p in daily] == [OCTOBER + timedelta(days=i) for i in range(31)]
    assert sum(p.good for p in daily) == row["good"]
    assert sum(p.total for p in daily) == row["total"]
    for point in daily:
        assert point.value_percent == pytest.approx(100 * point.good / point.total)


def test_availability_days_match_the_raw_requests(month: Month) -> None:
    by_day: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for event in month.requests("orders-api"):
        day = datetime.fromisoformat(event["ts"]).date()
        by_day[day][0] += event["status"] < 500 and event["status"] != 429
        by_day[day][1] += 1
    for point in month.slo("api-availability").daily:
        assert [point.good, point.total] == by_day[point.day]


def test_latency_percentiles_are_within_ddsketch_accuracy_of_the_raw_latencies(
    month: Month,
) -> None:
    latencies: dict[date, list[float]] = defaultdict(list)
    for event in month.requests("orders-api"):
        day = datetime.fromisoformat(event["ts"]).date()
        latencies[day].append(event["latency_ms"])
    slo = month.slo("api-latency")
    for point in slo.daily:
        sample = np.array(latencies[point.day])
        for q, value in ((50, point.p50_ms), (95, point.p95_ms), (99, point.p99_ms)):
            exact = float(np.percentile(sample, q, method="lower"))
            assert value == pytest.approx(exact, rel=0.0101), (point.day, q)
    october = np.concatenate([latencies[p.day] for p in slo.daily])
    assert slo.p95_ms == pytest.approx(
        float(np.percentile(october, 95, method="lower")), rel=0.0101
    )


def test_the_worst_availability_hour_is_a_planned_outage(month: Month) -> None:
    windows = month.slo("api-availability").worst_windows
    assert 1 <= len(windows) <= 3
    assert [w.value_percent for w in windows] == sorted(w.value_percent for w in windows)
    outages = [
        i
        for i in plan_incidents(SYNTHETIC_PLAN)
        if i.service == "orders-api" and i.error_ratio == 1.0
    ]
    worst = windows[0]
    start_ms = int(worst.start.timestamp() * 1000)
    assert worst.end - worst.start == timedelta(hours=1)
    assert any(start_ms - i.minutes * 60_000 < i.start_ms < start_ms + HOUR_MS for i in outages)
    in_hour = [
        e for e in month.requests("orders-api") if start_ms <= ms(e["ts"]) < start_ms + HOUR_MS
    ]
    good = sum(e["status"] < 500 and e["status"] != 429 for e in in_hour)
    assert worst.value_percent == pytest.approx(100 * good / len(in_hour))


def test_fulfillment_days_match_the_orders_in_the_file(month: Month) -> None:
    orders: dict[str, dict[str, int]] = defaultdict(dict)
    for event in month.raw:
        if "order_id" in event:
            orders[event["order_id"]][event["event"]] = ms(event["ts"])
    expected: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for order in orders.values():
        created = order["created"]
        if "cancelled" in order and order["cancelled"] <= created + DAY_MS:
            continue  # cancelled before the deadline: excluded
        day = datetime.fromtimestamp(created / 1000, UTC).date()
        expected[day][0] += "shipped" in order and order["shipped"] - created <= DAY_MS
        expected[day][1] += 1
    by_day = month.report.fulfillment_by_day
    assert by_day is not None
    slo_daily = month.slo("order-fulfillment").daily
    assert [(d.day, d.good, d.total) for d in by_day] == [
        (p.day, p.good, p.total) for p in slo_daily
    ]
    # the last two days hold orders still open when the file ends
    for ratio in by_day[:29]:
        assert [ratio.good, ratio.total] == expected[ratio.day], ratio.day
    assert month.slo("order-fulfillment").worst_windows[0].value_percent == min(
        d.percent for d in by_day if d.percent is not None
    )


def test_projection_lag_comes_from_the_files_samples_with_its_p99_in_the_headline(
    month: Month,
) -> None:
    lags = sorted(
        lag_ms_of(e)
        for e in month.raw
        if "projection" in e
        and ms("2026-10-01T00:00:00Z") <= ms(e["ts"]) < ms("2026-11-01T00:00:00Z")
    )
    good = sum(1 for lag in lags if lag <= 1000)
    lag = month.slo("projection-lag")
    assert lag.attained == pytest.approx(100 * good / len(lags))
    assert lag.status == ("met" if good >= 0.99 * len(lags) else "breached")
    exact_p99 = lags[int(0.99 * (len(lags) - 1))]
    assert lag.p99_ms == pytest.approx(exact_p99, rel=0.01)
    assert (
        format_headline(lag)
        == f"Projection lag: {format_lag(lag.p99_ms / 1000)} (SLA {lag.status})"
    )
    summary = month.report.lag_summary
    assert summary is not None and summary.threshold_seconds == 1
    [row] = summary.projections
    assert row.projection == "all projections" and row.percent_within_threshold == lag.attained
    assert row.max_seconds == pytest.approx(lags[-1] / 1000, rel=0.01)
    assert "read model trailed its event store" in month.report.definitions["projection-lag"]


def lag_ms_of(event: dict[str, Any]) -> float:
    if "lag_ms" in event:
        return float(event["lag_ms"])
    return float(max(0, ms(event["ts"]) - ms(event["source_ts"])))


@pytest.mark.parametrize(
    ("name", "phrases"),
    [
        pytest.param(
            "api-availability",
            ["100-499", "not 429", "arrives late still counts"],
            id="availability names its statuses and how late requests count",
        ),
        pytest.param(
            "api-latency",
            ["500 ms", "DDSketch", "1% relative accuracy"],
            id="latency names its threshold and sketch accuracy",
        ),
        pytest.param(
            "api-uptime",
            ["One-minute slices", "95%", "not counted"],
            id="uptime names its slices and the no-traffic rule",
        ),
        pytest.param(
            "order-fulfillment",
            ["t + 24h", "cancelled before", "grace"],
            id="fulfillment names its deadline and exclusions",
        ),
        pytest.param(
            "catalog-availability",
            ["calendar ones in UTC", "exact to the minute"],
            id="every definition names the calendar and the rolling windows",
        ),
    ],
)
def test_definitions_say_how_each_number_is_computed(
    month: Month, name: str, phrases: list[str]
) -> None:
    text = month.report.definitions[name]
    for phrase in phrases:
        assert phrase in text


def test_a_month_without_data_has_no_data_everywhere(month: Month) -> None:
    report = month_report_from_engine(month.batch.engine, month.config, date(2026, 7, 1), NOW_MS)
    assert report.overall_status == "no-data"
    for slo in report.slos:
        assert (slo.status, slo.attained, slo.budget_remaining) == ("no-data", None, None)
        assert format_headline(slo).endswith(": no data")
        assert slo.worst_windows == ()
        assert all(p.value_percent is None for p in slo.daily)
    assert report.fulfillment_by_day is not None
    assert sum(d.total for d in report.fulfillment_by_day) == 0


def test_a_month_not_started_is_refused(month: Month) -> None:
    with pytest.raises(ReportRequestError, match="2026-12 has not started yet in UTC"):
        month_report_from_engine(month.batch.engine, month.config, date(2026, 12, 1), NOW_MS)


@pytest.mark.parametrize(
    ("created", "now", "counted"),
    [
        pytest.param(
            "2026-10-10T12:00:00Z",
            "2026-10-20T12:00:00Z",
            (0, 1),
            id="the current month counts an order overdue now as missed",
        ),
        pytest.param(
            "2026-10-10T12:00:00Z",
            "2026-10-10T18:00:00Z",
            (0, 0),
            id="an order before its deadline is not counted yet",
        ),
        pytest.param(
            "2026-10-31T12:00:00Z",
            "2026-11-22T12:00:00Z",
            (0, 0),
            id="a finished month is evaluated at its end, not later",
        ),
    ],
)
def test_a_month_is_evaluated_at_its_end_or_now_if_earlier(
    created: str, now: str, counted: tuple[int, int]
) -> None:
    config = SlaConfig.model_validate(
        {"slos": [{"name": "fulfillment", "sli": "fulfillment", "within": "24h", "target": 95}]}
    )
    engine = SliEngine(config)
    engine.apply(OrderEvent(ms(created), "o-1", "created"), "orders:0", 1)
    report = month_report_from_engine(engine, config, OCTOBER, ms(now))
    (slo,) = report.slos
    assert (sum(p.good for p in slo.daily), sum(p.total for p in slo.daily)) == counted
    assert report.generated_at == datetime.fromisoformat(now)


def test_days_follow_the_slo_timezone_across_the_clock_change() -> None:
    config = SlaConfig.model_validate(
        {
            "timezone": "Europe/Berlin",
            "slos": [{"name": "shop-uptime", "service": "shop", "sli": "uptime", "target": 99.9}],
        }
    )
    engine = SliEngine(config)
    start = ms("2026-10-24T22:00:00Z")  # 25 Oct 00:00 CEST; the day ends 26 Oct 00:00 CET
    bad_minute = ms("2026-10-25T01:30:00Z")  # 02:30 CET, the repeated hour
    for offset, minute_ms in enumerate(range(start, start + 25 * HOUR_MS, 60_000)):
        status = 503 if minute_ms == bad_minute else 200
        engine.apply(RequestEvent(minute_ms, "shop", "GET /", status, 10.0), "requests:0", offset)
    report = month_report_from_engine(engine, config, OCTOBER, NOW_MS)
    (uptime,) = report.slos
    days = {p.day: (p.good, p.total) for p in uptime.daily}
    assert days[date(2026, 10, 25)] == (1499, 1500)
    assert days[date(2026, 10, 24)] == days[date(2026, 10, 26)] == (0, 0)
    (worst,) = uptime.worst_windows
    assert worst.start == datetime(2026, 10, 25, 1, tzinfo=UTC)
    assert worst.value_percent == pytest.approx(100 * 59 / 60)
    assert report.timezone == "Europe/Berlin"


def test_requests_later_than_the_grace_period_still_count_for_their_day_and_hour() -> None:
    config = SlaConfig.model_validate(
        {
            "slos": [
                {
                    "name": "shop-availability",
                    "service": "shop",
                    "sli": "availability",
                    "target": 99,
                }
            ]
        }
    )
    engine = SliEngine(config)
    for offset, (at, status) in enumerate([("12:00", 200), ("12:30", 200), ("12:05", 500)]):
        event = RequestEvent(ms(f"2026-10-07T{at}:00Z"), "shop", "GET /", status, 10.0)
        engine.apply(event, "requests:0", offset)
    assert (
        engine.series[("shop-availability", "requests:0")][
            ms("2026-10-07T12:00:00Z") // HOUR_MS
        ].total
        == 3
    )
    (slo,) = month_report_from_engine(engine, config, OCTOBER, NOW_MS).slos
    (day,) = [p for p in slo.daily if p.total]
    assert (day.day, day.good, day.total) == (date(2026, 10, 7), 2, 3)
    assert slo.attained == pytest.approx(200 / 3)
    (worst,) = slo.worst_windows
    assert (worst.start, worst.value_percent) == (
        datetime(2026, 10, 7, 12, tzinfo=UTC),
        pytest.approx(200 / 3),
    )


def resource(day: datetime, name: str, value: float, capacity: float | None) -> ResourceEvent:
    return ResourceEvent(int(day.timestamp() * 1000), name, value, "GB", capacity)


def test_capacity_uses_history_up_to_the_month_end_only(month: Month) -> None:
    kept = [
        e for e in month.batch.resources if e.resource in ("database_size", "storage_locations")
    ]
    after = resource(datetime(2026, 11, 3, tzinfo=UTC), "database_size", 99.0, 100.0)
    no_capacity = resource(datetime(2026, 10, 3, tzinfo=UTC), "orphan", 1.0, None)
    month_end_ms = ms("2026-11-01T00:00:00Z")
    sections = capacity_sections([*kept, after, no_capacity], month.config, month_end_ms)
    assert sections is not None
    by_name = {s.resource: s for s in sections}
    assert sorted(by_name) == ["database_size", "storage_locations"]  # orphan has no capacity
    database = by_name["database_size"]
    daily_max: dict[date, float] = defaultdict(float)
    for event in kept:
        if event.resource == "database_size":
            day = datetime.fromtimestamp(event.ts_ms / 1000, UTC).date()
            daily_max[day] = max(daily_max[day], event.value)
    assert database.history == tuple(sorted(daily_max.items()))
    assert database.history[-1][0] == date(2026, 10, 31)
    for section in sections:
        assert len(section.forecast) == 180
        assert section.forecast[0].ds == date(2026, 11, 1)
        assert set(section.days_to) == {80, 90, 100}
        for row in section.forecast:
            assert row.lower95 <= row.lower80 <= row.yhat <= row.upper80 <= row.upper95
    locations = by_name["storage_locations"]
    assert locations.history[-1][1] > 0.8 * locations.capacity
    assert locations.days_to[80] == 0.0
    assert locations.recommendation.startswith("add ")


def test_capacity_is_absent_without_resource_events(month: Month) -> None:
    late_only = [resource(datetime(2026, 11, 3, tzinfo=UTC), "database_size", 50.0, 100.0)]
    assert capacity_sections([], month.config, ms("2026-11-01T00:00:00Z")) is None
    assert capacity_sections(late_only, month.config, ms("2026-11-01T00:00:00Z")) is None


def test_incident_rows_come_from_pagerduty_timelines() -> None:
    triggered = datetime(2026, 10, 7, 14, 3, tzinfo=UTC)

    def timeline(
        incident_id: str, start: datetime | None, ack: datetime | None, end: datetime | None
    ) -> IncidentTimeline:
        return IncidentTimeline(
            incident_id, "group", f"Shop down {incident_id}", "shop", "high", start, ack, end, 0
        )

    rows = incident_rows(
        [
            timeline(
                "P1", triggered, triggered + timedelta(minutes=2), triggered + timedelta(hours=1)
            ),
            timeline("P2", triggered, None, None),
            timeline("P3", None, None, triggered),
        ]
    )
    assert [(r.title, r.severity, r.start) for r in rows] == [
        ("Shop down P1", "high", triggered),
        ("Shop down P2", "high", triggered),
    ]
    assert rows[0].time_to_acknowledge == timedelta(minutes=2)
    assert rows[0].time_to_resolve == rows[0].duration == timedelta(hours=1)
    assert (rows[1].end, rows[1].time_to_resolve) == (None, None)


@pytest.fixture
def empty_events(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_text("")
    return path


def config_with(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "slo.yaml"
    path.write_text(CONFIG.read_text() + extra)
    return path


def test_the_report_section_names_the_organisation(tmp_path: Path, empty_events: Path) -> None:
    path = config_with(
        tmp_path,
        "report:\n  organisation: Acme Retail\n  service_name: Shop platform\n  timezone: UTC\n",
    )
    report = build_month_report(empty_events, path, OCTOBER, now=NOW)
    assert (report.organisation, report.service_name) == ("Acme Retail", "Shop platform")
    assert report.capacity is None and report.incidents is None
    assert report.overall_status == "no-data"


@pytest.mark.parametrize(
    ("extra", "message", "added_line"),
    [
        pytest.param(
            "report:\n  organisation: A\n  service_name: B\n  timezone: Europe/Berlin\n",
            r"slo\.yaml:\d+: report\.timezone: 'Europe/Berlin' differs from timezone "
            r"'UTC'",
            4,
            id="a report timezone other than the SLO timezone is refused",
        ),
        pytest.param(
            "forecasting:\n  horizon_days: 3\n",
            r"slo\.yaml:\d+: forecasting\.horizon_days: Input should be greater",
            2,
            id="a bad forecasting section names file, line and field",
        ),
    ],
)
def test_config_mistakes_name_their_place(
    tmp_path: Path, empty_events: Path, extra: str, message: str, added_line: int
) -> None:
    path = config_with(tmp_path, extra)
    with pytest.raises(ConfigError, match=message) as raised:
        build_month_report(empty_events, path, OCTOBER, now=NOW)
    assert raised.value.line == CONFIG.read_text().count("\n") + added_line


def test_a_month_started_in_kiritimati_but_not_in_the_slo_timezone_is_refused(
    empty_events: Path,
) -> None:
    # 30 Nov 12:00 UTC is already 1 Dec in UTC+14, which the CLI's own check accepts
    with pytest.raises(ReportRequestError, match="2026-12 has not started yet in UTC"):
        build_month_report(
            empty_events, CONFIG, date(2026, 12, 1), now=datetime(2026, 11, 30, 12, tzinfo=UTC)
        )


def test_the_collector_imports_no_kafka_web_or_pdf_code() -> None:
    code = (
        "import sys, slaengine.report.collect; "
        "print(sorted(m for m in ('faust', 'aiokafka', 'aiohttp', 'reportlab') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert out.stdout.strip() == "[]"


def test_the_cli_report_forecasts_in_its_second_process_what_the_batch_engine_would(
    month: Month, synthetic_events: Path
) -> None:
    # build_month_report computes capacity in a forked process from the file's resource events;
    # it must be the report of the in-process path: run_batch's resources -> capacity_sections
    month_end_ms = ms("2026-11-01T00:00:00Z")
    in_process = month_report_from_engine(
        month.batch.engine,
        month.config,
        OCTOBER,
        NOW_MS,
        capacity=capacity_sections(month.batch.resources, month.config, month_end_ms),
    )
    built = build_month_report(synthetic_events, CONFIG, OCTOBER, now=NOW)
    assert built.capacity and len(built.capacity) >= 2
    assert built == replace(in_process, generated_at=built.generated_at)
