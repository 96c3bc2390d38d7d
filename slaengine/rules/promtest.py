"""Write a ``promtool test rules`` file that replays a per-minute timeline.

The counters slaengine exports (``slaengine_slo_events_total`` and
``slaengine_slo_good_events_total``) become input series, and every expected
alert (e.g. the in-service evaluator's firing intervals) becomes ``ALERTS``
checks that allow ``tolerance_steps`` evaluation intervals of disagreement:
firing ``tolerance_steps`` steps after the expected start and end-side, not
firing one step further out on each side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from slaengine.durations import format_duration
from slaengine.rules.fromconfig import EVENTS_TOTAL, GOOD_EVENTS_TOTAL
from slaengine.rules.promql import label_filter
from slaengine.rules.timeline import MinuteCounts

# Counters of a long-running process are far from zero; starting at zero would let
# rate()'s extrapolation treat the good and total counters differently.
COUNTER_START = 1_000_000


@dataclass(frozen=True)
class ExpectedAlert:
    labels: Mapping[str, str]  # with alertname, as the evaluator reports them
    fired_at: datetime
    resolved_at: datetime | None = None


def promtool_origin(timeline: Sequence[MinuteCounts]) -> datetime:
    """promtool's time 0: one minute before the first timeline minute (the baseline sample)."""
    return timeline[0].at - timedelta(minutes=1)


def _counter_values(timeline: Sequence[MinuteCounts], attribute: str) -> str:
    value = float(COUNTER_START)
    values = [value]
    for minute in timeline:
        value += getattr(minute, attribute)
        values.append(value)
    return " ".join(f"{v:.17g}" for v in values)


def _alerts_check(alert: ExpectedAlert, at: timedelta, firing: bool) -> dict[str, Any]:
    name = alert.labels["alertname"]
    series = {**alert.labels, "alertstate": "firing"}
    selector = {"alertname": name, "alertstate": "firing", **alert.labels}
    return {
        "expr": f"ALERTS{label_filter(selector)}",
        "eval_time": format_duration(at) if at else "0s",
        "exp_samples": [{"labels": f"ALERTS{label_filter(series)}", "value": 1}] if firing else [],
    }


def build_promtool_test(
    timeline: Sequence[MinuteCounts],
    *,
    slo: str,
    rule_files: Sequence[str],
    expected: Sequence[ExpectedAlert],
    end: datetime,
    series_labels: Mapping[str, str] | None = None,
    eval_interval: timedelta = timedelta(seconds=30),
    tolerance_steps: int = 1,
) -> dict[str, Any]:
    """The test document; ``end`` bounds the checks for alerts still firing at the end."""
    origin = promtool_origin(timeline)
    labels = label_filter({**(series_labels or {}), "slo": slo}).replace(", ", ",")
    checks = []
    margin = eval_interval * tolerance_steps
    for alert in expected:
        fired = alert.fired_at - origin
        checks.append(_alerts_check(alert, fired + margin, firing=True))
        if fired - margin - eval_interval >= timedelta(0):
            checks.append(_alerts_check(alert, fired - margin - eval_interval, firing=False))
        if alert.resolved_at is not None:
            resolved = alert.resolved_at - origin
            if resolved + margin <= end - origin:
                checks.append(_alerts_check(alert, resolved + margin, firing=False))
            if resolved - margin - eval_interval > fired + margin:
                checks.append(_alerts_check(alert, resolved - margin - eval_interval, firing=True))
    return {
        "rule_files": list(rule_files),
        "evaluation_interval": format_duration(eval_interval),
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": f"{EVENTS_TOTAL}{labels}",
                        "values": _counter_values(timeline, "total"),
                    },
                    {
                        "series": f"{GOOD_EVENTS_TOTAL}{labels}",
                        "values": _counter_values(timeline, "good"),
                    },
                ],
                "promql_expr_test": checks,
            }
        ],
    }


def write_promtool_test(path: str | Path, timeline: Sequence[MinuteCounts], **options: Any) -> Path:
    """``build_promtool_test`` written as YAML; run it with ``promtool test rules <path>``."""
    path = Path(path)
    yaml = YAML()
    yaml.width = 1 << 16
    with path.open("w", encoding="utf-8") as out:
        yaml.dump(build_promtool_test(timeline, **options), out)
    return path
