"""Threshold rules generated per SLO: its own series, its own target, a name that says its SLI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from slaengine.config import load_sla_config
from slaengine.errors import ConfigError
from slaengine.evaluator.rules import AlertEvaluator
from slaengine.router.config import DEFAULT_ROUTING_FILE, load_routing_config
from slaengine.router.routing import build_route_tree
from slaengine.rules.alertspec import AlertRuleSet, load_alert_rules
from slaengine.rules.timeline import TimelineSliSource

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "slaengine" / "data" / "slo.yaml"
START = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)


def shipped_rules() -> AlertRuleSet:
    return load_alert_rules(REPO / "alert_rules").for_slos(load_sla_config(CONFIG).slos)


def rules_named(name: str) -> list:
    return [rule for rule in shipped_rules().threshold_rules if rule.alert == name]


def test_uptime_rule_reads_only_uptime_slos_with_their_own_target() -> None:
    [uptime] = rules_named("SlaUptimeBelowTarget")
    assert uptime.matchers == {"slo": "api-uptime", "window": "30d"}
    assert (uptime.op, uptime.threshold, uptime.severity, uptime.for_) == (
        "<",
        99.9,
        "critical",
        "5m",
    )
    assert uptime.summary.startswith("Uptime SLO api-uptime of orders-api: ")


def test_each_availability_slo_gets_its_own_rule_target_and_window() -> None:
    found = {r.matchers["slo"]: r for r in rules_named("SlaAvailabilityBelowTarget")}
    assert set(found) == {"api-availability", "catalog-availability"}
    assert found["api-availability"].threshold == 99.9
    assert found["catalog-availability"].threshold == 99.5
    assert found["catalog-availability"].matchers["window"] == "calendar-month"
    assert "below its 99.5 % target" in found["catalog-availability"].summary
    assert found["catalog-availability"].summary.startswith("Availability SLO catalog-availability")


def test_the_seeds_latency_and_projection_lag_warnings() -> None:
    [latency] = rules_named("ApiLatencyP95High")
    assert latency.matchers == {"slo": "api-latency", "window": "5m"}
    assert (latency.op, latency.threshold, latency.severity) == (">", 500, "warning")
    assert latency.rule_labels() == {"urgency": "low", "severity": "warning"}
    [lag] = rules_named("ProjectionLagHigh")
    assert lag.metric == "sla_projection_lag_seconds"
    assert lag.matchers == {"slo": "projection-lag", "window": "latest"}
    assert (lag.op, lag.threshold, lag.severity) == (">", 5, "warning")
    [fulfillment] = rules_named("OrderFulfillmentLow")
    assert fulfillment.threshold == 0.95 and fulfillment.matchers["window"] == "7d"


def test_the_low_urgency_latency_warning_opens_a_pagerduty_incident_and_reaches_the_team() -> None:
    tree = build_route_tree(load_routing_config(DEFAULT_ROUTING_FILE).route)
    [latency] = rules_named("ApiLatencyP95High")
    labels = {
        "alertname": latency.alert,
        "slo": "api-latency",
        "service": "orders-api",
        "window": "5m",
        **latency.rule_labels(),
    }
    assert [r.receiver for r in tree.matches(labels)] == ["pagerduty-low", "team-warnings"]
    [lag] = rules_named("ProjectionLagHigh")
    lag_labels = {"alertname": lag.alert, "slo": "projection-lag", **lag.rule_labels()}
    assert [r.receiver for r in tree.matches(lag_labels)] == ["team-warnings"]


def test_an_availability_slo_below_99_9_but_above_its_own_target_does_not_alert() -> None:
    """The old rule: sla_uptime_percentage < 99.9 on every series, availability ones included."""
    gauges = {
        "sla_uptime_percentage": [
            (
                {
                    "slo": "catalog-availability",
                    "service": "catalog-api",
                    "window": "calendar-month",
                },
                99.7,
            ),
            ({"slo": "api-availability", "service": "orders-api", "window": "30d"}, 99.734),
            ({"slo": "api-uptime", "service": "orders-api", "window": "30d"}, 99.95),
            (
                {"slo": "api-uptime", "service": "orders-api", "window": "1h"},
                90.0,
            ),  # not its window
        ]
    }
    evaluator = AlertEvaluator([], shipped_rules())
    source = TimelineSliSource({}, gauges)
    for minute in range(6):
        evaluator.evaluate(source, START + timedelta(minutes=minute))
    [alert] = [a for a in evaluator.active_alerts() if a.status == "firing"]
    assert alert.name == "SlaAvailabilityBelowTarget" and alert.labels["slo"] == "api-availability"
    assert alert.labels["severity"] == "warning"
    assert alert.annotations["summary"] == (
        "Availability SLO api-availability of orders-api: 99.734 % "
        "of requests good over 30d, below its 99.9 % target"
    )


def test_projection_lag_alert_names_the_slow_projection() -> None:
    gauges = {
        "sla_projection_lag_seconds": [
            ({"slo": "projection-lag", "projection": "AvailableStock", "window": "latest"}, 7.25),
            ({"slo": "projection-lag", "projection": "OrderList", "window": "latest"}, 0.4),
            (
                {"slo": "projection-lag", "projection": "*", "window": "1h"},
                9.0,
            ),  # a p99, not the rule's
        ]
    }
    evaluator = AlertEvaluator([], shipped_rules())
    source = TimelineSliSource({}, gauges)
    for minute in range(3):
        evaluator.evaluate(source, START + timedelta(minutes=minute))
    [alert] = evaluator.active_alerts()
    assert alert.status == "firing" and alert.labels["projection"] == "AvailableStock"
    assert alert.annotations["summary"] == (
        "Projection lag SLO projection-lag: AvailableStock trails "
        "its event store by 7.2 s, above 5 s"
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            "slo_threshold_rules:\n  - alert: X\n    sli: uptime\n    metric: m\n    op: '<'\n"
            "    threshold: threshold_ms\n    severity: warning\n    summary: s\n",
            ":2: slo_threshold_rules[0]: Value error, threshold threshold_ms is not defined for "
            "uptime SLOs",
            id="a threshold the SLI does not have",
        ),
        pytest.param(
            "slo_threshold_rules:\n  - alert: X\n    sli: errors\n    metric: m\n    op: '<'\n"
            "    threshold: target\n    severity: warning\n    summary: s\n",
            ":3: slo_threshold_rules[0].sli:",
            id="an unknown SLI kind names its line",
        ),
    ],
)
def test_bad_slo_threshold_rules_name_file_line_and_field(
    tmp_path: Path, body: str, expected: str
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(body)
    with pytest.raises(ConfigError) as caught:
        load_alert_rules(path)
    assert f"{path}{expected}" in str(caught.value)


def generate(tmp_path: Path) -> Path:
    out = tmp_path / "rules.yml"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "slaengine.cli",
            "rules",
            "generate",
            "-i",
            str(CONFIG),
            "--alert-rules",
            str(REPO / "alert_rules"),
            "-o",
            str(out),
        ],
        check=True,
        cwd=REPO,
        capture_output=True,
        timeout=120,
    )
    return out


def test_prometheus_rules_are_generated_per_slo(tmp_path: Path) -> None:
    document = YAML(typ="safe").load(generate(tmp_path).read_text())
    [group] = [g for g in document["groups"] if g["name"] == "slaengine-threshold-rules"]
    exprs = {(r["alert"], r["expr"]) for r in group["rules"]}
    assert (
        "SlaUptimeBelowTarget",
        'sla_uptime_percentage{slo="api-uptime", window="30d"} < 99.9',
    ) in exprs
    assert (
        "SlaAvailabilityBelowTarget",
        'sla_uptime_percentage{slo="catalog-availability", window="calendar-month"} < 99.5',
    ) in exprs
    assert (
        "ApiLatencyP95High",
        'sla_api_response_time_p95{slo="api-latency", window="5m"} > 500',
    ) in exprs
    assert (
        "ProjectionLagHigh",
        'sla_projection_lag_seconds{slo="projection-lag", window="latest"} > 5',
    ) in exprs
    assert not any(
        alert == "SlaUptimeBelowTarget" and "availability" in expr for alert, expr in exprs
    )


@pytest.mark.prometheus
@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_promtool_fires_only_the_rule_of_the_slo_below_its_own_target(tmp_path: Path) -> None:
    rules = generate(tmp_path)
    series = [
        ('sla_uptime_percentage{slo="api-uptime",service="orders-api",window="30d"}', "99.8x20"),
        (
            'sla_uptime_percentage{slo="api-availability",service="orders-api",window="30d"}',
            "99.95x20",
        ),
        (
            'sla_uptime_percentage{slo="catalog-availability",service="catalog-api",window="calendar-month"}',
            "99.7x20",
        ),
    ]
    test = {
        "rule_files": [rules.name],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series],
                "alert_rule_test": [
                    {
                        "eval_time": "10m",
                        "alertname": "SlaAvailabilityBelowTarget",
                        "exp_alerts": [],
                    },
                    {
                        "eval_time": "10m",
                        "alertname": "SlaUptimeBelowTarget",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "severity": "critical",
                                    "slo": "api-uptime",
                                    "service": "orders-api",
                                    "window": "30d",
                                },
                                "exp_annotations": {
                                    "summary": "Uptime SLO api-uptime of orders-api: 99.800 % "
                                    "over 30d, below its "
                                    "99.9 % target",
                                    "description": "Minutes up (one-minute slices) of orders-api "
                                    "stayed under the "
                                    "99.9 % objective of api-uptime for 5 minutes.",
                                    "runbook_url": "docs/operations.md#sla-uptime-below-target",
                                },
                            }
                        ],
                    },
                ],
            }
        ],
    }
    with (tmp_path / "test.yaml").open("w") as handle:
        YAML(typ="safe").dump(test, handle)
    done = subprocess.run(
        ["promtool", "test", "rules", "test.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
