"""Prometheus exposition of the SLI state: a custom collector that reads the engine at scrape time.

Two families: the names operators already query (``sla_uptime_percentage``,
``sla_api_response_time_p95``, ``sla_order_fulfillment_rate``,
``sla_projection_lag_seconds``) and a ``slaengine_slo_*`` family following
Prometheus naming conventions (ratios 0–1, seconds, ``_total`` counters).
``slaengine_pipeline_lag_seconds`` is slaengine's own processing delay (self-monitoring,
per worker). A worker exports the series of the SLOs it owns: with a global view (every
worker holds every SLO, streams.global_view) ``owner`` picks them, so each series comes
from exactly one worker.

A default scrape exports what Prometheus users query (``ExportedWindows``): the good/valid
counters (any window through ``rate()``), every gauge over the SLO's own window and the
windows the alert rules read, and burn rates over the alerting windows. ``/metrics?windows=all``
(``exposition(registry, every_window=True)``) adds every standard window (5m … 30d and the
calendar month). The rendered text is kept until the state changes (``version``) or the
minute rolls over (rolling windows move with time), so a scrape of unchanged state costs
little more than copying the bytes. It is kept per SLO: after a change only the SLOs whose
state changed (``slo_version``) are evaluated again, the others' samples are reused.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cached_property

from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString

from slaengine.config import CALENDAR_MONTH, SloSpec
from slaengine.durations import format_duration, parse_duration
from slaengine.events import SOURCE_NAMES, source_name
from slaengine.resources import data_path
from slaengine.rules.alertspec import AlertRuleSet, load_alert_rules
from slaengine.rules.fromconfig import period_of, slo_definition
from slaengine.rules.generate import windows_of
from slaengine.rules.windows import WindowsCatalog
from slaengine.sli import query
from slaengine.sli.engine import SliEngine
from slaengine.sli.results import SloWindowResult, WholeHours, evaluate_windows, windows_for
from slaengine.slo import ErrorBudget

ALL_PROJECTIONS = "*"  # projection label of a projection_lag SLO that covers every projection
LATEST = "latest"  # window label of the newest sample of each projection
TOPIC_OF_SOURCE = {short: topic for topic, short in SOURCE_NAMES.items()}
DEFAULT_ALERT_RULES = data_path("alert_rules")
MINUTE_MS = 60_000
BURN_RATE = "slaengine_slo_burn_rate"
MAX_KEPT_HOURS = 12_000  # whole hours' uptime slices kept per SLO (retention: 430 days)
# set while one exposition is rendered: export every window instead of the default ones
_EVERY_WINDOW: ContextVar[bool] = ContextVar("slaengine_metrics_every_window", default=False)


@dataclass(frozen=True)
class ExportedWindows:
    """What a default scrape exports of one SLO besides its counters."""

    own: str  # every gauge over the SLO's own window
    alerting: tuple[str, ...]  # slaengine_slo_burn_rate over the multi-window alerting windows
    read: tuple[tuple[str, str], ...] = ()  # (family, window) the alert rules read besides

    def families_over(self, window: str) -> set[str] | None:
        """The families exported over ``window`` (None: every one)."""
        if window == self.own:
            return None
        names = {family for family, read in self.read if read == window}
        return names | {BURN_RATE} if window in self.alerting else names

    def evaluated(self) -> list[str]:
        """The windows evaluated whole (counts and percentiles)."""
        return list(self._evaluated)

    def burn_rate_only(self) -> list[str]:
        return list(self._burn_rate_only)

    @cached_property
    def _evaluated(self) -> tuple[str, ...]:  # asked for every SLO at every render
        return tuple(_unique([self.own, *(window for _, window in self.read)], leave_out=set()))

    @cached_property
    def _burn_rate_only(self) -> tuple[str, ...]:
        return tuple(_unique(self.alerting, leave_out=set(self._evaluated)))


def exported_windows(
    slos: Sequence[SloSpec], rules: AlertRuleSet, catalog: WindowsCatalog
) -> dict[str, ExportedWindows]:
    """Per SLO: what a default scrape exports (what the worker's alert rules, and the rules
    ``slaengine rules generate`` writes for Prometheus, read)."""
    expanded = rules.for_slos(slos)  # an already expanded set is returned unchanged
    out = {}
    for slo in slos:
        read = tuple(
            (rule.metric, rule.matchers["window"])
            for rule in expanded.threshold_rules
            if rule.matchers.get("slo") == slo.name
            and rule.matchers.get("window") not in (None, LATEST, slo.window)
        )
        definition = slo_definition(slo, catalog.for_period(period_of(slo.window)))
        alerting = [format_duration(w) for w in windows_of(definition, catalog).distinct_windows()]
        out[slo.name] = ExportedWindows(
            slo.window, tuple(_unique([*alerting, slo.window], set())), read
        )
    return out


def _unique(windows: Iterable[str], leave_out: set[str]) -> list[str]:
    return list(dict.fromkeys(w for w in windows if w not in leave_out))


@contextmanager
def every_window() -> Iterator[None]:
    """Within the block, the SLI collector exports every standard window of every SLO."""
    token = _EVERY_WINDOW.set(True)
    try:
        yield
    finally:
        _EVERY_WINDOW.reset(token)


def exposition(registry: CollectorRegistry, every_window: bool = False) -> bytes:
    """The text exposition of ``registry``: the SLI collector's part from its cache."""
    token = _EVERY_WINDOW.set(every_window)
    try:
        if not isinstance(registry, EncodableRegistry):
            return generate_latest(registry)
        return b"".join(
            collector.exposition()
            if isinstance(collector, SliCollector)
            else generate_latest(_Encodable(collector))
            for collector in registry.collectors
        )
    finally:
        _EVERY_WINDOW.reset(token)


@dataclass
class _Rendered:
    key: tuple[object, ...]
    text: bytes
    headers: list[Metric]  # every family, without samples (names and help)
    parts: list[_SloPart]

    @property
    def families(self) -> list[Metric]:
        """Every family with the SLOs' samples one SLO after the other (for ``collect``: the
        exposition takes the text)."""
        for i, family in enumerate(self.headers):
            family.samples = [sample for part in self.parts for sample in part.families[i].samples]
        return self.headers


@dataclass
class _SloPart:
    """One SLO's samples of every family (``SliCollector._families`` order) and their text."""

    key: tuple[object, ...]
    families: list[Metric]
    texts: list[str]


class SliCollector(Collector):
    def __init__(
        self,
        engine: SliEngine,
        clock: Callable[[], float] = time.time,
        owner: Callable[[], Callable[[str], bool]] | None = None,
        version: Callable[[], object] | None = None,
        windows: Mapping[str, ExportedWindows] | None = None,
        slo_version: Callable[[str], object] | None = None,
    ) -> None:
        """``version`` changes whenever the engine's state does (default: its applied-event
        count; a global view fed by ``put`` passes its record count); ``windows`` the default
        export per SLO (default: the built-in alert rules and burn-rate windows).
        ``slo_version(name)`` changes whenever the state of that SLO does (a global view:
        ``SliEngine.changes_by_slo``): only those SLOs are evaluated again, the others' text is
        reused. Without it, a change of ``version`` evaluates every SLO."""
        self.engine = engine
        self.clock = clock
        # a worker's global view holds every SLO: it exports only the SLOs it owns
        # (streams.global_view); ``owner()`` reads the ownership once per scrape
        self.owner = owner if owner is not None else (lambda: lambda slo: True)
        self.version = version if version is not None else (lambda: engine.applied_events)
        if windows is None:
            windows = exported_windows(
                engine.config.slos, load_alert_rules(DEFAULT_ALERT_RULES), WindowsCatalog.builtin()
            )
        self.windows = windows
        self.slo_version = slo_version
        self.renders = 0  # evaluations of the state (a scrape of unchanged state makes none)
        self.slo_renders = 0  # SLOs evaluated by those (only the changed ones, with slo_version)
        self._rendered: dict[bool, _Rendered] = {}  # per every_window
        self._parts: dict[bool, dict[str, _SloPart]] = {False: {}, True: {}}  # per every_window
        # per SLO, kept across renders: the merged sketches of its windows' closed hours
        # (query.rolling_percentiles) and an uptime SLO's slices of whole hours
        self._closed_hours: dict[str, query.ClosedHourSketches] = {}
        self._whole_hours: dict[str, WholeHours] = {}
        # per SLO: the sources it was computed from and the last (good, total) exported
        self._exported: dict[str, tuple[frozenset[str], int, int]] = {}

    def collect(self) -> Iterator[Metric]:
        yield from self._current().families
        yield self._pipeline_lag_family()

    def exposition(self) -> bytes:
        """This collector's part of the text exposition (the cached text unless it changed)."""
        return self._current().text + render_text([self._pipeline_lag_family()])

    def _current(self) -> _Rendered:
        every = _EVERY_WINDOW.get()
        now_ms = int(self.clock() * 1000)
        version = self.version()  # first: a global view settles what it read
        owns = self.owner()
        owned = tuple(name for name in self.engine.owned_slos() if owns(name))
        # windows end at a minute edge (rounded up for counts, down for uptime): both move
        minutes = (now_ms // MINUTE_MS, -(-now_ms // MINUTE_MS))
        key = (version, minutes, owned)
        held = self._rendered.get(every)
        if held is None or held.key != key:
            exported = set(owned)
            parts = [
                self._slo_part(slo.name, (version, minutes), now_ms, every)
                for slo in self.engine.config.slos
                if slo.name in exported
            ]
            held = self._rendered[every] = self._assembled(key, parts, now_ms, every)
            self.renders += 1
        return held

    def _slo_part(
        self, name: str, state: tuple[object, object], now_ms: int, every: bool
    ) -> _SloPart:
        """One SLO's samples: kept while its state and the minute stay the same."""
        version, minutes = state
        key = (version if self.slo_version is None else self.slo_version(name), minutes)
        part = self._parts[every].get(name)
        if part is None or part.key != key:
            families = self._families({name}, now_ms, every)
            part = _SloPart(key, families, [_samples_text(f) for f in families])
            self._parts[every][name] = part
            self.slo_renders += 1
        return part

    def _assembled(
        self, key: tuple[object, ...], parts: list[_SloPart], now_ms: int, every: bool
    ) -> _Rendered:
        """The text of every family with the SLOs' samples one SLO after the other."""
        families = self._families(set(), now_ms, every)  # empty: the families' names and help
        text = []
        for i, family in enumerate(families):
            text.append(_header_text(family))
            text += (part.texts[i] for part in parts)
        return _Rendered(key, "".join(text).encode("utf-8"), families, parts)

    def results(
        self, owned: set[str], now_ms: int, every: bool
    ) -> tuple[list[SloWindowResult], list[tuple[SloSpec, str, float]]]:
        """The owned SLOs' evaluated windows, and (slo, window, burn rate) of their alerting
        windows exported as a burn rate only (none with ``every``: every window is whole)."""
        rows: list[SloWindowResult] = []
        burn_rates: list[tuple[SloSpec, str, float]] = []
        for slo in self.engine.config.slos:
            if slo.name not in owned:
                continue
            exported = self._exported_windows(slo)
            whole_hours = self._whole_hours.setdefault(slo.name, {})  # each hour judged once
            if len(whole_hours) > MAX_KEPT_HOURS:  # hours past retention: never asked again
                whole_hours.clear()
            closed_hours = self._closed_hours.setdefault(slo.name, {})
            if every:
                windows = _unique(
                    [*windows_for(slo), *exported.evaluated(), *exported.alerting], leave_out=set()
                )
                rows += evaluate_windows(
                    self.engine, slo, now_ms, windows, whole_hours, closed_hours
                )
                continue
            evaluated, burn_rate_only = exported.evaluated(), exported.burn_rate_only()
            ranges = {  # counted together: each hour read once for all of them
                window: query.slo_rolling_range(slo, parse_duration(window), now_ms)
                for window in (*evaluated, *burn_rate_only)
                if window != CALENDAR_MONTH
            }
            counted = query.rolling_counts(self.engine, slo, ranges, now_ms, whole_hours)
            rows += evaluate_windows(
                self.engine, slo, now_ms, evaluated, whole_hours, closed_hours, counted
            )
            objective = slo.exact_objective
            for window in burn_rate_only:
                good, total = counted[window]
                burn_rates.append((slo, window, ErrorBudget(objective, good, total).burn_rate))
        return rows, burn_rates

    def _exported_windows(self, slo: SloSpec) -> ExportedWindows:
        return self.windows.get(slo.name) or ExportedWindows(slo.window, (slo.window,))

    def _families(self, owned: set[str], now_ms: int, every: bool) -> list[Metric]:
        labels = ["slo", "service", "window"]
        uptime = GaugeMetricFamily(
            "sla_uptime_percentage", "Uptime/availability SLI in percent", labels=labels
        )
        p95 = GaugeMetricFamily(
            "sla_api_response_time_p95", "API latency p95 in milliseconds", labels=labels
        )
        fulfillment = GaugeMetricFamily(
            "sla_order_fulfillment_rate", "Orders shipped within the deadline (0-1)", labels=labels
        )
        lag = GaugeMetricFamily(
            "sla_projection_lag_seconds",
            "Read-model projection lag behind its event store: p99 of the samples in the window, "
            'or the newest sample of each projection (window="latest")',
            labels=["slo", "projection", "window"],
        )
        ratio = GaugeMetricFamily(
            "slaengine_slo_sli_ratio",
            "SLI as a ratio of good to valid (0-1)",
            labels=[*labels, "sli"],
        )
        budget = GaugeMetricFamily(
            "slaengine_slo_error_budget_remaining",
            "Fraction of the error budget left in the window",
            labels=labels,
        )
        burn = GaugeMetricFamily(
            BURN_RATE,
            "Error-budget burn rate over the window (1 = exactly on budget)",
            labels=labels,
        )
        quantiles = GaugeMetricFamily(
            "slaengine_slo_latency_seconds",
            "Latency quantiles over the window",
            labels=[*labels, "quantile"],
        )
        window_good = GaugeMetricFamily(
            "slaengine_slo_window_good_events", "Good events in the window", labels=labels
        )
        window_total = GaugeMetricFamily(
            "slaengine_slo_window_events", "Valid events in the window", labels=labels
        )
        objective = GaugeMetricFamily(
            "slaengine_slo_objective_ratio", "SLO objective (0-1)", labels=["slo", "service", "sli"]
        )
        for slo in self.engine.config.slos:
            if slo.name in owned:
                objective.add_metric([slo.name, slo.service or "", slo.sli], slo.target / 100)
        rows, burn_rates = self.results(owned, now_ms, every)
        for row in rows:
            wanted = (
                None
                if every
                else self._exported_windows(self.engine.slos[row.name]).families_over(row.window)
            )

            def add(
                family: GaugeMetricFamily,
                labels: list[str],
                value: float,
                wanted: set[str] | None = wanted,
            ) -> None:
                if wanted is None or family.name in wanted:
                    family.add_metric(labels, value)

            values = [row.name, row.service or "", row.window]
            add(window_good, values, row.good)
            add(window_total, values, row.total)
            add(budget, values, row.error_budget_remaining)
            add(burn, values, row.burn_rate)
            if row.value is None:
                continue
            add(ratio, [*values, row.sli], row.value / 100)
            if row.sli in ("uptime", "availability"):
                add(uptime, values, row.value)
            elif row.sli == "fulfillment":
                add(fulfillment, values, row.value / 100)
            elif row.sli == "projection_lag":
                if row.p99_ms is not None:
                    add(
                        lag,
                        [row.name, self._projection_label(row.name), row.window],
                        row.p99_ms / 1000,
                    )
            elif row.sli == "latency":
                if row.p95_ms is not None:
                    add(p95, values, row.p95_ms)
                for q, ms in (("0.5", row.p50_ms), ("0.95", row.p95_ms), ("0.99", row.p99_ms)):
                    if ms is not None:
                        add(quantiles, [*values, q], ms / 1000)
        for slo, window, rate in burn_rates:
            burn.add_metric([slo.name, slo.service or "", window], rate)
        for slo_name, projection, seconds in self.latest_projection_lags(owned):
            lag.add_metric([slo_name, projection, LATEST], seconds)
        return [
            uptime,
            p95,
            fulfillment,
            lag,
            ratio,
            budget,
            burn,
            quantiles,
            window_good,
            window_total,
            objective,
            *self._lifetime_counters(owned, now_ms),
        ]

    def _pipeline_lag_family(self) -> Metric:
        """Per worker and changing with every event: read fresh, never cached."""
        family = GaugeMetricFamily(
            "slaengine_pipeline_lag_seconds",
            "slaengine's own delay: processing time minus Kafka append time of the newest event, "
            "per input topic",
            labels=["topic"],
        )
        for topic, seconds in self.pipeline_lags():
            family.add_metric([topic], seconds)
        return family

    def pipeline_lags(self) -> list[tuple[str, float]]:
        """(input topic, seconds): the worst of its partitions' latest processing lags."""
        worst: dict[str, int] = {}
        for source, lag_ms in self.engine.pipeline_lag_ms.items():
            topic = TOPIC_OF_SOURCE.get(source_name(source), source)
            worst[topic] = max(worst.get(topic, 0), lag_ms)
        return [(topic, max(0, lag_ms) / 1000) for topic, lag_ms in sorted(worst.items())]

    def _projection_label(self, slo_name: str) -> str:
        return self.engine.slos[slo_name].projection or ALL_PROJECTIONS

    def latest_projection_lags(self, owned: set[str]) -> list[tuple[str, str, float]]:
        """(slo, projection, seconds): the newest sample of each projection an owned SLO covers."""
        newest: dict[str, tuple[int, float]] = {}
        for (_, projection), sample in self.engine.latest_projection_lag.items():
            if projection not in newest or sample[0] > newest[projection][0]:
                newest[projection] = sample
        return [
            (slo.name, projection, seconds)
            for slo in self.engine.projection_lag
            if slo.name in owned
            for projection, (_, seconds) in sorted(newest.items())
            if slo.projection in (None, projection)
        ]

    def _lifetime_counters(self, owned: set[str], now_ms: int) -> list[Metric]:
        """Monotonic good/valid event counters per SLO, for Prometheus-side rate() rules.

        Uptime counts minutes up to the current one, quiet minutes included
        (``no_traffic``), as ``compute`` and the in-service evaluator do. A late request
        can turn a counted minute down, and a late order event can withdraw an outcome:
        the counters never go down for that (they hold their value until the counts catch
        up); only a change of the partitions this worker owns starts them afresh.
        """
        labels = ["slo", "service", "sli"]
        total = CounterMetricFamily(
            "slaengine_slo_events", "Valid events (uptime: minutes) per SLO", labels=labels
        )
        good = CounterMetricFamily(
            "slaengine_slo_good_events", "Good events (uptime: good minutes) per SLO", labels=labels
        )
        for slo in self.engine.config.slos:
            if slo.name not in owned:
                continue
            lifetime = self.engine.lifetime_counts(
                slo, now_ms, self._whole_hours.setdefault(slo.name, {})
            )
            if lifetime is None:
                continue
            good_count, total_count = lifetime
            sources = frozenset(source for source, _ in self.engine.buckets_of(slo.name))
            previous = self._exported.get(slo.name)
            if previous is not None and previous[0] == sources:
                good_count, total_count = (
                    max(good_count, previous[1]),
                    max(total_count, previous[2]),
                )
            self._exported[slo.name] = (sources, good_count, total_count)
            values = [slo.name, slo.service or "", slo.sli]
            good.add_metric(values, good_count)
            total.add_metric(values, total_count)
        return [total, good]


class PipelineCollector(Collector):
    """Events processed/invalid per topic and Kafka consumer lag per partition."""

    def __init__(
        self,
        valid: dict[str, int],
        invalid: dict[tuple[str, str], int],
        consumer_lag: Callable[[], dict[tuple[str, int], int]] | None = None,
    ) -> None:
        self.valid = valid
        self.invalid = invalid
        self.consumer_lag = consumer_lag

    def collect(self) -> Iterator[Metric]:
        processed = CounterMetricFamily(
            "slaengine_events_processed", "Valid events applied, per topic", labels=["topic"]
        )
        for topic, count in sorted(self.valid.items()):
            processed.add_metric([topic], count)
        invalid = CounterMetricFamily(
            "slaengine_events_invalid",
            "Invalid events dead-lettered, per topic and reason",
            labels=["topic", "reason"],
        )
        for (topic, reason), count in sorted(self.invalid.items()):
            invalid.add_metric([topic, reason], count)
        yield processed
        yield invalid
        if self.consumer_lag is not None:
            lag = GaugeMetricFamily(
                "slaengine_kafka_consumer_lag",
                "Messages behind the partition's end",
                labels=["topic", "partition"],
            )
            for (topic, partition), behind in sorted(self.consumer_lag().items()):
                lag.add_metric([topic, str(partition)], behind)
            yield lag


class EncodableRegistry(CollectorRegistry):
    """A registry whose exposition always encodes: label values that are not valid UTF-8.

    Events are validated before their names reach the state, but one name that cannot
    encode (a lone surrogate) would make every scrape fail, so /metrics is protected on
    its own: such a value is exported with the offending code points backslash-escaped.
    It lists its collectors, so ``exposition`` can take the SLI collector's cached text.
    """

    def __init__(self) -> None:
        super().__init__()
        self.collectors: list[Collector] = []

    def register(self, collector: Collector) -> None:
        super().register(collector)
        self.collectors.append(collector)

    def unregister(self, collector: Collector) -> None:
        super().unregister(collector)
        self.collectors.remove(collector)

    def collect(self) -> Iterator[Metric]:
        for metric in super().collect():
            yield encodable(metric)


class _Encodable:
    """One collector, its label values made encodable (``generate_latest`` takes any collector)."""

    def __init__(self, collector: Collector) -> None:
        self.collector = collector

    def collect(self) -> Iterator[Metric]:
        for metric in self.collector.collect():
            yield encodable(metric)


def render_text(families: Iterable[Metric]) -> bytes:
    """``generate_latest``'s text of plain gauge and counter families, label values made
    encodable: the same bytes at a fraction of the cost (it validates every label name of
    every sample; these names are fixed and valid)."""
    return "".join(_header_text(f) + _samples_text(f) for f in families).encode("utf-8")


def _header_text(family: Metric) -> str:
    name = family.name + "_total" if family.type == "counter" else family.name
    help_text = family.documentation.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {name} {help_text}\n# TYPE {name} {family.type}\n"


def _samples_text(family: Metric) -> str:
    return "".join(
        f"{_sample_prefix(sample.name, sample.labels)}{floatToGoString(sample.value)}\n"
        for sample in family.samples
    )


# a sample's name and labels as written, e.g. 'name{slo="a",window="5m"} ': the same ones
# come back at every render (SLOs × windows), building one sorts and escapes its labels
_SAMPLE_PREFIXES: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
MAX_SAMPLE_PREFIXES = 100_000


def _sample_prefix(name: str, labels: dict[str, str]) -> str:
    key = (name, tuple(labels.items()))
    prefix = _SAMPLE_PREFIXES.get(key)
    if prefix is None:
        if len(_SAMPLE_PREFIXES) >= MAX_SAMPLE_PREFIXES:
            _SAMPLE_PREFIXES.clear()
        text = ",".join(
            f'{label}="{_escaped_value(_encodable_value(value))}"'
            for label, value in sorted(labels.items())
        )
        prefix = _SAMPLE_PREFIXES[key] = f"{name}{{{text}}} " if text else f"{name} "
    return prefix


def _escaped_value(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def encodable(metric: Metric) -> Metric:
    """The metric with every label value encodable as UTF-8 (unchanged, and fast, when all are)."""
    for sample in metric.samples:
        for value in sample.labels.values():
            if not value.isascii() and not _encodes(value):
                metric.samples = [
                    sample._replace(labels={k: _escaped(v) for k, v in sample.labels.items()})
                    for sample in metric.samples
                ]
                return metric
    return metric


def _encodable_value(text: str) -> str:
    """``text`` as ``encodable`` exports it."""
    return text if text.isascii() or _encodes(text) else _escaped(text)


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _escaped(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
