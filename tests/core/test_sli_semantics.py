"""Issue 11: what a stakeholder signs is what happened — one test per audited defect.

Most run the real ``slaengine compute`` over a small hand-computed event log.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from slaengine.config import SlaConfig
from slaengine.evaluator.rules import AlertEvaluator
from slaengine.events import OrderEvent, RequestEvent
from slaengine.metrics import SliCollector
from slaengine.rules.fromconfig import period_of, slo_definition
from slaengine.rules.windows import WindowsCatalog
from slaengine.sli.engine import SliEngine
from slaengine.sli.results import evaluate_all, evaluate_window
from slaengine.sli.source import EngineSliSource
from slaengine.slo import ErrorBudget

REPO = Path(__file__).resolve().parents[2]
MINUTE = timedelta(minutes=1)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def req(
    moment: datetime, status: int = 200, latency: float = 50.0, service: str = "api"
) -> dict[str, Any]:
    return {
        "ts": iso(moment),
        "service": service,
        "endpoint": "GET /",
        "status": status,
        "latency_ms": latency,
    }


def every(
    start: datetime, end: datetime, step: timedelta = timedelta(seconds=20), **fields: Any
) -> list[dict]:
    out, moment = [], start
    while moment < end:
        out.append(req(moment, **fields))
        moment += step
    return out


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slaengine.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )


def write_config(tmp_path: Path, slos: str, timezone: str = "UTC") -> Path:
    path = tmp_path / "slo.yaml"
    path.write_text(f"timezone: {timezone}\nslos:\n{slos}")
    return path


def compute(
    tmp_path: Path,
    slos: str,
    events: list[dict],
    when: datetime | None = None,
    timezone: str = "UTC",
) -> dict[str, Any]:
    config = write_config(tmp_path, slos, timezone)
    log = tmp_path / "events.ndjson"
    log.write_text("".join(json.dumps(e) + "\n" for e in events))
    args = ["compute", "--events", str(log), "--config", str(config)]
    if when is not None:
        args += ["--at", iso(when)]
    result = cli(*args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def row(document: dict[str, Any], name: str, window: str) -> dict[str, Any]:
    (found,) = [r for r in document["slos"] if r["name"] == name and r["window"] == window]
    return found


def counts(document: dict[str, Any], name: str, window: str) -> tuple[int, int]:
    found = row(document, name, window)
    return found["good"], found["total"]


UPTIME = """  - name: up
    service: api
    sli: uptime
    target: 99.9
    no_traffic: {no_traffic}
"""


# ---- 1. a silent service is down ---------------------------------------------------------------


def test_1_a_service_that_stops_all_traffic_is_down_in_every_window(tmp_path: Path) -> None:
    events = every(at("2026-10-05T10:00:00"), at("2026-10-05T10:30:00"))
    document = compute(tmp_path, UPTIME.format(no_traffic="bad"), events, at("2026-10-05T11:00:00"))
    assert counts(document, "up", "5m") == (0, 5)
    assert (
        row(document, "up", "5m")["status"] == "breached"
        and row(document, "up", "5m")["value"] == 0
    )
    assert counts(document, "up", "30m") == (0, 30)
    assert counts(document, "up", "1h") == (30, 60)
    # before the first request ever seen nothing counts: the 1d window starts at 10:00
    assert counts(document, "up", "1d") == (30, 60)


def test_1_the_in_service_page_fires_for_a_silent_service() -> None:
    config = SlaConfig.model_validate(
        {
            "slos": [
                {
                    "name": "up",
                    "service": "api",
                    "sli": "uptime",
                    "target": 99.9,
                    "no_traffic": "bad",
                }
            ]
        }
    )
    engine = SliEngine(config)
    start = at("2026-10-05T00:00:00")
    for offset in range(6 * 60 * 3):  # six healthy hours, then nothing at all
        engine.apply(
            RequestEvent(ms(start) + offset * 20_000, "api", "GET /", 200, 5.0),
            "requests:0",
            offset,
        )
    spec = config.slo("up")
    catalog = WindowsCatalog.builtin()
    evaluator = AlertEvaluator(
        [slo_definition(spec, catalog.for_period(period_of(spec.window)))], catalog=catalog
    )
    source = EngineSliSource(engine, CollectorRegistry())
    silence = start + timedelta(hours=6)
    assert not [a for a in evaluator.evaluate(source, silence) if a.status == "firing"]
    firing = [a for a in evaluator.evaluate(source, silence + 10 * MINUTE) if a.status == "firing"]
    assert ("page", "up") in [(a.labels["sloth_severity"], a.labels["slo"]) for a in firing]
    # an hour and a half later no window but the long ones holds a request: still down, still paging
    evaluator.evaluate(source, silence + 90 * MINUTE)
    assert "page" in [
        a.labels["sloth_severity"] for a in evaluator.active_alerts() if a.status == "firing"
    ]


# ---- 2. quiet minutes count from the first request, not the hour start ------------------------


@pytest.mark.parametrize(("no_traffic", "expected"), [("bad", (1, 30)), ("good", (30, 30))])
def test_2_quiet_minutes_count_from_the_first_request(
    tmp_path: Path, no_traffic: str, expected: tuple[int, int]
) -> None:
    document = compute(
        tmp_path,
        UPTIME.format(no_traffic=no_traffic),
        [req(at("2026-10-05T10:30:10"))],
        at("2026-10-05T11:00:00"),
    )
    assert counts(document, "up", "1h") == expected


# ---- 3. the exported counters agree with compute ----------------------------------------------


def test_3_exported_uptime_counters_include_the_quiet_minutes() -> None:
    config = SlaConfig.model_validate(
        {
            "slos": [
                {
                    "name": "up",
                    "service": "api",
                    "sli": "uptime",
                    "target": 99.9,
                    "no_traffic": "bad",
                }
            ]
        }
    )
    engine = SliEngine(config)
    start = at("2026-10-05T10:00:00")
    for offset in range(10):  # one request a minute for 10 minutes, then silence
        engine.apply(
            RequestEvent(ms(start) + offset * 60_000, "api", "GET /", 200, 5.0),
            "requests:0",
            offset,
        )
    now = start + timedelta(minutes=40, seconds=30)
    collector = SliCollector(engine, clock=lambda: now.timestamp())
    samples = {
        s.name: s.value
        for family in collector.collect()
        for s in family.samples
        if s.name in ("slaengine_slo_events_total", "slaengine_slo_good_events_total")
    }
    window = evaluate_window(engine, config.slo("up"), "1h", ms(now))
    assert (window.good, window.total) == (10, 40)
    assert samples == {"slaengine_slo_events_total": 40, "slaengine_slo_good_events_total": 10}


# ---- 4. late events count in every window whose buckets exist ---------------------------------

AVAILABILITY = """  - name: avail
    service: api
    sli: availability
    target: 99
"""


def test_4_a_late_event_counts_in_the_30d_window_and_the_month_alike(tmp_path: Path) -> None:
    events = every(at("2026-10-05T10:00:00"), at("2026-10-05T14:00:00"), timedelta(minutes=1))
    events.append(req(at("2026-10-05T10:30:30"), status=503))  # 3.5 h late, grace is 10 min
    document = compute(tmp_path, AVAILABILITY, events, at("2026-10-06T00:00:00"))
    assert (
        counts(document, "avail", "30d")
        == counts(document, "avail", "calendar-month")
        == (240, 241)
    )
    assert counts(document, "avail", "1d") == (240, 241)
    assert document["events"]["late_dropped"] == 0


def test_4_only_events_older_than_the_retained_buckets_are_dropped(tmp_path: Path) -> None:
    events = [
        req(at("2026-10-05T10:00:00")),
        req(at("2025-07-01T10:00:00"), status=503),
    ]  # > 430 d back
    document = compute(tmp_path, AVAILABILITY, events, at("2026-10-05T10:01:00"))
    assert document["events"]["late_dropped"] == 1
    assert counts(document, "avail", "30d") == (1, 1)


# ---- 5. percentiles cover exactly the window ---------------------------------------------------

LATENCY = """  - name: lat
    service: api
    sli: latency
    threshold_ms: 500
    target: 95
"""


def test_5_a_five_minute_p95_is_the_p95_of_those_five_minutes(tmp_path: Path) -> None:
    events = every(at("2026-10-05T10:00:00"), at("2026-10-05T10:55:00"), latency=50.0)
    events += every(at("2026-10-05T10:55:00"), at("2026-10-05T11:00:00"), latency=900.0)
    document = compute(tmp_path, LATENCY, events, at("2026-10-05T11:00:00"))
    five = row(document, "lat", "5m")
    assert (five["good"], five["total"]) == (0, 15)
    assert five["p50_ms"] == pytest.approx(900, rel=0.01) and five["p95_ms"] == pytest.approx(
        900, rel=0.01
    )
    assert row(document, "lat", "1h")["p50_ms"] == pytest.approx(50, rel=0.01)


def test_5_a_window_without_requests_has_no_percentiles(tmp_path: Path) -> None:
    events = every(at("2026-10-05T10:00:00"), at("2026-10-05T10:20:00"), latency=80.0)
    document = compute(tmp_path, LATENCY, events, at("2026-10-05T10:40:00"))
    five = row(document, "lat", "5m")
    assert five["total"] == 0 and five["status"] == "no-data"
    assert (five["p50_ms"], five["p95_ms"], five["p99_ms"]) == (None, None, None)
    assert row(document, "lat", "1h")["p95_ms"] == pytest.approx(80, rel=0.01)


# ---- 6. out-of-order order events --------------------------------------------------------------

FULFILLMENT = """  - name: ship
    sli: fulfillment
    within: 24h
    target: 95
"""


def order(moment: datetime, order_id: str, kind: str) -> dict[str, Any]:
    return {"ts": iso(moment), "order_id": order_id, "event": kind}


def test_6_a_cancellation_read_before_its_creation_still_excludes_the_order(tmp_path: Path) -> None:
    created = at("2026-10-05T10:00:00")
    in_order = [
        order(created, "a", "created"),
        order(created + timedelta(hours=2), "a", "cancelled"),
        order(created, "b", "created"),
        order(created + timedelta(hours=3), "b", "shipped"),
    ]
    reversed_a = [in_order[1], in_order[0], *in_order[2:]]
    when = at("2026-10-08T00:00:00")
    documents = [compute(tmp_path, FULFILLMENT, events, when) for events in (in_order, reversed_a)]
    assert counts(documents[0], "ship", "calendar-month") == (1, 1)
    assert counts(documents[1], "ship", "calendar-month") == (1, 1)


def test_6_outcomes_follow_event_time_whatever_the_arrival_order() -> None:
    config = SlaConfig.model_validate(
        {"slos": [{"name": "ship", "sli": "fulfillment", "within": "24h", "target": 95}]}
    )
    created = ms(at("2026-10-05T10:00:00"))
    events = [
        OrderEvent(created, "o", "created"),
        OrderEvent(created + 3_600_000, "o", "cancelled"),
        OrderEvent(created + 7_200_000, "o", "shipped"),
    ]
    results = set()
    for arrival in ([0, 1, 2], [0, 2, 1], [2, 1, 0], [1, 2, 0], [2, 0, 1], [1, 0, 2]):
        engine = SliEngine(config)
        for offset, index in enumerate(arrival):
            engine.apply(events[index], "orders:0", offset)
        result = evaluate_window(
            engine, config.slo("ship"), "calendar-month", created + 3 * 86_400_000
        )
        results.add((result.good, result.total))
    assert results == {(0, 0)}  # cancelled (at 11:00) before it shipped (at 12:00): excluded


def test_6_a_shipment_read_before_its_creation_does_not_age_other_orders_out() -> None:
    # order "late" shipped 5 days after its creation, its shipment read first; order "b" is open
    # and ships within 24 h: it must stay good, as it is when "late"'s events arrive in order
    config = SlaConfig.model_validate(
        {"slos": [{"name": "ship", "sli": "fulfillment", "within": "24h", "target": 95}]}
    )
    t0 = ms(at("2026-10-05T10:00:00"))
    b_created, late_shipped = (
        OrderEvent(t0, "b", "created"),
        OrderEvent(t0 + 5 * 86_400_000, "late", "shipped"),
    )
    late_created, b_shipped = (
        OrderEvent(t0 + 60_000, "late", "created"),
        OrderEvent(t0 + 7_200_000, "b", "shipped"),
    )
    results = set()
    for arrival in (
        [b_created, late_created, b_shipped, late_shipped],
        [b_created, late_shipped, late_created, b_shipped],
    ):
        engine = SliEngine(config)
        for offset, event in enumerate(arrival):
            engine.apply(event, "orders:0", offset)
        result = evaluate_window(engine, config.slo("ship"), "calendar-month", t0 + 6 * 86_400_000)
        results.add((result.good, result.total))
    assert results == {(1, 2)}  # b good, late missed — whatever the arrival order


# ---- 7. every configured window answers after compaction ---------------------------------------


def test_7_windows_with_edges_inside_compacted_hours_answer_exactly() -> None:
    config = SlaConfig.model_validate(
        {
            "timezone": "Asia/Kolkata",
            "slos": [
                {
                    "name": "avail",
                    "service": "api",
                    "sli": "availability",
                    "target": 99,
                    "window": "60d",
                },
                {"name": "up", "service": "api", "sli": "uptime", "target": 99},
            ],
        }
    )
    engine = SliEngine(config)
    start = at("2026-08-01T00:00:00")
    for offset in range(
        75 * 24 * 6
    ):  # one request every 10 minutes for 75 days; the 7th of each hour fails
        moment = ms(start) + offset * 600_000
        engine.apply(
            RequestEvent(moment, "api", "GET /", 503 if offset % 6 == 3 else 200, 5.0),
            "requests:0",
            offset,
        )
    engine.maintain()
    now = ms(start) + 75 * 86_400_000 - 15 * 60_000  # not on the hour
    rows = {(r.name, r.window): r for r in evaluate_all(engine, now)}
    sixty = rows[("avail", "60d")]
    assert (sixty.good, sixty.total) == (60 * 24 * 5, 60 * 24 * 6)
    september = rows[
        ("avail", "month:2026-09")
    ]  # starts and ends at 18:30 UTC, inside compacted hours
    assert (september.good, september.total) == (30 * 24 * 5, 30 * 24 * 6)
    assert (rows[("up", "month:2026-09")].good, rows[("up", "month:2026-09")].total) == (
        30 * 24 * 5,
        30 * 24 * 6,
    )


# ---- 8. months in the configured zone ----------------------------------------------------------


def test_8_months_follow_local_time_in_half_hour_zones(tmp_path: Path) -> None:
    events = [req(at("2026-01-31T18:45:00")), req(at("2026-01-31T18:15:00"), status=503)]
    document = compute(
        tmp_path, AVAILABILITY, events, at("2026-03-10T00:00:00"), timezone="Asia/Kolkata"
    )
    assert counts(document, "avail", "month:2026-02") == (1, 1)  # 00:15 on 1 February in Kolkata
    assert counts(document, "avail", "month:2026-01") == (0, 1)


def test_8_a_month_ending_on_a_dst_change_closes_at_local_midnight_and_keeps_late_events(
    tmp_path: Path,
) -> None:
    # Europe/London moved to BST at 01:00 on 31 March 2024: April began at 2024-03-31T23:00Z
    events = [
        req(at("2024-03-31T22:30:00")),
        req(at("2024-03-31T23:30:00")),
        req(at("2024-04-03T00:00:00")),
        req(at("2024-03-31T22:50:00"), status=503),
    ]  # late
    document = compute(
        tmp_path, AVAILABILITY, events, at("2024-05-01T00:00:00"), timezone="Europe/London"
    )
    march = row(document, "avail", "month:2024-03")
    assert (march["good"], march["total"]) == (1, 2) and march["end"] == "2024-03-31T23:00:00Z"
    assert counts(document, "avail", "month:2024-04") == (2, 2)


# ---- 9. a closed month is met or breached ------------------------------------------------------


def test_9_a_closed_month_is_not_judged_by_todays_burn_rate(tmp_path: Path) -> None:
    events = every(
        at("2026-09-01T00:00:00"), at("2026-09-01T16:40:00"), timedelta(seconds=6)
    )  # 10,000
    for index in range(0, 80 * 125, 125):  # 80 bad of 10,000: met at 99 %... with 20 % budget left
        events[index]["status"] = 503
    events += every(
        at("2026-10-02T00:00:00"), at("2026-10-02T01:00:00"), timedelta(minutes=1), status=503
    )
    document = compute(
        tmp_path, AVAILABILITY.replace("99", "99.1"), events, at("2026-10-02T01:00:00")
    )
    september = row(document, "avail", "month:2026-09")
    assert september["error_budget_remaining"] == pytest.approx(1 / 9)
    assert september["status"] == "met"
    assert row(document, "avail", "1d")["burn_rate"] > 1


# ---- 10. exact arithmetic ----------------------------------------------------------------------


def test_10_999_of_1000_at_99_9_percent_is_met_with_a_budget_of_exactly_zero() -> None:
    budget = ErrorBudget(
        SlaConfig.model_validate({"slos": [AVAIL_999]}).slos[0].exact_objective, 999, 1000
    )
    assert (
        budget.remaining == 0 and budget.burn_rate == 1 and budget.status(budget.burn_rate) == "met"
    )
    assert (
        ErrorBudget(0.999, 999, 1000).remaining == 0
    )  # a float objective is read as the decimal it is


AVAIL_999 = {"name": "avail", "service": "api", "sli": "availability", "target": 99.9}


def test_10_statuses_are_exact_through_compute(tmp_path: Path) -> None:
    events = every(
        at("2026-10-05T10:00:00"), at("2026-10-05T10:16:40"), timedelta(seconds=1)
    )  # 1000
    events[0]["status"] = 503
    document = compute(
        tmp_path, AVAILABILITY.replace("99", "99.9"), events, at("2026-10-05T10:17:00")
    )
    hour = row(document, "avail", "1h")
    assert (hour["good"], hour["total"]) == (999, 1000)
    assert hour["status"] == "met" and hour["error_budget_remaining"] == 0


def test_10_14_of_25_good_at_a_slice_ratio_of_0_56_is_an_up_minute(tmp_path: Path) -> None:
    events = [
        req(at("2026-10-05T10:00:00") + timedelta(seconds=2 * i), status=503 if i >= 14 else 200)
        for i in range(25)
    ]
    slos = UPTIME.format(no_traffic="ignore") + "    slice_good_ratio: 0.56\n"
    document = compute(tmp_path, slos, events, at("2026-10-05T10:01:00"))
    assert counts(document, "up", "5m") == (1, 1)


# ---- 11. burn-rate windows that make no sense are refused, everywhere --------------------------


@pytest.mark.parametrize(
    ("slo", "message"),
    [
        (
            "    window: 1h\n",
            r":7: slos\[0\]\.window: Value error, an SLO period of 1h is too short",
        ),
        (
            (
                "    alerting:\n      page_quick: {error_budget_percent: 2, short_window: 2h, "
                "long_window: 1h}\n"
            ),
            (
                r":8: slos\[0\]\.alerting\.page_quick: Value error, short_window 2h must be "
                r"shorter than long_window 1h"
            ),
        ),
        (
            (
                "    alerting:\n      page_quick: {error_budget_percent: 1, short_window: 5m, "
                "long_window: 1d}\n"
            ),
            (
                r":7: slos\[0\]\.alerting: Value error, page_quick: 1 % of the budget in 1d is a "
                r"burn factor of 0\.3 < 1"
            ),
        ),
        (
            "    alerting:\n      no_data_aftr: 1d\n",
            r":8: slos\[0\]\.alerting\.no_data_aftr: Extra inputs",
        ),
    ],
    ids=[
        "a 1h period",
        "short window longer than the long one",
        "a factor below 1",
        "a misspelt key",
    ],
)
@pytest.mark.parametrize("command", ["compute", "validate", "worker"])
def test_11_senseless_alert_windows_fail_with_file_line_field(
    tmp_path: Path, slo: str, message: str, command: str
) -> None:
    config = write_config(tmp_path, AVAILABILITY + slo)
    (tmp_path / "e.ndjson").write_text("")
    args = {
        "compute": ["compute", "--events", str(tmp_path / "e.ndjson"), "--config", str(config)],
        "validate": ["validate", str(config)],
        "worker": ["worker", "--config", str(config), "--bootstrap", "127.0.0.1:1"],
    }[command]
    result = cli(*args)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert f"{config}:" in lines[0]
    assert __import__("re").search(message, lines[0]), lines[0]


def test_11_a_7_day_slo_is_accepted_with_factors_of_at_least_1(tmp_path: Path) -> None:
    config = SlaConfig.model_validate({"slos": [dict(AVAIL_999, window="7d")]})
    windows = slo_definition(
        config.slos[0], WindowsCatalog.builtin().for_period(timedelta(days=7))
    ).windows
    catalog_windows = windows or WindowsCatalog.builtin().for_period(timedelta(days=7))
    assert min(w.burn_factor(timedelta(days=7)) for w in catalog_windows.all()) >= 1


# ---- 12. extreme times -------------------------------------------------------------------------


@pytest.mark.parametrize("when", ["0001-01-01", "9999-12-31", "1999-12-31T23:59:59Z", "2199-01-01"])
def test_12_an_at_outside_the_sane_range_is_a_one_line_error(tmp_path: Path, when: str) -> None:
    config = write_config(tmp_path, AVAILABILITY)
    log = tmp_path / "e.ndjson"
    log.write_text(json.dumps(req(at("2026-10-05T10:00:00"))) + "\n")
    result = cli("compute", "--events", str(log), "--config", str(config), "--at", when)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1 and len(lines) == 1 and "outside the range" in lines[0], (
        result.stderr
    )


def test_12_the_earliest_valid_time_evaluates_in_every_zone(tmp_path: Path) -> None:
    document = compute(
        tmp_path,
        AVAILABILITY + UPTIME.format(no_traffic="bad") + LATENCY,
        [req(at("2000-01-01T00:00:00"))],
        at("2000-01-01T00:01:00"),
        timezone="Pacific/Kiritimati",
    )
    assert counts(document, "avail", "30d") == (1, 1)


# ---- 13. window edges --------------------------------------------------------------------------


def test_13_the_30_days_ending_at_midnight_are_exactly_those_30_days(tmp_path: Path) -> None:
    events = [
        req(at("2026-08-31T23:59:30"), status=503),
        req(at("2026-09-01T00:00:10")),
        req(at("2026-09-30T23:59:50")),
        req(at("2026-10-01T00:00:05"), status=503),
    ]
    slos = AVAILABILITY + LATENCY + UPTIME.format(no_traffic="ignore")
    document = compute(tmp_path, slos, events, at("2026-10-01T00:00:00"))
    for name in ("avail", "lat", "up"):
        thirty = row(document, name, "30d")
        assert (thirty["start"], thirty["end"]) == ("2026-09-01T00:00:00Z", "2026-10-01T00:00:00Z")
        assert (thirty["good"], thirty["total"]) == (2, 2), name


def test_13_a_time_between_minute_boundaries_counts_every_event_so_far(tmp_path: Path) -> None:
    # events: the window ends at the end of T's minute, so what happened up to T is in (fresh
    # gauges)
    events = [
        req(at("2026-10-05T10:00:30")),
        req(at("2026-10-05T10:04:10")),
        req(at("2026-10-05T10:05:10"), status=503),
    ]
    document = compute(tmp_path, AVAILABILITY, events, at("2026-10-05T10:05:40"))
    five = row(document, "avail", "5m")
    assert (five["start"], five["end"]) == ("2026-10-05T10:01:00Z", "2026-10-05T10:06:00Z")
    assert (five["good"], five["total"]) == (1, 2)


def test_13_uptime_between_minute_boundaries_judges_only_minutes_that_are_over(
    tmp_path: Path,
) -> None:
    # uptime: the minute in progress is not judged yet, so the window ends at the start of T's
    # minute
    slos = UPTIME.format(no_traffic="bad")
    events = [req(at("2026-10-05T10:00:30")), req(at("2026-10-05T10:05:10"), status=503)]
    document = compute(tmp_path, slos, events, at("2026-10-05T10:05:40"))
    five = row(document, "up", "5m")
    assert (five["start"], five["end"]) == ("2026-10-05T10:00:00Z", "2026-10-05T10:05:00Z")
    assert (five["good"], five["total"]) == (1, 5)  # 10:00 up; 10:01-10:04 quiet (down); 10:05 open


# ---- 14. smaller ones --------------------------------------------------------------------------


def test_14_target_true_is_refused(tmp_path: Path) -> None:
    config = write_config(tmp_path, AVAILABILITY.replace("target: 99", "target: true"))
    result = cli("validate", str(config))
    assert (
        result.returncode != 0
        and f"{config}:6: slos[0].target: Input should be a valid number" in result.stderr
    )


def test_14_bad_status_as_integers_is_accepted(tmp_path: Path) -> None:
    slos = AVAILABILITY + "    good_status: [100-599]\n    bad_status: [429, 503]\n"
    events = [req(at("2026-10-05T10:00:00"), status=s) for s in (200, 429, 503, 500, 404)]
    document = compute(tmp_path, slos, events, at("2026-10-05T10:01:00"))
    assert counts(document, "avail", "5m") == (3, 5)  # 500 is good here: only 429 and 503 are bad


def test_14_a_gzip_log_is_read_whatever_its_name(tmp_path: Path) -> None:
    config = write_config(tmp_path, AVAILABILITY)
    log = tmp_path / "events.ndjson"  # no .gz
    with gzip.open(log, "wt") as handle:
        for event in every(
            at("2026-10-05T10:00:00"), at("2026-10-05T10:05:00"), timedelta(minutes=1)
        ):
            handle.write(json.dumps(event) + "\n")
    result = cli(
        "compute", "--events", str(log), "--config", str(config), "--at", "2026-10-05T10:05:00Z"
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["events"] == {
        "valid": 5,
        "invalid": 0,
        "invalid_by_reason": {},
        "late_dropped": 0,
    }


def test_1_a_month_without_a_single_request_after_the_first_is_a_down_month(tmp_path: Path) -> None:
    events = [req(at("2026-07-31T23:59:00"))]
    document = compute(tmp_path, UPTIME.format(no_traffic="bad"), events, at("2026-10-02T00:00:00"))
    september = row(document, "up", "month:2026-09")
    assert (september["good"], september["total"], september["status"]) == (
        0,
        30 * 1440,
        "breached",
    )
    assert counts(document, "up", "month:2026-07") == (1, 1)


def test_6_a_repeated_creation_counts_from_the_earliest_whatever_the_arrival_order() -> None:
    config = SlaConfig.model_validate(
        {"slos": [{"name": "ship", "sli": "fulfillment", "within": "24h", "target": 95}]}
    )
    created = ms(at("2026-10-05T09:00:00"))
    events = [
        OrderEvent(created + 3_600_000, "o", "created"),
        OrderEvent(created, "o", "created"),
        OrderEvent(created + 24 * 3_600_000 + 1_800_000, "o", "shipped"),
    ]  # 24.5 h after 09:00
    results = set()
    for arrival in ([0, 1, 2], [0, 2, 1], [2, 1, 0], [1, 2, 0], [2, 0, 1], [1, 0, 2]):
        engine = SliEngine(config)
        for offset, index in enumerate(arrival):
            engine.apply(events[index], "orders:0", offset)
        slo = config.slo("ship")
        month = evaluate_window(engine, slo, "calendar-month", created + 3 * 86_400_000)
        nine = evaluate_window(engine, slo, "5m", created + 5 * 60_000)
        results.add((month.good, month.total, nine.total))
    assert results == {(0, 1, 1)}  # missed, and counted at 09:00


def test_5_an_hour_of_minute_sketches_stays_under_kafkas_message_limit_whatever_the_latencies() -> (
    None
):
    from slaengine.sli.buckets import HourBucket

    bucket = HourBucket(0, with_sketch=True)
    for minute in range(60):
        for step in range(1200):  # every bin of the tracked range and beyond, each minute
            latency = 10 ** (-3 + step * 0.01)  # 1 µs to 10¹⁹ ms
            bucket.add(minute, latency <= 500)
            bucket.add_latency(minute, latency)
    record = json.dumps(bucket.to_state())
    assert len(record) < 1_000_000
    assert HourBucket.from_state(json.loads(record)).sketch_between(0, 60).quantile(
        0.5
    ) == pytest.approx(bucket.sketch.quantile(0.5))  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "keep_first_records", [True, False], ids=["restored", "restored from older state"]
)
def test_1_the_first_request_survives_a_restart(keep_first_records: bool) -> None:
    config = SlaConfig.model_validate(
        {
            "slos": [
                {
                    "name": "up",
                    "service": "api",
                    "sli": "uptime",
                    "target": 99.9,
                    "no_traffic": "bad",
                }
            ]
        }
    )
    engine = SliEngine(config)
    start = at("2026-10-05T10:30:00")
    for offset in range(3):
        engine.apply(
            RequestEvent(ms(start) + offset * 60_000 + 5_000, "api", "GET /", 200, 5.0),
            "requests:0",
            offset,
        )
    restored = SliEngine(config)
    for key, _, value in engine.take_changes():
        if keep_first_records or not key.startswith("f|"):
            restored.load(key, value)
    when = ms(at("2026-10-05T11:00:00"))
    rows = [evaluate_window(e, config.slo("up"), "1h", when) for e in (engine, restored)]
    assert [(r.good, r.total) for r in rows] == [(3, 30), (3, 30)]


def test_4_replays_never_count_a_late_or_reordered_event_twice() -> None:
    from slaengine.batch import kind_of_event
    from slaengine.events import SOURCE_NAMES, decode_element
    from slaengine.synthetic import TrafficPlan, generate_events, with_hostile_timing

    config = SlaConfig.model_validate(
        {
            "slos": [
                {"name": "avail", "service": "orders-api", "sli": "availability", "target": 99.9},
                {
                    "name": "lat",
                    "service": "orders-api",
                    "sli": "latency",
                    "threshold_ms": 200,
                    "target": 95,
                },
                {
                    "name": "up",
                    "service": "orders-api",
                    "sli": "uptime",
                    "target": 99.9,
                    "no_traffic": "bad",
                },
                {"name": "ship", "sli": "fulfillment", "target": 95},
            ]
        }
    )
    plan = TrafficPlan(
        start=at("2026-10-05T00:00:00"), end=at("2026-10-07T00:00:00"), seed=3, orders_per_hour=120
    )
    now = ms(at("2026-10-08T00:00:00"))
    events = []
    for body in with_hostile_timing(list(generate_events(plan)), seed=3):
        kind = kind_of_event(body)
        events.append((decode_element(kind, body, now), f"{SOURCE_NAMES[kind]}:0"))
    once, replayed = SliEngine(config), SliEngine(config)
    for offset, (event, source) in enumerate(events):
        once.apply(event, source, offset)
        replayed.apply(event, source, offset)
        if offset % 499 == 0:  # a redelivery of the last 700 events, as after a crash
            for again in range(max(0, offset - 700), offset + 1):
                replayed.apply(events[again][0], events[again][1], again)
    when = ms(at("2026-10-07T00:00:00"))
    assert evaluate_all(replayed, when) == evaluate_all(once, when)
    assert once.late_dropped == 0


def test_3_a_late_request_never_makes_the_exported_good_counter_go_down() -> None:
    config = SlaConfig.model_validate(
        {
            "slos": [
                {
                    "name": "up",
                    "service": "api",
                    "sli": "uptime",
                    "target": 99.9,
                    "no_traffic": "good",
                }
            ]
        }
    )
    engine = SliEngine(config)
    start = ms(at("2026-10-05T10:00:00"))
    engine.apply(RequestEvent(start, "api", "GET /", 200, 5.0), "requests:0", 0)
    clock = [start / 1000 + 600]
    collector = SliCollector(engine, clock=lambda: clock[0])

    def counters() -> tuple[float, float]:
        samples = {s.name: s.value for family in collector.collect() for s in family.samples}
        return samples["slaengine_slo_good_events_total"], samples["slaengine_slo_events_total"]

    assert counters() == (10, 10)
    engine.apply(
        RequestEvent(start + 5 * 60_000, "api", "GET /", 503, 5.0), "requests:0", 1
    )  # minute 5 down
    assert engine.lifetime_counts(config.slo("up"), start + 600_000) == (9, 10)
    assert counters() == (10, 10)  # held, not decreased
    clock[0] += 120
    assert counters() == (11, 12)  # caught up: exact again
