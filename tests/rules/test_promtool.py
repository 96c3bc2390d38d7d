"""Generated rules through the real promtool, and the evaluator compared with it step by step."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from slaengine import __version__
from slaengine.alerts import Alert
from slaengine.evaluator.rules import AlertEvaluator
from slaengine.rules.fromconfig import slo_definition
from slaengine.rules.generate import GenerateOptions, generate_slo_rules
from slaengine.rules.promtest import ExpectedAlert, write_promtool_test
from slaengine.rules.render import render_rule_documents
from slaengine.rules.timeline import MinuteCounts, TimelineSliSource, build_timeline
from slaengine.rules.windows import WindowsCatalog

PROMTOOL = shutil.which("promtool")
pytestmark = [
    pytest.mark.prometheus,
    pytest.mark.skipif(
        PROMTOOL is None, reason="promtool not installed (apt-get install prometheus)"
    ),
]
START = datetime(2026, 3, 2, tzinfo=UTC)
STEP = timedelta(seconds=30)


@dataclass
class Spec:  # the fields of slaengine.config.SloSpec the adapter reads
    name: str = "checkout-availability"
    service: str | None = "checkout"
    sli: str = "availability"
    target: float = 99.9
    window: str = "30d"
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    alerting: dict[str, Any] | None = None


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def run_evaluator(spec: Spec, timeline: list[MinuteCounts], end: datetime) -> list[ExpectedAlert]:
    """Evaluate every 30 s like Prometheus; firing intervals per alert."""
    evaluator = AlertEvaluator(
        [slo_definition(spec, WindowsCatalog.builtin().for_period(timedelta(days=30)))]
    )
    source = TimelineSliSource({spec.name: timeline})
    fired: dict[str, Alert] = {}
    intervals: list[ExpectedAlert] = []
    now = timeline[0].at - timedelta(minutes=1)
    while now <= end:
        for alert in evaluator.evaluate(source, now):
            if alert.status == "firing":
                fired[alert.fingerprint] = alert
            elif alert.status == "resolved":
                start = fired.pop(alert.fingerprint)
                intervals.append(ExpectedAlert(dict(start.labels), start.starts_at, now))
        now += STEP
    intervals += [ExpectedAlert(dict(a.labels), a.starts_at) for a in fired.values()]
    return intervals


def write_rules(tmp_path: Path, spec: Spec) -> Path:
    catalog = WindowsCatalog.builtin()
    slo = slo_definition(spec, catalog.for_period(timedelta(days=30)))
    groups = generate_slo_rules(
        slo,
        catalog.for_period(slo.period),
        GenerateOptions(__version__),
        spec="slaengine/v1",
        mode="cli-gen-slaengine",
    )
    path = tmp_path / "slo-rules.yaml"
    path.write_text(render_rule_documents([groups], __version__), encoding="utf-8")
    return path


def compare_with_promtool(
    tmp_path: Path, spec: Spec, timeline: list[MinuteCounts]
) -> list[ExpectedAlert]:
    rules = write_rules(tmp_path, spec)
    checked = promtool("check", "rules", str(rules), cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    end = timeline[-1].at
    expected = run_evaluator(spec, timeline, end)
    write_promtool_test(
        tmp_path / "test.yaml",
        timeline,
        slo=spec.name,
        rule_files=[rules.name],
        expected=expected,
        end=end,
        series_labels={"service": "checkout", "sli": "availability"},
    )
    result = promtool("test", "rules", "test.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    return expected


def by_severity(intervals: list[ExpectedAlert]) -> dict[str, ExpectedAlert]:
    return {i.labels["sloth_severity"]: i for i in intervals}


def test_full_outage_pages_within_a_minute_and_promtool_agrees(tmp_path: Path) -> None:
    timeline = build_timeline(START, [(60, 100, 100), (10, 0, 100), (420, 100, 100)])
    outage_start = timeline[60].at - timedelta(minutes=1)
    alerts = by_severity(compare_with_promtool(tmp_path, Spec(), timeline))
    page = alerts["page"]
    assert page.fired_at - outage_start <= timedelta(minutes=1)
    assert page.resolved_at is not None and page.labels["severity"] == "critical"
    assert alerts["ticket"].resolved_at is not None  # the 6 h window forgets the outage


def test_slow_burn_opens_a_ticket_only_and_promtool_agrees(tmp_path: Path) -> None:
    # 0.4 % errors burn a 99.9 % budget 4x: above the ticket factors, below the page factors.
    # 997 a minute keeps window ratios off exact ties with the threshold, where float
    # rounding (not semantics) decides and Prometheus and Python may differ by a minute.
    timeline = build_timeline(START, [(60, 997, 997), (240, 993, 997), (330, 997, 997)])
    alerts = by_severity(compare_with_promtool(tmp_path, Spec(), timeline))
    assert set(alerts) == {"ticket"}
    ticket = alerts["ticket"]
    assert ticket.labels["severity"] == "warning"
    assert ticket.resolved_at is not None
    burn_start = timeline[60].at - timedelta(minutes=1)
    assert timedelta(minutes=15) <= ticket.fired_at - burn_start <= timedelta(minutes=30)
