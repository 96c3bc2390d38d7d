"""Golden tests of the summary page's data and sentences (conftest.py's October, by arithmetic).

The October inputs: uptime loses 12 minutes on 7 Oct and 10 on 19 Oct of 44,700 minutes at a
99.9% target (budget 44.7 minutes); fulfillment uses 79% of its budget (at risk); search has no
data; two incidents of 12 and 10 minutes; the disk forecast reaches 80% and 90% of capacity.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from slaengine.report.model import IncidentRow, MonthReport
from slaengine.report.summary import (
    capacity_text,
    capacity_warnings,
    incident_totals,
    incidents_text,
    summarise,
    verdict,
    worst_day,
    worst_slo,
)


def breached_uptime(report: MonthReport) -> MonthReport:
    """October with uptime at 99.70%: three times its budget spent (the issue's -199.0%)."""
    uptime = replace(
        report.slos[0],
        attained=99.70,
        status="breached",
        budget_consumed=2.99,
        budget_remaining=-1.99,
    )
    return replace(report, slos=(uptime, *report.slos[1:]))


def test_the_october_summary_reads_as_computed(october_report: MonthReport) -> None:
    summary = summarise(october_report)
    assert summary.verdict == (
        "All 4 SLOs with data met their targets. "
        "At risk (error budget nearly spent): Fulfillment. No data: Search."
    )
    assert summary.facts() == [
        ("Worst SLO", "Fulfillment: 96.0% (target 95%), 79.0% of the error budget used"),
        # 12 bad minutes of a 44.7-minute budget = 26.8%; (1440 - 12) / 1440 = 99.166...%
        (
            "Worst day",
            "07 Oct 2026: Uptime at 99.16%, 26.8% of its month's error budget in one day",
        ),
        ("Incidents", "2 incidents, 22 min in total, longest 12 min (Shop down for 12 minutes)"),
        ("Capacity", "orders database disk reaches 80% in 68 days, 90% in 106 days"),
    ]


def test_the_worst_day_is_the_largest_share_of_a_month_budget(october_report: MonthReport) -> None:
    day = worst_day(october_report.slos)
    assert day is not None
    assert (day.day, day.slo.name) == (date(2026, 10, 7), "uptime")
    assert day.budget_share == pytest.approx(12 / (0.001 * 44_700))


def test_a_breach_names_the_slo_its_value_and_target(october_report: MonthReport) -> None:
    report = breached_uptime(october_report)
    assert verdict(report) == (
        "1 of 5 SLOs missed its target: Uptime 99.70% (target 99.9%). "
        "At risk (error budget nearly spent): Fulfillment. No data: Search."
    )
    worst = worst_slo(report.slos)
    assert worst is not None and worst.name == "uptime"
    assert summarise(report).facts()[0] == (
        "Worst SLO",
        "Uptime: 99.70% (target 99.9%), error budget overspent by 2×",
    )


def test_all_met_and_no_slos(october_report: MonthReport) -> None:
    met = tuple(replace(slo, status="met") for slo in october_report.slos[:2])
    assert verdict(replace(october_report, slos=met)) == "All 2 SLOs met their targets."
    assert verdict(replace(october_report, slos=())) == "No SLOs are configured for this service."
    assert worst_slo(()) is None and worst_day(()) is None


def test_the_worst_slo_among_equals_used_most_budget(october_report: MonthReport) -> None:
    met = tuple(replace(slo, status="met") for slo in october_report.slos)
    worst = worst_slo(met)
    assert worst is not None and worst.name == "order-fulfillment"  # 79.0% of its budget


def test_incident_totals_count_open_ones_apart() -> None:
    start = datetime(2026, 10, 3, 10, 0, tzinfo=UTC)
    rows = (
        IncidentRow("db failover", "high", start, start + timedelta(hours=3, minutes=12)),
        IncidentRow("cache", "low", start, start + timedelta(minutes=14, seconds=30)),
        IncidentRow("still burning", "high", start, None),
    )
    totals = incident_totals(rows)
    assert (totals.count, totals.still_open) == (3, 1)
    assert totals.total == timedelta(hours=3, minutes=26, seconds=30)
    assert incidents_text(totals) == (
        "3 incidents, 3 h 26 min in total, longest 3 h 12 min (db failover), 1 still open"
    )
    assert incidents_text(incident_totals(())) == "none this month"
    assert incidents_text(None) == "not reported (no incident data source)"


def test_capacity_warnings_only_for_thresholds_within_the_forecast(
    october_report: MonthReport,
) -> None:
    assert october_report.capacity is not None
    disk = october_report.capacity[0]
    calm = replace(disk, resource="queue", days_to={80: None, 90: None, 100: None})
    warnings = capacity_warnings((disk, calm))
    assert [w.resource for w in warnings] == ["orders database disk"]
    assert set(warnings[0].days_to) == {80, 90}
    assert capacity_text(capacity_warnings((calm,))) == (
        "no resource reaches 80% of its capacity within the forecast"
    )
    assert capacity_text(None) == "no forecast (the capacity forecaster is not configured)"


def test_a_threshold_already_passed_is_said_so(october_report: MonthReport) -> None:
    assert october_report.capacity is not None
    full = replace(
        october_report.capacity[0], resource="locations", days_to={80: 0.0, 90: 0.0, 100: 60.4}
    )
    assert capacity_text(capacity_warnings((full,))) == (
        "locations is past 90% of capacity and reaches 100% in 60 days"
    )


def test_summary_sections_without_a_source_say_so(october_report: MonthReport) -> None:
    bare = replace(october_report, incidents=None, capacity=None)
    facts = dict(summarise(bare).facts())
    assert facts["Incidents"] == "not reported (no incident data source)"
    assert facts["Capacity"] == "no forecast (the capacity forecaster is not configured)"
