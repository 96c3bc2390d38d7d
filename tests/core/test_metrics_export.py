"""/metrics: what a default scrape exports, every window on request, and no re-render of an
unchanged state (issue 14: a scrape at 16 SLOs <= 40 kB and cheap)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from slaengine.config import SlaConfig, load_sla_config
from slaengine.durations import parse_duration
from slaengine.events import OrderEvent, ProjectionEvent, RequestEvent
from slaengine.http.app import create_app
from slaengine.metrics import (
    EncodableRegistry,
    PipelineCollector,
    SliCollector,
    encodable,
    every_window,
    exposition,
    render_text,
)
from slaengine.settings import DEFAULT_CONFIG
from slaengine.sli import query
from slaengine.sli.engine import SliEngine
from slaengine.sli.results import QUANTILES, evaluate_window, evaluate_windows, windows_for

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from worker_vs_peers import EXTRA_SLOS  # the bench's 16-SLO config: the demo's six and ten more

NOW_MS = 1_780_000_000_000 // 60_000 * 60_000 + 20_000  # 2026-05-28T20:26:20Z
DAY_MS = 86_400_000
SAMPLE = re.compile(r"^(\w+)\{(.*)\} \S+$")
# the families the seeds and the alert rules name, and the counters rate() needs
NAMED_FAMILIES = {
    "sla_uptime_percentage",
    "sla_api_response_time_p95",
    "sla_order_fulfillment_rate",
    "sla_projection_lag_seconds",
    "slaengine_slo_latency_seconds",
    "slaengine_slo_error_budget_remaining",
    "slaengine_slo_burn_rate",
    "slaengine_slo_events_total",
    "slaengine_slo_good_events_total",
    "slaengine_slo_objective_ratio",
    "slaengine_pipeline_lag_seconds",
}
ALERTING_WINDOWS = {"5m", "30m", "1h", "2h", "6h", "1d", "3d"}  # the built-in burn-rate windows


def sixteen_slos(tmp_path: Path) -> SlaConfig:
    path = tmp_path / "slo-16.yaml"
    path.write_text(DEFAULT_CONFIG.read_text() + EXTRA_SLOS)
    config = load_sla_config(path)
    assert len(config.slos) == 16
    return config


def fed_engine(config: SlaConfig, days: int = 3) -> SliEngine:
    """Every SLO with state: requests of both services each minute, orders, projection samples."""
    engine = SliEngine(config)
    start = NOW_MS - days * DAY_MS
    offset = 0
    for minute in range(days * 1440):
        ts = start + minute * 60_000
        for service in ("orders-api", "catalog-api"):
            offset += 1
            status = 503 if minute % 89 == 0 else 200
            engine.apply(
                RequestEvent(ts, service, "GET /", status, 40.0 + (minute * 7) % 900),
                "requests:0",
                offset,
                processed_ms=ts + 50,
            )
        if minute % 30 == 0:
            order = f"o-{minute}"
            engine.apply(OrderEvent(ts, order, "created"), "orders:0", offset)
            engine.apply(OrderEvent(ts + 3_600_000, order, "shipped"), "orders:0", offset + 1)
        if minute % 5 == 0:
            engine.apply(
                ProjectionEvent(ts, "AvailableStock", 300.0 + minute % 1500),
                "projections:0",
                offset,
            )
    return engine


class _Families:
    def __init__(self, families: list) -> None:
        self.families = families

    def collect(self) -> list:
        return [encodable(family) for family in self.families]


def samples(body: bytes) -> list[tuple[str, dict[str, str]]]:
    found = []
    for line in body.decode().splitlines():
        match = SAMPLE.match(line)
        if match:
            found.append((match.group(1), dict(re.findall(r'(\w+)="([^"]*)"', match.group(2)))))
    return found


def windows_of(body: bytes, family: str, slo: str) -> set[str]:
    return {
        labels["window"]
        for name, labels in samples(body)
        if name == family and labels["slo"] == slo
    }


def registry_of(collector: SliCollector) -> EncodableRegistry:
    registry = EncodableRegistry()
    registry.register(collector)
    registry.register(PipelineCollector({"sla.requests": 8640}, {}))
    return registry


async def test_a_default_scrape_at_16_slos_holds_the_named_families_within_40_kb(
    tmp_path: Path, aiohttp_client
) -> None:
    config = sixteen_slos(tmp_path)
    collector = SliCollector(fed_engine(config), clock=lambda: NOW_MS / 1000)
    client = await aiohttp_client(create_app(registry_of(collector)))
    response = await client.get("/metrics")
    assert response.status == 200
    body = await response.read()
    assert len(body) <= 40_000, len(body)
    assert {name for name, _ in samples(body)} >= NAMED_FAMILIES
    # per SLO: the counters, and its own window's gauges
    for slo in config.slos:
        names = {name for name, labels in samples(body) if labels.get("slo") == slo.name}
        assert {
            "slaengine_slo_events_total",
            "slaengine_slo_good_events_total",
            "slaengine_slo_objective_ratio",
        } <= names, slo.name
        assert slo.window in windows_of(body, "slaengine_slo_error_budget_remaining", slo.name)
    # burn rates over the alerting windows and the SLO's own; gauges over the SLO's window and
    # the windows the alert rules read (latency p95 over 5m, fulfillment over 7d)
    assert windows_of(body, "slaengine_slo_burn_rate", "api-availability") == ALERTING_WINDOWS | {
        "30d"
    }
    assert windows_of(body, "slaengine_slo_window_events", "api-availability") == {"30d"}
    assert windows_of(body, "sla_api_response_time_p95", "api-latency") == {"5m", "30d"}
    assert windows_of(body, "sla_order_fulfillment_rate", "order-fulfillment") == {"7d", "30d"}
    # over a window a rule reads, only the family it reads (and the burn rate, if alerting)
    assert windows_of(body, "slaengine_slo_latency_seconds", "api-latency") == {"30d"}
    assert windows_of(body, "slaengine_slo_window_events", "order-fulfillment") == {"30d"}
    assert windows_of(body, "slaengine_slo_burn_rate", "order-fulfillment") == ALERTING_WINDOWS | {
        "30d"
    }
    assert windows_of(body, "sla_uptime_percentage", "catalog-availability") == {"calendar-month"}
    assert windows_of(body, "sla_projection_lag_seconds", "projection-lag") == {"30d", "latest"}


async def test_windows_all_exports_every_window_and_a_wrong_value_is_a_400(
    tmp_path: Path, aiohttp_client
) -> None:
    config = sixteen_slos(tmp_path)
    collector = SliCollector(fed_engine(config, days=1), clock=lambda: NOW_MS / 1000)
    client = await aiohttp_client(create_app(registry_of(collector)))
    every = await (await client.get("/metrics?windows=all")).read()
    default = await (await client.get("/metrics?windows=default")).read()
    for slo in config.slos:
        assert set(windows_for(slo)) <= windows_of(every, "slaengine_slo_window_events", slo.name)
        assert windows_of(every, "slaengine_slo_burn_rate", slo.name) >= ALERTING_WINDOWS
    assert "2h" not in windows_of(default, "slaengine_slo_window_events", "api-availability")
    assert len(every) > 2 * len(default)
    wrong = await client.get("/metrics?windows=everything")
    assert wrong.status == 400
    assert (await wrong.json())["error"] == "'windows': 'everything' is not 'all' or 'default'"


def test_an_unchanged_state_is_not_re_rendered_until_the_minute_moves(tmp_path: Path) -> None:
    config = sixteen_slos(tmp_path)
    clock = [NOW_MS / 1000]
    collector = SliCollector(fed_engine(config, days=1), clock=lambda: clock[0])
    registry = registry_of(collector)
    first = exposition(registry)
    assert collector.renders == 1
    clock[0] += 15  # the same minute: the same windows
    assert exposition(registry) == first
    assert list(registry.collect())  # the alert evaluator's reads share the rendered state
    assert collector.renders == 1
    exposition(registry, every_window=True)  # another export: rendered once, then kept too
    exposition(registry, every_window=True)
    assert collector.renders == 2
    clock[0] += 60  # rolling windows moved on
    exposition(registry)
    assert collector.renders == 3


def test_a_new_event_changes_the_body(tmp_path: Path) -> None:
    config = sixteen_slos(tmp_path)
    engine = fed_engine(config, days=1)
    collector = SliCollector(engine, clock=lambda: NOW_MS / 1000)
    registry = registry_of(collector)

    def events_total(body: bytes) -> float:
        [line] = [
            line
            for line in body.decode().splitlines()
            if line.startswith(
                'slaengine_slo_events_total{service="orders-api",sli="availability",slo="api-availability"'
            )
        ]
        return float(line.rsplit(" ", 1)[1])

    before = exposition(registry)
    engine.apply(RequestEvent(NOW_MS - 1000, "orders-api", "GET /", 200, 42.0), "requests:0", 10**9)
    after = exposition(registry)
    assert collector.renders == 2
    assert events_total(after) == events_total(before) + 1


def test_a_global_view_passes_its_own_version(tmp_path: Path) -> None:
    """A view fed by ``put`` applies no events: its record count says the state changed."""
    config = sixteen_slos(tmp_path)
    source = fed_engine(config, days=1)
    view = SliEngine(config)
    records = [0]
    collector = SliCollector(view, clock=lambda: NOW_MS / 1000, version=lambda: records[0])
    assert b"api-availability" not in exposition(registry_of(collector))
    for key, _, value in source.take_changes():
        view.put(key, value)
        records[0] += 1
    assert (
        b'slaengine_slo_events_total{service="orders-api",sli="availability",slo="api-availability"'
        in exposition(registry_of(collector))
    )


@pytest.mark.parametrize("no_traffic", ["ignore", "bad"])
def test_uptime_windows_evaluated_together_equal_each_window_alone(no_traffic: str) -> None:
    """The windows of one evaluation judge each whole hour once (shared slices): same numbers."""
    config = SlaConfig.model_validate(
        {
            "slos": [
                {
                    "name": "up",
                    "service": "api",
                    "sli": "uptime",
                    "target": 99,
                    "slice_good_ratio": 0.9,
                    "no_traffic": no_traffic,
                }
            ]
        }
    )
    engine = SliEngine(config)
    start = NOW_MS - 4 * DAY_MS
    for minute in range(0, 4 * 1440, 3):
        for source in ("requests:0", "requests:1"):  # an hour held by two sources is merged
            engine.apply(
                RequestEvent(
                    start + minute * 60_000 + 7_000,
                    "api",
                    "GET /",
                    500 if minute % 41 < 3 else 200,
                    5.0,
                ),
                source,
                minute,
            )
    slo = config.slo("up")
    for at in (NOW_MS, NOW_MS + 29 * 60_000):
        together = evaluate_windows(engine, slo, at)
        alone = [evaluate_window(engine, slo, row.window, at) for row in together]
        assert together == alone
        assert {row.window for row in together} >= {"5m", "3d", "30d"}


def test_the_fast_text_is_byte_for_byte_what_prometheus_client_writes(tmp_path: Path) -> None:
    config = sixteen_slos(tmp_path)
    engine = fed_engine(config, days=1)
    collector = SliCollector(engine, clock=lambda: NOW_MS / 1000)
    families = list(collector.collect())
    families[0].add_metric(['a "quoted\\ \n', "svc", "5m"], 0.1)  # label values to escape
    families[0].add_metric(["lone \udc80 surrogate", "svc", "5m"], 1e21)  # Go's exponent form
    with every_window():
        families += list(collector.collect())
    expected = generate_latest(_Families(families))
    assert render_text(families) == expected
    assert b'slo="a \\"quoted\\\\ \\n"' in expected
    assert b'slo="lone \\\\udc80 surrogate",window="5m"} 1e+21' in expected  # escaped twice


def test_windows_counted_together_equal_each_window_counted_alone(tmp_path: Path) -> None:
    """query.rolling_counts (the burn-rate windows of a scrape) reads each hour once: same counts
    as query.counts per window, with several sources, compacted hours and partial hours."""
    config = sixteen_slos(tmp_path)
    engine = fed_engine(config, days=2)
    # a second source: hours 36-40 days old (compacted: minute detail is kept 35 days), and
    # some of the last two days' hours
    for minute in [*range(0, 4 * 1440, 7), *range(38 * 1440, 40 * 1440, 13)]:
        engine.apply(
            RequestEvent(
                NOW_MS - 40 * DAY_MS + minute * 60_000,
                "orders-api",
                "GET /",
                500 if minute % 11 == 0 else 200,
                900.0,
            ),
            "requests:1",
            minute,
        )
    engine.maintain()
    assert any(
        not bucket.has_minutes
        for _, hours in engine.buckets_of("api-availability")
        for bucket in hours.values()
    ), "no compacted hour: the test would miss that case"
    for at in (NOW_MS, NOW_MS + 17 * 60_000 + 5_000):
        for slo in config.slos:
            ranges = {
                window: query.slo_rolling_range(slo, parse_duration(window), at)
                for window in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d", "37d", "40d")
            }
            ranges["empty"] = (at + 3_600_000, at + 7_200_000)  # starts after the end
            alone = {
                name: query.counts(engine, slo, start, end, now_ms=at)
                for name, (start, end) in ranges.items()
            }
            assert query.rolling_counts(engine, slo, ranges, at) == alone, slo.name


def test_a_re_render_after_one_slo_changed_is_exactly_a_full_render(tmp_path: Path) -> None:
    """A global view says which SLOs' state changed (SliEngine.changes_by_slo): only those are
    evaluated again, the others' text is reused, and the body is a full render's, byte for byte
    (issue 14: a scrape re-rendered after a change costs <= 5 ms at 16 SLOs)."""
    config = sixteen_slos(tmp_path)
    source = fed_engine(config, days=1)
    view = SliEngine(config)
    records = [0]
    clock = [NOW_MS / 1000]

    def read_changelog() -> None:
        for key, _, value in source.take_changes():
            view.put(key, value)
            records[0] += 1

    read_changelog()
    collector = SliCollector(
        view,
        clock=lambda: clock[0],
        version=lambda: records[0],
        slo_version=view.changes_by_slo.get,
    )
    registry = registry_of(collector)

    def scrape_both() -> tuple[bytes, bytes]:
        return exposition(registry), exposition(registry, every_window=True)

    def full_render() -> tuple[bytes, bytes]:
        fresh = SliCollector(view, clock=lambda: clock[0], windows=collector.windows)
        full = registry_of(fresh)
        return exposition(full), exposition(full, every_window=True)

    assert scrape_both() == full_render()
    assert collector.slo_renders == 2 * 16
    catalog = {slo.name for slo in config.slos if slo.service == "catalog-api"}
    late = 10**9  # source offsets past everything applied
    changes = [
        (  # a slow failed request of one service: its seven SLOs
            lambda: source.apply(
                RequestEvent(NOW_MS - 1000, "catalog-api", "GET /", 503, 2500.0),
                "requests:0",
                late,
            ),
            catalog,
        ),
        (  # an order created and shipped: the fulfillment SLO only
            lambda: (
                source.apply(OrderEvent(NOW_MS - 5000, "o-new", "created"), "orders:0", late),
                source.apply(OrderEvent(NOW_MS - 4000, "o-new", "shipped"), "orders:0", late + 1),
            ),
            {"order-fulfillment"},
        ),
        (  # a lag sample: the projection-lag SLO's windows and its "latest" gauge
            lambda: source.apply(
                ProjectionEvent(NOW_MS - 3000, "AvailableStock", 4000.0), "projections:0", late
            ),
            {"projection-lag"},
        ),
    ]
    for change, changed_slos in changes:
        before, evaluated = scrape_both(), collector.slo_renders
        change()
        read_changelog()
        after = scrape_both()
        assert collector.slo_renders - evaluated == 2 * len(changed_slos), changed_slos
        assert after != before
        assert after == full_render(), changed_slos
    clock[0] += 60  # the minute moved on: every SLO's windows did
    evaluated = collector.slo_renders
    assert scrape_both() == full_render()
    assert collector.slo_renders - evaluated == 2 * 16


def test_every_record_a_view_puts_counts_as_a_change_of_its_slo(tmp_path: Path) -> None:
    """changes_by_slo misses no record that changes what an SLO exports (else /metrics would
    serve an old text): each kind take_changes writes moves the count of the SLO it belongs
    to, a projection's newest sample that of the projection-lag SLOs, a watermark none."""
    config = sixteen_slos(tmp_path)
    source = fed_engine(config, days=1)
    view = SliEngine(config)
    kinds = set()
    for key, _, value in source.take_changes():
        kind, name = key.split("|")[:2]
        before = dict(view.changes_by_slo)
        view.put(key, value)
        changed = {slo for slo, count in view.changes_by_slo.items() if count != before.get(slo)}
        expected = set() if kind == "w" else {"projection-lag"} if kind == "l" else {name}
        assert changed == expected, key
        kinds.add(kind)
    assert kinds >= {"b", "f", "l", "O", "w"}


def test_percentiles_from_kept_closed_hours_equal_those_merged_afresh(tmp_path: Path) -> None:
    """query.rolling_percentiles reuses each window's merged closed hours while their buckets
    are the same (a 30-day window merges ~720 hour sketches otherwise): after a new event, a
    late event in an old hour, the hour moving on, compaction and a view's new snapshot, the
    quantiles are those of merging every hour again, and of each window alone."""
    config = sixteen_slos(tmp_path)
    source = fed_engine(config, days=3)
    view = SliEngine(config)
    slo = config.slo("api-latency")
    kept: dict[SliEngine, query.ClosedHourSketches] = {source: {}, view: {}}
    windows = ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")

    def check(engine: SliEngine, at: int) -> None:
        ranges = {w: query.slo_rolling_range(slo, parse_duration(w), at) for w in windows}
        afresh = query.rolling_percentiles(engine, slo, ranges, QUANTILES)
        assert query.rolling_percentiles(engine, slo, ranges, QUANTILES, kept[engine]) == afresh
        alone = {
            w: query.merged_sketch(engine, slo, *ranges[w], now_ms=at).quantiles(QUANTILES)
            for w in windows
        }
        assert afresh == alone

    def read_changelog() -> None:
        for key, _, value in source.take_changes():
            view.put(key, value)

    read_changelog()
    late = 10**9
    for engine in (source, view):
        check(engine, NOW_MS)
        check(engine, NOW_MS)  # every window's closed hours kept
    source.apply(
        RequestEvent(NOW_MS - 1000, "orders-api", "GET /", 200, 5000.0), "requests:0", late
    )
    read_changelog()
    for engine in (source, view):
        check(engine, NOW_MS)
    # late events two days back (enough to move the p95): a closed hour of the longer windows
    old_hour = NOW_MS - 2 * DAY_MS
    for n in range(1, 600):
        slow = RequestEvent(old_hour + n, "orders-api", "GET /", 200, 9000.0)
        source.apply(slow, "requests:0", late + n)
    read_changelog()
    for engine in (source, view):
        before = kept[engine]["3d"][1].quantiles(QUANTILES)
        check(engine, NOW_MS)
        assert kept[engine]["3d"][1].quantiles(QUANTILES) != before
        check(engine, NOW_MS + 3_600_000)  # the hour moved on: the current one closed
    source.maintain()
    read_changelog()
    for engine in (source, view):
        check(engine, NOW_MS + 3_600_000)


def test_a_collector_keeping_closed_hours_exports_what_a_fresh_one_does(tmp_path: Path) -> None:
    """A collector keeps, per SLO, each window's merged closed-hour sketches and each whole
    hour's uptime slices across renders, reused while the hour's buckets are unchanged: after
    late events turn old minutes down, compaction and the hour moving on, its body is a fresh
    collector's, byte for byte (an engine fed events, and a global view fed snapshots)."""
    config = sixteen_slos(tmp_path)
    source = fed_engine(config, days=3)
    view = SliEngine(config)
    records = [0]
    clock = [NOW_MS / 1000]

    def read_changelog() -> None:
        for key, _, value in source.take_changes():
            view.put(key, value)
            records[0] += 1

    read_changelog()
    kept = {
        source: registry_of(SliCollector(source, clock=lambda: clock[0])),
        view: registry_of(
            SliCollector(
                view,
                clock=lambda: clock[0],
                version=lambda: records[0],
                slo_version=view.changes_by_slo.get,
            )
        ),
    }

    def gauges(body: bytes) -> list[bytes]:
        """The body less the lifetime counters: a collector's never go down (a late failure
        turning a counted minute down is held until the counts catch up), a fresh one's do."""
        return [
            line
            for line in body.splitlines()
            if not line.startswith(b"slaengine_slo_") or b"_events_total{" not in line
        ]

    def assert_as_fresh() -> None:
        for engine, registry in kept.items():
            fresh = registry_of(SliCollector(engine, clock=lambda: clock[0]))
            for every in (False, True):
                assert gauges(exposition(registry, every)) == gauges(exposition(fresh, every))

    assert_as_fresh()
    before = exposition(kept[source])
    # late failures two days back: that hour's uptime minutes turn down, its p95 moves
    old_hour = NOW_MS - 2 * DAY_MS
    for n in range(1, 400):
        failed = RequestEvent(old_hour + n * 150, "orders-api", "GET /", 503, 9000.0)
        source.apply(failed, "requests:0", 10**9 + n)
    read_changelog()
    assert_as_fresh()
    assert exposition(kept[source]) != before
    clock[0] += 3600  # the hour moved on
    assert_as_fresh()
    source.maintain()
    read_changelog()
    assert_as_fresh()


def test_the_first_scrape_of_a_minute_shows_a_change_in_the_minute_that_closed(
    tmp_path: Path,
) -> None:
    """The kept text is keyed by the state and the minute: a bad request of the minute that
    just closed, taken after that minute's last scrape, is in the next minute's first scrape
    (counters and the 5m burn rate), byte for byte what a fresh collector writes."""
    config = sixteen_slos(tmp_path)
    engine = fed_engine(config, days=1)
    clock = [NOW_MS / 1000 + 39]  # 59 s into the minute
    collector = SliCollector(engine, clock=lambda: clock[0])
    registry = registry_of(collector)
    labels = 'service="orders-api",sli="availability",slo="api-availability"'
    burn = 'slaengine_slo_burn_rate{service="orders-api",slo="api-availability",window="5m"}'

    def value(body: bytes, prefix: str) -> float:
        [line] = [line for line in body.decode().splitlines() if line.startswith(prefix)]
        return float(line.rsplit(" ", 1)[1])

    before = exposition(registry)
    engine.apply(
        RequestEvent(NOW_MS + 38_500, "orders-api", "GET /", 503, 40.0), "requests:0", 10**9
    )
    clock[0] += 1  # the next minute's first second
    after = exposition(registry)
    assert after == exposition(registry_of(SliCollector(engine, clock=lambda: clock[0])))
    events = f"slaengine_slo_events_total{{{labels}}}"
    assert value(after, events) == value(before, events) + 1
    assert value(after, burn) > value(before, burn)
