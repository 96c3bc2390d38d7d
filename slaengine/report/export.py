"""The numbers behind the monthly PDF, as CSV or JSON: one row per figure.

Each row names where the figure is (``section``, ``subject``, ``period``), its value as
computed (full precision: percent 0–100, budgets as fractions, durations in seconds,
latencies in ms) and ``shown``: the text the PDF prints for it, from the same
``formatting`` functions. Chart data (days, forecasts) has an empty ``shown``.

``slaengine report --format csv|json`` writes these; the worker stores them next to the
PDF (``sla-report-YYYY-MM.csv|.json``) for ``GET /api/v1/reports/YYYY-MM.csv|.json``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Literal

from slaengine.durations import format_duration_words
from slaengine.report.formatting import (
    STATUS_LABELS,
    format_attained,
    format_budget,
    format_budget_left,
    format_change,
    format_count,
    format_days,
    format_headline,
    format_model_name,
    format_ms,
    format_percent,
    format_quantity,
    format_seconds,
    format_target,
    format_trend_cell,
    percent_decimals,
)
from slaengine.report.model import MonthReport, SloMonth
from slaengine.report.summary import summarise

ExportFormat = Literal["csv", "json"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("csv", "json")
COLUMNS = ("section", "subject", "period", "figure", "value", "unit", "shown")
Value = float | int | str | None


@dataclass(frozen=True)
class Figure:
    section: str  # summary, slo, daily, worst_window, incident, fulfillment, lag, capacity, trend
    subject: str  # the SLO, incident, resource or projection the figure is about
    period: str  # 2026-10 (month), 2026-10-13 (day), or an ISO instant
    figure: str
    value: Value
    unit: str
    shown: str  # as printed in the PDF; "" for chart data


def export_filename(month: date, fmt: str) -> str:
    return f"sla-report-{month:%Y-%m}.{fmt}"


def report_figures(report: MonthReport) -> list[Figure]:
    """Every figure of the report, in the PDF's order."""
    return [
        *_summary_figures(report),
        *(figure for slo in report.slos for figure in _slo_figures(slo, report)),
        *_incident_figures(report),
        *_fulfillment_figures(report),
        *_lag_figures(report),
        *_capacity_figures(report),
        *_trend_figures(report),
    ]


def _summary_figures(report: MonthReport) -> list[Figure]:
    month = f"{report.month:%Y-%m}"
    summary = summarise(report)
    figures = [
        Figure(
            "summary",
            "report",
            month,
            "overall_status",
            report.overall_status,
            "",
            STATUS_LABELS[report.overall_status],
        ),
        Figure("summary", "report", month, "verdict", None, "", summary.verdict),
    ]
    facts = dict(summary.facts())
    worst = summary.worst_slo
    figures.append(
        Figure(
            "summary",
            "report",
            month,
            "worst_slo",
            worst.name if worst else None,
            "",
            facts["Worst SLO"],
        )
    )
    day = summary.worst_day
    figures.append(
        Figure(
            "summary",
            day.slo.name if day else "report",
            day.day.isoformat() if day else month,
            "worst_day_budget_share",
            day.budget_share if day else None,
            "fraction",
            facts["Worst day"],
        )
    )
    totals = summary.incidents
    figures.append(
        Figure(
            "summary",
            "incidents",
            month,
            "count",
            totals.count if totals else None,
            "incidents",
            facts["Incidents"],
        )
    )
    if totals:
        longest = totals.longest.duration if totals.longest else None
        figures += [
            Figure(
                "summary",
                "incidents",
                month,
                "total_duration",
                totals.total.total_seconds(),
                "s",
                "",
            ),
            Figure(
                "summary",
                "incidents",
                month,
                "longest_duration",
                longest.total_seconds() if longest else None,
                "s",
                "",
            ),
        ]
    warnings = summary.capacity_warnings
    figures.append(
        Figure(
            "summary",
            "capacity",
            month,
            "warnings",
            len(warnings) if warnings is not None else None,
            "resources",
            facts["Capacity"],
        )
    )
    return figures


def _slo_figures(slo: SloMonth, report: MonthReport) -> list[Figure]:
    month = f"{report.month:%Y-%m}"
    headline_value = slo.headline_latency_ms if slo.sli == "latency" else slo.attained
    decimals = percent_decimals(slo)

    def row(figure: str, value: Value, unit: str, shown: str) -> Figure:
        return Figure("slo", slo.name, month, figure, value, unit, shown)

    figures = [
        row(
            "headline", headline_value, "ms" if slo.sli == "latency" else "%", format_headline(slo)
        ),
        row("target", slo.target, "%", format_target(slo)),
        row("attained", slo.attained, "%", format_attained(slo)),
        row("status", slo.status, "", STATUS_LABELS[slo.status]),
        row("budget_used", slo.budget_consumed, "fraction", format_budget(slo.budget_consumed)),
        row(
            "budget_left",
            slo.budget_remaining,
            "fraction",
            format_budget_left(slo.budget_remaining),
        ),
        row(
            "previous_attained",
            slo.previous_attained,
            "%",
            format_change(slo.attained, slo.previous_attained, decimals),
        ),
    ]
    if slo.sli == "latency":
        figures += [
            row("latency_threshold", slo.latency_threshold_ms, "ms", ""),
            row("p50", slo.p50_ms, "ms", format_ms(slo.p50_ms)),
            row("p95", slo.p95_ms, "ms", format_ms(slo.p95_ms)),
            row("p99", slo.p99_ms, "ms", format_ms(slo.p99_ms)),
        ]
    for window in slo.worst_windows:
        figures.append(
            Figure(
                "worst_window",
                slo.name,
                _instant(window.start),
                "attained",
                window.value_percent,
                "%",
                format_percent(window.value_percent, decimals),
            )
        )
    unit = "minutes" if slo.sli == "uptime" else "events"
    for point in slo.daily:
        day = point.day.isoformat()
        figures += [
            Figure("daily", slo.name, day, "good", point.good, unit, ""),
            Figure("daily", slo.name, day, "total", point.total, unit, ""),
            Figure("daily", slo.name, day, "attained", point.value_percent, "%", ""),
        ]
        if slo.sli == "latency":
            figures += [
                Figure("daily", slo.name, day, name, value, "ms", "")
                for name, value in (
                    ("p50", point.p50_ms),
                    ("p95", point.p95_ms),
                    ("p99", point.p99_ms),
                )
            ]
    return figures


def _incident_figures(report: MonthReport) -> list[Figure]:
    figures = []
    for incident in sorted(report.incidents or (), key=lambda row: row.start):
        start = _instant(incident.start)
        for name, value in (
            ("duration", incident.duration),
            ("time_to_acknowledge", incident.time_to_acknowledge),
            ("time_to_resolve", incident.time_to_resolve),
        ):
            figures.append(
                Figure(
                    "incident",
                    incident.title,
                    start,
                    name,
                    _seconds(value),
                    "s",
                    format_duration_words(value),
                )
            )
    return figures


def _fulfillment_figures(report: MonthReport) -> list[Figure]:
    if not report.fulfillment_by_day:
        return []
    month = f"{report.month:%Y-%m}"
    good = sum(day.good for day in report.fulfillment_by_day)
    total = sum(day.total for day in report.fulfillment_by_day)
    figures = [
        Figure("fulfillment", "orders", month, "good", good, "orders", format_count(good)),
        Figure("fulfillment", "orders", month, "total", total, "orders", format_count(total)),
    ]
    if total:
        percent = 100.0 * good / total
        figures.append(
            Figure(
                "fulfillment", "orders", month, "attained", percent, "%", format_percent(percent, 1)
            )
        )
    return figures


def _lag_figures(report: MonthReport) -> list[Figure]:
    lag = report.lag_summary
    if lag is None:
        return []
    month = f"{report.month:%Y-%m}"
    figures = [
        Figure(
            "lag",
            "threshold",
            month,
            "threshold",
            lag.threshold_seconds,
            "s",
            format_seconds(lag.threshold_seconds),
        )
    ]
    for p in lag.projections:
        figures += [
            Figure(
                "lag", p.projection, month, "p50", p.p50_seconds, "s", format_seconds(p.p50_seconds)
            ),
            Figure(
                "lag", p.projection, month, "p95", p.p95_seconds, "s", format_seconds(p.p95_seconds)
            ),
            Figure(
                "lag", p.projection, month, "max", p.max_seconds, "s", format_seconds(p.max_seconds)
            ),
            Figure(
                "lag",
                p.projection,
                month,
                "within_threshold",
                p.percent_within_threshold,
                "%",
                format_percent(p.percent_within_threshold, 2),
            ),
        ]
    return figures


def _capacity_figures(report: MonthReport) -> list[Figure]:
    month = f"{report.month:%Y-%m}"
    figures = []
    for section in report.capacity or ():
        name, unit = section.resource, section.unit
        figures += [
            Figure(
                "capacity",
                name,
                month,
                "model",
                section.model_name,
                "",
                format_model_name(section.model_name),
            ),
            Figure(
                "capacity",
                name,
                month,
                "capacity",
                section.capacity,
                unit,
                format_quantity(section.capacity, unit),
            ),
            Figure(
                "capacity",
                name,
                month,
                "growth_per_month",
                section.growth_per_month,
                unit,
                format_quantity(section.growth_per_month, unit, signed=True),
            ),
            *(
                Figure("capacity", name, month, f"days_to_{level}", days, "days", format_days(days))
                for level, days in sorted(section.days_to.items())
            ),
            Figure(
                "capacity",
                name,
                month,
                "recommendation",
                section.recommendation,
                "",
                section.recommendation,
            ),
        ]
        figures += [
            Figure("capacity_history", name, day.isoformat(), "value", value, unit, "")
            for day, value in section.history
        ]
        for row in section.forecast:
            figures += [
                Figure("capacity_forecast", name, row.ds.isoformat(), field, value, unit, "")
                for field, value in (
                    ("forecast", row.yhat),
                    ("lower80", row.lower80),
                    ("upper80", row.upper80),
                    ("lower95", row.lower95),
                    ("upper95", row.upper95),
                )
            ]
    return figures


def _trend_figures(report: MonthReport) -> list[Figure]:
    decimals = {slo.name: percent_decimals(slo) for slo in report.slos}
    return [
        Figure(
            "trend",
            point.slo_name,
            f"{point.month:%Y-%m}",
            "attained",
            point.attained,
            "%",
            format_trend_cell(point.attained, decimals.get(point.slo_name, 2)),
        )
        for point in sorted(report.trend, key=lambda p: (p.slo_name, p.month))
    ]


def _instant(moment: datetime) -> str:
    return moment.isoformat()


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


# ---- writing ------------------------------------------------------------------------------


def to_json(report: MonthReport) -> str:
    """One JSON document; each figure on its own line, so the file diffs and greps well."""
    header = {
        "organisation": report.organisation,
        "service_name": report.service_name,
        "month": f"{report.month:%Y-%m}",
        "timezone": report.timezone,
        "generated_at": report.generated_at.isoformat(),
        "overall_status": report.overall_status,
        "columns": list(COLUMNS),
    }
    figures = ",\n".join(
        json.dumps(asdict(figure), ensure_ascii=False) for figure in report_figures(report)
    )
    return f'{json.dumps(header, ensure_ascii=False)[:-1]}, "figures": [\n{figures}\n]}}\n'


def to_csv(report: MonthReport) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for figure in report_figures(report):
        writer.writerow(_csv_cell(value) for value in asdict(figure).values())
    return buffer.getvalue()


def _csv_cell(value: Value) -> str:
    if value is None:
        return ""
    return repr(float(value)) if isinstance(value, float) else str(value)  # numpy floats too


def render_export(report: MonthReport, fmt: ExportFormat) -> bytes:
    return (to_csv(report) if fmt == "csv" else to_json(report)).encode()


def save_exports(folder: str | Path, month: date, report: MonthReport) -> list[Path]:
    """Write ``sla-report-YYYY-MM.csv`` and ``.json`` next to the PDF, each atomically."""
    paths = []
    for fmt in EXPORT_FORMATS:
        target = Path(folder) / export_filename(month, fmt)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=f".{fmt}")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(render_export(report, fmt))
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        paths.append(target)
    return paths
