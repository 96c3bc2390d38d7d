"""A real Prometheus scraping a worker on the real broker: same numbers, generated rules load."""

from __future__ import annotations

import math
import shutil
import subprocess
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from ruamel.yaml import YAML

from .conftest import DeployStack, iso, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.prometheus, pytest.mark.slow]
# The worker's collector may answer a scrape from an evaluation up to 1 s old (its cache), and
# evaluates a hair after Prometheus stamps the scrape: the value must match one of these.
EVALUATION_OFFSETS_S = (-1.0, -0.5, 0.0, 0.3)


def latest_samples(stack: DeployStack, metric: str) -> dict[tuple[str, str], tuple[float, float]]:
    """(slo, window) -> (scrape timestamp, value) of the newest sample in Prometheus."""
    out = {}
    for series in stack.prometheus.query(f"{metric}[10s]"):
        labels = series["metric"]
        ts, value = series["values"][-1]
        out[(labels["slo"], labels["window"])] = (float(ts), float(value))
    return out


def worker_rows(stack: DeployStack, at: float) -> dict[tuple[str, str], dict[str, Any]]:
    moment = datetime.fromtimestamp(at, UTC)
    rows = stack.worker_json(f"/api/v1/slos?at={iso(moment)}")["slos"]
    return {(row["name"], row["window"]): row for row in rows}


def same(a: float, b: float | None) -> bool:
    return b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def compare(stack: DeployStack, metric: str, field: str) -> int:
    samples = latest_samples(stack, metric)
    assert samples, f"Prometheus has no {metric}"
    cache: dict[float, dict[tuple[str, str], dict[str, Any]]] = {}
    for key, (ts, value) in samples.items():
        candidates = []
        for offset in EVALUATION_OFFSETS_S:
            at = round(ts + offset, 3)
            if at not in cache:
                cache[at] = worker_rows(stack, at)
            candidates.append(cache[at][key][field])
        assert any(same(value, c) for c in candidates), (
            f"{metric}{key} = {value} in Prometheus, worker says {candidates}"
        )
    return len(samples)


def scraped_everything(stack: DeployStack, metric: str) -> bool:
    on_worker = sum(
        1 for line in stack.worker_metrics().splitlines() if line.startswith(metric + "{")
    )
    return on_worker > 0 and len(stack.prometheus.query(metric)) == on_worker


def test_uptime_and_burn_rates_in_prometheus_equal_the_workers_api(
    deploy_stack: DeployStack,
) -> None:
    for metric in ("sla_uptime_percentage", "slaengine_slo_burn_rate"):
        wait_for(lambda m=metric: scraped_everything(deploy_stack, m), 60, f"{metric} scraped")
    time.sleep(2)  # a few more scrapes, so every series has a recent sample
    uptime_series = compare(deploy_stack, "sla_uptime_percentage", "value")
    burn_series = compare(deploy_stack, "slaengine_slo_burn_rate", "burn_rate")
    # 3 uptime/availability SLOs x 10 windows, 6 SLOs x 10 windows of burn rates
    assert (uptime_series, burn_series) == (30, 60)
    # The outage of orders-api is still going on: the numbers are the real ones, not defaults.
    five_minutes = deploy_stack.prometheus.query(
        'sla_uptime_percentage{slo="api-availability", window="5m"}'
    )
    assert float(five_minutes[0]["value"][1]) < 50
    burning = deploy_stack.prometheus.query(
        'slaengine_slo_burn_rate{slo="api-availability", window="1h"} > 14.4'
    )
    assert burning, "a full outage in the last hour must burn the budget over 14.4x"


def rule_count(path: Any) -> int:
    document = YAML(typ="safe").load(path.read_text())
    return sum(len(group["rules"]) for group in document["groups"])


def test_generated_rules_pass_promtool_and_load_in_prometheus_with_health_ok(
    deploy_stack: DeployStack,
) -> None:
    files = sorted(deploy_stack.rules_dir.glob("*.yml"))
    assert files, "deploy/prometheus/rules has no rule file"
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing (apt-get install -y prometheus)"
    checked = subprocess.run(
        [promtool, "check", "rules", "--lint=none", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    expected = sum(rule_count(path) for path in files)

    def rules() -> list[dict[str, Any]]:
        groups = deploy_stack.prometheus.api("/api/v1/rules")["groups"]
        return [rule for group in groups for rule in group["rules"]]

    def all_evaluated() -> bool:
        loaded = rules()
        return len(loaded) == expected and all(rule["health"] != "unknown" for rule in loaded)

    wait_for(all_evaluated, 30, f"{expected} rules loaded and evaluated")
    unhealthy = [
        (rule["name"], rule["health"], rule.get("lastError"))
        for rule in rules()
        if rule["health"] != "ok"
    ]
    assert unhealthy == []
    names = {rule["name"] for rule in rules()}
    assert {
        "slo:sli_error:ratio_rate5m",
        "slo:current_burn_rate:ratio",
        "slo:period_error_budget_remaining:ratio",
        "SloErrorBudgetBurn",
    } <= names
    # Recording rules over the worker's lifetime counters produce series once scraped.
    wait_for(lambda: deploy_stack.prometheus.query("sloth_slo_info"), 30, "sloth_slo_info")
