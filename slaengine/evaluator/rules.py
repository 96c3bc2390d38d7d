"""The in-service alert evaluator: Prometheus' alerting-rule semantics on live SLI state.

Pure: the caller passes the SLI source and the evaluation time (every
``AlertRuleSet.interval``, 30 s by default) and writes the returned transitions
to Kafka. The conditions are the ones ``generate`` writes for Prometheus (same
windows, thresholds and ``for``), and the state machine is Prometheus':
a condition that holds makes an alert pending, it fires once it held for
``for`` (at once without ``for``), a firing alert resolves when the condition
stops holding, and a pending one is dropped silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from slaengine.alerts import Alert, fingerprint_of
from slaengine.durations import format_duration
from slaengine.rules.alertgen import no_data_targets
from slaengine.rules.alertspec import AlertRuleSet
from slaengine.rules.generate import burn_rate_annotations, windows_of
from slaengine.rules.model import AlertMeta, SloDefinition
from slaengine.rules.templating import expand_all
from slaengine.rules.windows import AlertWindows, BurnRateWindow, WindowsCatalog
from slaengine.slo import ErrorBudget

_DEFAULT_SEVERITY = {"page": "critical", "ticket": "warning"}


class SliSource(Protocol):
    def window_counts(
        self, slo: str, window: timedelta, now: datetime
    ) -> tuple[float, float]: ...  # (good, total) in the trailing window ending at now
    # current samples of an exported gauge family, e.g. "sla_uptime_percentage",
    # "sla_api_response_time_p95", "capacity_location_utilization_percent"
    def gauge_samples(self, metric: str) -> list[tuple[dict[str, str], float]]: ...


@dataclass(frozen=True)
class BudgetSample:
    """Burn rate of one SLO over one window, for the exported gauges."""

    slo: str
    service: str
    window: str
    burn_rate: float
    remaining: float | None  # only for the SLO period window
    has_data: bool


@dataclass(frozen=True)
class _Condition:
    labels: dict[str, str]
    annotations: Mapping[str, str]
    value: float
    hold: timedelta


@dataclass
class _ActiveAlert:
    labels: dict[str, str]
    annotations: dict[str, str]
    value: float
    active_at: datetime
    hold: timedelta
    fired_at: datetime | None = None

    def as_alert(self, status: str, *, ends_at: datetime | None = None) -> Alert:
        return Alert(
            labels=dict(self.labels),
            status=status,  # type: ignore[arg-type]
            starts_at=self.fired_at or self.active_at,
            annotations=dict(self.annotations),
            ends_at=ends_at,
            value=self.value,
        )


@dataclass
class AlertEvaluator:
    slos: Sequence[SloDefinition]
    rules: AlertRuleSet = field(default_factory=AlertRuleSet)
    catalog: WindowsCatalog = field(default_factory=WindowsCatalog.builtin)
    _active: dict[str, _ActiveAlert] = field(default_factory=dict, init=False)
    _budgets: list[BudgetSample] = field(default_factory=list, init=False)

    @property
    def interval(self) -> timedelta:
        return self.rules.interval

    def evaluate(self, source: SliSource, now: datetime) -> list[Alert]:
        """Evaluate every rule at ``now``; returns the transitions (pending, firing, resolved)."""
        conditions, budgets = self._conditions(source, now)
        self._budgets = budgets
        transitions: list[Alert] = []
        seen = set()
        for condition in conditions:
            key = fingerprint_of(condition.labels)
            seen.add(key)
            state = self._active.get(key)
            if state is None:
                state = _ActiveAlert(
                    condition.labels,
                    dict(condition.annotations),
                    condition.value,
                    active_at=now,
                    hold=condition.hold,
                )
                self._active[key] = state
                if condition.hold > timedelta(0):
                    transitions.append(state.as_alert("pending"))
            state.value, state.annotations = condition.value, dict(condition.annotations)
            if state.fired_at is None and now - state.active_at >= state.hold:
                state.fired_at = now
                transitions.append(state.as_alert("firing"))
        for key in [k for k in self._active if k not in seen]:
            state = self._active.pop(key)
            if state.fired_at is not None:
                transitions.append(state.as_alert("resolved", ends_at=now))
        return transitions

    def active_alerts(self) -> list[Alert]:
        """Pending and firing alerts as of the last evaluation."""
        return [s.as_alert("firing" if s.fired_at else "pending") for s in self._active.values()]

    def budget_samples(self) -> list[BudgetSample]:
        return list(self._budgets)

    def _conditions(
        self, source: SliSource, now: datetime
    ) -> tuple[list[_Condition], list[BudgetSample]]:
        conditions: list[_Condition] = []
        budgets: list[BudgetSample] = []
        for slo in self.slos:
            windows = windows_of(slo, self.catalog)
            counts = {
                w: source.window_counts(slo.name, w, now)
                for w in [*windows.distinct_windows(), windows.period]
            }
            budgets += _budget_samples(slo, windows, counts)
            for severity, meta, quick, slow in (
                ("page", slo.page_alert, windows.page_quick, windows.page_slow),
                ("ticket", slo.ticket_alert, windows.ticket_quick, windows.ticket_slow),
            ):
                if meta is not None:
                    found = _burn_rate_condition(slo, meta, severity, quick, slow, windows, counts)
                    conditions += [found] if found else []
        conditions += self._threshold_conditions(source)
        conditions += self._no_data_conditions(source, now)
        return conditions, budgets

    def _threshold_conditions(self, source: SliSource) -> list[_Condition]:
        out = []
        for rule in self.rules.threshold_rules:
            for sample_labels, value in source.gauge_samples(rule.metric):
                if any(sample_labels.get(k) != v for k, v in rule.matchers.items()):
                    continue
                if rule.holds(value):
                    labels = {k: v for k, v in sample_labels.items() if k != "__name__"}
                    labels |= {**rule.rule_labels(), "alertname": rule.alert}
                    out.append(
                        _Condition(
                            labels, expand_all(rule.annotations(), labels, value), value, rule.hold
                        )
                    )
        return out

    def _no_data_conditions(self, source: SliSource, now: datetime) -> list[_Condition]:
        out = []
        for rule in self.rules.no_data_rules:
            for slo in no_data_targets(rule, self.slos):
                _, total = source.window_counts(
                    slo.name, slo.no_data_after or rule.after_delta, now
                )
                if total <= 0:
                    labels = {**rule.rule_labels(), "slo": slo.name, "alertname": rule.alert}
                    out.append(
                        _Condition(
                            labels, expand_all(rule.annotations(), labels, 0.0), 0.0, rule.hold
                        )
                    )
        return out


def _error_ratio(counts: tuple[float, float]) -> float | None:
    good, total = counts
    return (total - good) / total if total > 0 else None  # no traffic: NaN in PromQL, never alerts


def _burn_rate_condition(
    slo: SloDefinition,
    meta: AlertMeta,
    severity: str,
    quick: BurnRateWindow,
    slow: BurnRateWindow,
    windows: AlertWindows,
    counts: Mapping[timedelta, tuple[float, float]],
) -> _Condition | None:
    budget = slo.error_budget_percent / 100

    def holds(rate: BurnRateWindow) -> float | None:
        threshold = rate.burn_factor(windows.period) * budget
        short, long = (
            _error_ratio(counts[rate.short_window]),
            _error_ratio(counts[rate.long_window]),
        )
        if short is not None and long is not None and short > threshold and long > threshold:
            return short  # PromQL's `a and b` keeps a's value
        return None

    value = holds(quick)
    if value is None:
        value = holds(slow)
    if value is None:
        return None
    labels = {
        **slo.id_labels(),
        **slo.labels,
        "sloth_severity": severity,
        **meta.labels,
        "alertname": meta.name,
    }
    labels.setdefault("severity", _DEFAULT_SEVERITY[severity])
    annotations = burn_rate_annotations(severity, meta)
    return _Condition(labels, expand_all(annotations, labels, value), value, timedelta(0))


def _budget_samples(
    slo: SloDefinition, windows: AlertWindows, counts: Mapping[timedelta, tuple[float, float]]
) -> list[BudgetSample]:
    out = []
    for window, (good, total) in counts.items():
        budget = ErrorBudget(objective=slo.objective / 100, good=good, total=total)
        is_period = window == windows.period
        out.append(
            BudgetSample(
                slo.name,
                slo.service,
                format_duration(window),
                budget.burn_rate,
                budget.remaining if is_period else None,
                budget.has_data,
            )
        )
    return out
