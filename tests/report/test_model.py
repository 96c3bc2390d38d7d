"""Pure report data: error-budget burn-down, overall status, SLO filtering, clean imports."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import pytest

from slaengine.report.model import DayPoint, MonthReport, SloMonth, budget_burndown


def test_burndown_ends_at_the_budget_left(october_report: MonthReport) -> None:
    uptime = october_report.slos[0]
    line = budget_burndown(uptime)
    assert len(line) == 31
    assert line[-1][1] == pytest.approx(uptime.budget_remaining)
    # budget only moves on the two days with downtime
    moves = [
        day.day for (day, left), (_, before) in zip(line[1:], line, strict=False) if left != before
    ]
    assert moves == [7, 19]


def test_burndown_goes_negative_when_overspent() -> None:
    days = tuple(DayPoint(date(2026, 2, d), 990, 1000, 99.0) for d in range(1, 29))
    slo = SloMonth("x", "X", "availability", "s", 99.5, 99.0, "breached", 2.0, -1.0, daily=days)
    assert budget_burndown(slo)[-1][1] == pytest.approx(-1.0)
    assert (
        budget_burndown(SloMonth("y", "Y", "uptime", "s", 99.0, None, "no-data", None, None)) == []
    )


def test_overall_status_is_the_worst(october_report: MonthReport) -> None:
    assert october_report.overall_status == "at-risk"
    assert october_report.with_slos(["uptime"]).overall_status == "met"


def test_filtering_keeps_config_order_and_rejects_unknown(october_report: MonthReport) -> None:
    subset = october_report.with_slos(["order-fulfillment", "uptime"])
    assert [slo.name for slo in subset.slos] == ["uptime", "order-fulfillment"]
    assert {p.slo_name for p in subset.trend} == {"uptime", "order-fulfillment"}
    with pytest.raises(KeyError, match="nope"):
        october_report.with_slos(["uptime", "nope"])


def test_model_and_formatting_import_no_rendering_or_io_frameworks() -> None:
    code = (
        "import sys, slaengine.report.model, slaengine.report.formatting, "
        "slaengine.report.months\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('reportlab', 'aiohttp', 'faust', 'aiokafka', 'aiosmtplib')]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
