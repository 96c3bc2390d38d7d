"""The pure evaluator on in-memory timelines: a month of 30 s steps costs milliseconds."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from slaengine.alerts import Alert
from slaengine.evaluator.rules import AlertEvaluator
from slaengine.rules.alertspec import AlertRuleSet
from slaengine.rules.fromconfig import slo_definition
from slaengine.rules.timeline import TimelineSliSource, build_timeline
from slaengine.rules.windows import WindowsCatalog

START = datetime(2026, 3, 2, tzinfo=UTC)
STEP = timedelta(seconds=30)


@dataclass
class Spec:
    name: str = "api"
    service: str | None = "api"
    sli: str = "availability"
    target: float = 99.9
    window: str = "30d"
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    alerting: dict[str, Any] | None = None


def evaluator_for(*specs: Spec, rules: AlertRuleSet | None = None) -> AlertEvaluator:
    base = WindowsCatalog.builtin().for_period(timedelta(days=30))
    return AlertEvaluator([slo_definition(s, base) for s in specs], rules or AlertRuleSet())


def replay(
    evaluator: AlertEvaluator, source: TimelineSliSource, start: datetime, end: datetime
) -> list[tuple[datetime, Alert]]:
    out = []
    now = start
    while now <= end:
        out += [(now, alert) for alert in evaluator.evaluate(source, now)]
        now += STEP
    return out


def steps(transitions: list[tuple[datetime, Alert]], severity: str) -> list[tuple[str, datetime]]:
    return [(a.status, at) for at, a in transitions if a.labels.get("sloth_severity") == severity]


def test_full_outage_pages_within_a_minute_then_resolves() -> None:
    timeline = build_timeline(START, [(120, 50, 50), (15, 0, 50), (480, 50, 50)])
    outage = timeline[120].at - timedelta(minutes=1)
    transitions = replay(
        evaluator_for(Spec()), TimelineSliSource({"api": timeline}), START, timeline[-1].at
    )
    page = steps(transitions, "page")
    assert [status for status, _ in page] == ["firing", "resolved"]
    assert page[0][1] - outage <= timedelta(minutes=1)
    # the slow page pair (30 m short window) keeps paging until the outage leaves 30 m
    recovery = outage + timedelta(minutes=15)
    assert page[1][1] - recovery == timedelta(minutes=30)
    fired = next(a for _, a in transitions if a.status == "firing")
    # the value is the short window's error ratio: one bad minute out of five
    assert fired.labels["severity"] == "critical" and fired.value == pytest.approx(0.2)
    assert fired.annotations["runbook_url"] == "docs/operations.md#slo-error-budget-burn"
    assert fired.annotations["summary"] == "api api SLO error budget burn rate is over expected."


def test_slow_burn_opens_a_ticket_but_never_pages_and_resolves() -> None:
    timeline = build_timeline(START, [(60, 997, 997), (240, 993, 997), (400, 997, 997)])
    transitions = replay(
        evaluator_for(Spec()), TimelineSliSource({"api": timeline}), START, timeline[-1].at
    )
    assert steps(transitions, "page") == []
    assert [status for status, _ in steps(transitions, "ticket")] == ["firing", "resolved"]


def test_alert_keeps_one_fingerprint_from_firing_to_resolved() -> None:
    timeline = build_timeline(START, [(60, 10, 10), (10, 0, 10), (60, 10, 10)])
    transitions = replay(
        evaluator_for(Spec()), TimelineSliSource({"api": timeline}), START, timeline[-1].at
    )
    page = [a for _, a in transitions if a.labels["sloth_severity"] == "page"]
    assert len({a.fingerprint for a in page}) == 1
    assert page[-1].status == "resolved" and page[-1].ends_at is not None
    assert page[-1].starts_at == page[0].starts_at


UPTIME_RULES = AlertRuleSet.model_validate(
    {
        "threshold_rules": [
            {
                "alert": "SlaUptimeBelowTarget",
                "metric": "sla_uptime_percentage",
                "op": "<",
                "threshold": 99.9,
                "for": "5m",
                "severity": "critical",
                "summary": 'Uptime of {{ $labels.service }} is {{ printf "%.2f" $value }} %',
            }
        ]
    }
)


def test_threshold_rule_is_pending_until_its_for_duration_then_fires_and_resolves() -> None:
    source = TimelineSliSource(
        {}, {"sla_uptime_percentage": [({"service": "api"}, 99.5), ({"service": "web"}, 99.99)]}
    )
    evaluator = AlertEvaluator([], UPTIME_RULES)
    seen = []
    for minute in range(7):
        seen += [
            (minute, a.status)
            for a in evaluator.evaluate(source, START + timedelta(minutes=minute))
        ]
    assert seen == [(0, "pending"), (5, "firing")]
    (alert,) = evaluator.active_alerts()
    assert alert.labels == {
        "service": "api",
        "severity": "critical",
        "alertname": "SlaUptimeBelowTarget",
    }
    assert alert.annotations["summary"] == "Uptime of api is 99.50 %"
    source.gauges["sla_uptime_percentage"] = [({"service": "api"}, 99.95)]
    (resolved,) = evaluator.evaluate(source, START + timedelta(minutes=8))
    assert resolved.status == "resolved" and resolved.fingerprint == alert.fingerprint


def test_threshold_rule_that_recovers_while_pending_never_fires() -> None:
    source = TimelineSliSource({}, {"sla_uptime_percentage": [({"service": "api"}, 99.0)]})
    evaluator = AlertEvaluator([], UPTIME_RULES)
    assert [a.status for a in evaluator.evaluate(source, START)] == ["pending"]
    source.gauges["sla_uptime_percentage"] = [({"service": "api"}, 100.0)]
    assert evaluator.evaluate(source, START + timedelta(minutes=2)) == []
    assert evaluator.active_alerts() == []


def test_no_data_rule_fires_after_the_quiet_time_and_resolves_with_traffic() -> None:
    rules = AlertRuleSet.model_validate(
        {
            "no_data_rules": [
                {
                    "after": "30m",
                    "severity": "warning",
                    "summary": "SLO {{ $labels.slo }} is silent",
                }
            ]
        }
    )
    timeline = build_timeline(START, [(60, 5, 5), (45, 0, 0), (30, 5, 5)])
    transitions = replay(
        evaluator_for(Spec(), rules=rules),
        TimelineSliSource({"api": timeline}),
        START,
        timeline[-1].at,
    )
    no_data = [(at, a) for at, a in transitions if a.name == "SloNoData"]
    assert [a.status for _, a in no_data] == ["firing", "resolved"]
    quiet_since = timeline[59].at
    assert no_data[0][0] - quiet_since == timedelta(minutes=30)
    assert no_data[0][1].annotations["summary"] == "SLO api is silent"
    assert no_data[1][0] == timeline[105].at  # first minute with events again


@pytest.mark.parametrize(
    ("target", "phases", "pages"),
    [
        pytest.param(
            100.0, [(60, 10, 10)], False, id="a 100 % objective without errors stays quiet"
        ),
        pytest.param(
            100.0, [(60, 10, 10), (3, 9, 10)], True, id="a 100 % objective pages on any error"
        ),
        pytest.param(99.9, [(60, 0, 0)], False, id="zero traffic never alerts"),
    ],
)
def test_guards_keep_budgets_finite(
    target: float, phases: list[tuple[int, float, float]], pages: bool
) -> None:
    timeline = build_timeline(START, phases)
    evaluator = evaluator_for(Spec(target=target))
    transitions = replay(evaluator, TimelineSliSource({"api": timeline}), START, timeline[-1].at)
    assert bool(steps(transitions, "page")) is pages
    samples = evaluator.budget_samples()
    assert samples and all(math.isfinite(s.burn_rate) for s in samples)
    assert all(math.isfinite(s.remaining) for s in samples if s.remaining is not None)
    period = next(s for s in samples if s.window == "30d")
    assert period.remaining == (0.0 if pages else 1.0)


def test_per_slo_overrides_change_windows_names_and_severities() -> None:
    spec = Spec(
        alerting={
            "name": "CheckoutBurn",
            "page": {"severity": "error"},
            "ticket": {"disable": True, "severity": "warning"},
            "page_quick": {"error_budget_percent": 50, "short_window": "5m", "long_window": "1h"},
        }
    )
    # 50 % of the budget in 1 h is a factor of 360: a 10 % error ratio no longer pages quickly
    timeline = build_timeline(START, [(60, 100, 100), (20, 90, 100)])
    transitions = replay(
        evaluator_for(spec), TimelineSliSource({"api": timeline}), START, timeline[-1].at
    )
    names = {(a.name, a.severity, a.labels["sloth_severity"]) for _, a in transitions}
    assert names == {
        ("CheckoutBurn", "error", "page")
    }  # the slow page window (6x) still catches it
    first = transitions[0][0] - (timeline[60].at - timedelta(minutes=1))
    assert first > timedelta(minutes=2)
