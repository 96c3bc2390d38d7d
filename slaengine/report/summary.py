"""What the summary page says, as plain data: verdict, worst SLO, worst day, incidents, capacity.

Pure (no reportlab): the PDF draws it, the CSV/JSON export writes it, tests check it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from slaengine.durations import format_duration_words
from slaengine.report.formatting import (
    NO_DATA,
    format_attained,
    format_budget,
    format_budget_left,
    format_day,
    format_days,
    format_percent,
    format_target,
    percent_decimals,
    slo_label,
)
from slaengine.report.model import (
    STATUS_SEVERITY,
    CapacitySection,
    IncidentRow,
    MonthReport,
    SloMonth,
)

CAPACITY_LEVELS = (80, 90, 100)


@dataclass(frozen=True)
class WorstDay:
    """The day one SLO burnt the largest share of its month's error budget."""

    day: date
    slo: SloMonth
    value_percent: float
    budget_share: float  # that day's bad events / the month's error budget


@dataclass(frozen=True)
class IncidentTotals:
    count: int
    still_open: int
    total: timedelta  # summed duration of the resolved incidents
    longest: IncidentRow | None  # the longest resolved incident


@dataclass(frozen=True)
class CapacityWarning:
    resource: str
    days_to: dict[int, float]  # only the levels the forecast reaches


@dataclass(frozen=True)
class ReportSummary:
    verdict: str
    worst_slo: SloMonth | None
    worst_day: WorstDay | None
    incidents: IncidentTotals | None  # None: no incident data source
    capacity_warnings: tuple[CapacityWarning, ...] | None  # None: no forecaster

    # The sentences of the "Key facts" table, in the order the PDF and the export show them.
    def facts(self) -> list[tuple[str, str]]:
        return [
            ("Worst SLO", worst_slo_text(self.worst_slo)),
            ("Worst day", worst_day_text(self.worst_day)),
            ("Incidents", incidents_text(self.incidents)),
            ("Capacity", capacity_text(self.capacity_warnings)),
        ]


def summarise(report: MonthReport) -> ReportSummary:
    return ReportSummary(
        verdict=verdict(report),
        worst_slo=worst_slo(report.slos),
        worst_day=worst_day(report.slos),
        incidents=None if report.incidents is None else incident_totals(report.incidents),
        capacity_warnings=None if report.capacity is None else capacity_warnings(report.capacity),
    )


def _labels(slos: list[SloMonth]) -> str:
    return ", ".join(slo_label(slo) for slo in slos)


def verdict(report: MonthReport) -> str:
    """One or two sentences a stakeholder can repeat: what was missed, what is at risk."""
    slos = list(report.slos)
    if not slos:
        return "No SLOs are configured for this service."
    breached = [slo for slo in slos if slo.status == "breached"]
    at_risk = [slo for slo in slos if slo.status == "at-risk"]
    no_data = [slo for slo in slos if slo.status == "no-data"]
    sentences = []
    if breached:
        missed = "; ".join(
            f"{slo_label(slo)} {format_attained(slo)} (target {format_target(slo)})"
            for slo in breached
        )
        verb = "its target" if len(breached) == 1 else "their targets"
        sentences.append(f"{len(breached)} of {len(slos)} SLOs missed {verb}: {missed}.")
    elif no_data:
        sentences.append(f"All {len(slos) - len(no_data)} SLOs with data met their targets.")
    else:
        sentences.append(f"All {len(slos)} SLOs met their targets.")
    if at_risk:
        sentences.append(f"At risk (error budget nearly spent): {_labels(at_risk)}.")
    if no_data:
        sentences.append(f"No data: {_labels(no_data)}.")
    return " ".join(sentences)


def worst_slo(slos: tuple[SloMonth, ...]) -> SloMonth | None:
    """The SLO with the worst status; among equals, the one that used most of its budget."""
    measured = [slo for slo in slos if slo.status != "no-data"]
    if not measured:
        return None
    return max(
        measured,
        key=lambda slo: (STATUS_SEVERITY[slo.status], slo.budget_consumed or 0.0),
    )


def worst_day(slos: tuple[SloMonth, ...]) -> WorstDay | None:
    """The (day, SLO) that burnt the largest share of that SLO's month budget; None if no day
    did."""
    worst: WorstDay | None = None
    for slo in slos:
        month_total = sum(point.total for point in slo.daily)
        allowed_bad = (1.0 - slo.target / 100.0) * month_total
        if allowed_bad <= 0:
            continue
        for point in slo.daily:
            bad = point.total - point.good
            if bad <= 0 or point.value_percent is None:
                continue
            share = bad / allowed_bad
            if worst is None or share > worst.budget_share:
                worst = WorstDay(point.day, slo, point.value_percent, share)
    return worst


def incident_totals(incidents: tuple[IncidentRow, ...]) -> IncidentTotals:
    resolved = [row for row in incidents if row.duration is not None]
    return IncidentTotals(
        count=len(incidents),
        still_open=len(incidents) - len(resolved),
        total=sum((row.duration for row in resolved if row.duration), timedelta()),
        longest=max(resolved, key=lambda row: row.duration or timedelta(), default=None),
    )


def capacity_warnings(sections: tuple[CapacitySection, ...]) -> tuple[CapacityWarning, ...]:
    """Resources whose forecast reaches 80, 90 or 100 % of capacity within its horizon."""
    warnings = []
    for section in sections:
        reached = {
            level: days
            for level in CAPACITY_LEVELS
            if (days := section.days_to.get(level)) is not None
        }
        if reached:
            warnings.append(CapacityWarning(section.resource, reached))
    return tuple(warnings)


# ---- the sentences ------------------------------------------------------------------------


def worst_slo_text(slo: SloMonth | None) -> str:
    if slo is None:
        return NO_DATA
    budget = (
        f"error budget {format_budget_left(slo.budget_remaining)}"
        if slo.budget_remaining is not None and slo.budget_remaining < 0
        else f"{format_budget(slo.budget_consumed)} of the error budget used"
    )
    return f"{slo_label(slo)}: {format_attained(slo)} (target {format_target(slo)}), {budget}"


def worst_day_text(day: WorstDay | None) -> str:
    if day is None:
        return "no day with failures"
    value = format_percent(day.value_percent, percent_decimals(day.slo))
    return (
        f"{format_day(day.day)}: {slo_label(day.slo)} at {value}, "
        f"{format_budget(day.budget_share)} of its month's error budget in one day"
    )


def incidents_text(totals: IncidentTotals | None) -> str:
    if totals is None:
        return "not reported (no incident data source)"
    if not totals.count:
        return "none this month"
    noun = "incident" if totals.count == 1 else "incidents"
    text = f"{totals.count} {noun}, {format_duration_words(totals.total)} in total"
    if totals.longest is not None:
        text += (
            f", longest {format_duration_words(totals.longest.duration)} ({totals.longest.title})"
        )
    if totals.still_open:
        text += f", {totals.still_open} still open"
    return text


def capacity_text(warnings: tuple[CapacityWarning, ...] | None) -> str:
    if warnings is None:
        return "no forecast (the capacity forecaster is not configured)"
    if not warnings:
        return "no resource reaches 80% of its capacity within the forecast"
    return "; ".join(_warning_text(warning) for warning in warnings)


def _warning_text(warning: CapacityWarning) -> str:
    """``disk reaches 80% in 68 days, 90% in 106 days``; ``disk is past 90% of capacity``."""
    past = [level for level, days in warning.days_to.items() if days <= 0]
    ahead = [(level, days) for level, days in warning.days_to.items() if days > 0]
    parts = []
    if past:
        parts.append(f"is past {max(past)}% of capacity")
    if ahead:
        parts.append(
            "reaches " + ", ".join(f"{level}% in {format_days(days)}" for level, days in ahead)
        )
    return f"{warning.resource} " + " and ".join(parts)
