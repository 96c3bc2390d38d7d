"""Operational sections: incidents, order fulfillment, projection lag, capacity, trend, appendix.

A section whose data source is absent (``None`` in the model) says so instead of
disappearing, so a reader can tell "nothing happened" from "not measured".
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, KeepTogether, Paragraph, Spacer

from slaengine.durations import format_duration_words
from slaengine.report import charts
from slaengine.report.formatting import (
    ROUNDING_NOTE,
    format_count,
    format_days,
    format_local_time,
    format_model_name,
    format_percent,
    format_quantity,
    format_seconds,
    format_trend_cell,
    percent_decimals,
    slo_label,
)
from slaengine.report.model import MonthReport
from slaengine.report.plotting import tint
from slaengine.report.sections import data_files_text, days_in
from slaengine.report.theme import Theme

TREND_CHART_MAX_SLOS = 6


def incidents_section(report: MonthReport, theme: Theme) -> list[Flowable]:
    story: list[Flowable] = [CondPageBreak(40 * mm), Paragraph("Incidents", theme.h1)]
    if report.incidents is None:
        return [
            *story,
            Paragraph(
                "No incident data source is configured (PagerDuty or the alert log): incidents "
                "are not reported.",
                theme.body,
            ),
        ]
    if not report.incidents:
        return [*story, Paragraph("No incidents this month.", theme.body)]
    rows: list[list[Any]] = [
        [
            "Incident",
            "Severity",
            f"Start ({report.timezone})",
            "End",
            "Duration",
            "Time to ack",
            "Time to resolve",
        ]
    ]
    for incident in sorted(report.incidents, key=lambda row: row.start):
        rows.append(
            [
                incident.title,
                incident.severity,
                format_local_time(incident.start, report.timezone),
                format_local_time(incident.end, report.timezone) if incident.end else "open",
                format_duration_words(incident.duration),
                format_duration_words(incident.time_to_acknowledge),
                format_duration_words(incident.time_to_resolve),
            ]
        )
    widths = [w * theme.text_width for w in (0.26, 0.09, 0.18, 0.12, 0.1, 0.11, 0.14)]
    return [*story, theme.table(rows, widths)]


def fulfillment_section(report: MonthReport, theme: Theme) -> list[Flowable]:
    story: list[Flowable] = [CondPageBreak(70 * mm), Paragraph("Order fulfillment", theme.h1)]
    if report.fulfillment_by_day is None:
        return [*story, Paragraph("No order events: fulfillment is not measured.", theme.body)]
    good = sum(day.good for day in report.fulfillment_by_day)
    total = sum(day.total for day in report.fulfillment_by_day)
    summary = (
        f"{format_count(good)} of {format_count(total)} orders fulfilled in time "
        f"({format_percent(100.0 * good / total, 1)})."
        if total
        else "No orders this month."
    )
    chart = charts.draw_fulfillment(report.fulfillment_by_day, days_in(report), theme.style)
    return [*story, Paragraph(summary, theme.body), chart]


def lag_section(report: MonthReport, theme: Theme) -> list[Flowable]:
    story: list[Flowable] = [CondPageBreak(40 * mm), Paragraph("Projection lag", theme.h1)]
    lag = report.lag_summary
    if lag is None:
        return [*story, Paragraph("No projection lag data for this month.", theme.body)]
    story.append(
        Paragraph(
            f"Share of the month each projection stayed within "
            f"{format_seconds(lag.threshold_seconds)} of its source.",
            theme.body,
        )
    )
    rows: list[list[Any]] = [["Projection", "p50", "p95", "Max", "Within threshold"]]
    rows += [
        [
            p.projection,
            format_seconds(p.p50_seconds),
            format_seconds(p.p95_seconds),
            format_seconds(p.max_seconds),
            format_percent(p.percent_within_threshold, 2),
        ]
        for p in lag.projections
    ]
    widths = [w * theme.text_width for w in (0.36, 0.14, 0.14, 0.14, 0.22)]
    return [*story, theme.table(rows, widths)]


def capacity_section(report: MonthReport, theme: Theme) -> list[Flowable]:
    story: list[Flowable] = [CondPageBreak(80 * mm), Paragraph("Capacity", theme.h1)]
    if report.capacity is None:
        return [
            *story,
            Paragraph(
                "The capacity forecaster is not configured: no capacity forecast for this month.",
                theme.body,
            ),
        ]
    if not report.capacity:
        return [*story, Paragraph("No resources are forecast.", theme.body)]
    for section in report.capacity:
        facts = [
            ["Model", "Capacity", "Growth per month", "Days to 80%", "Days to 90%", "Days to 100%"],
            [
                format_model_name(section.model_name),
                format_quantity(section.capacity, section.unit),
                format_quantity(section.growth_per_month, section.unit, signed=True),
                *(format_days(section.days_to.get(level)) for level in (80, 90, 100)),
            ],
        ]
        width = theme.text_width / 6
        story.append(
            KeepTogether(
                [
                    Paragraph(escape(section.resource), theme.h2),
                    charts.draw_capacity(section, theme.style),
                    theme.table(facts, [width] * 6),
                    Spacer(1, 1.5 * mm),
                    Paragraph(
                        f"<b>Recommendation:</b> {escape(section.recommendation)}", theme.body
                    ),
                ]
            )
        )
    story.append(
        Paragraph(
            "Solid line: measured daily values. Dashed line: the forecast. Dark band: the range "
            "the value falls in with 80% probability; light band: with 95% probability. Red "
            "lines: 100% (solid), 90% (dashed) and 80% (dotted) of capacity. Days are counted "
            "from the last measured day and rounded down.",
            theme.small,
        )
    )
    return story


def trend_section(report: MonthReport, theme: Theme) -> list[Flowable]:
    story: list[Flowable] = [CondPageBreak(70 * mm), Paragraph("Trend", theme.h1)]
    if not report.trend:
        return [*story, Paragraph("No earlier months recorded yet.", theme.body)]
    months = sorted({p.month for p in report.trend})[-12:]
    names = list(dict.fromkeys(p.slo_name for p in report.trend))
    by_key = {(p.slo_name, p.month): p for p in report.trend}
    decimals = {slo.name: percent_decimals(slo) for slo in report.slos}
    labels = {slo.name: slo_label(slo) for slo in report.slos}
    rows: list[list[Any]] = [["SLO (attained, %)", *[m.strftime("%b\n%Y") for m in months]]]
    extra: list[tuple[Any, ...]] = []
    missed_fill = tint(theme.style.status.breached, 0.3)
    for row, name in enumerate(names, start=1):
        cells = [labels.get(name, name)]
        for column, month in enumerate(months, start=1):
            point = by_key.get((name, month))
            attained = None if point is None else point.attained
            cells.append(format_trend_cell(attained, decimals.get(name, 2)))
            if point is not None and attained is not None and attained < point.target:
                cell = (column, row)
                extra += [
                    ("BACKGROUND", cell, cell, missed_fill),
                    (
                        "FONT",
                        cell,
                        cell,
                        theme.style.fonts.bold,
                        theme.cell.fontSize,
                        theme.cell.leading,
                    ),
                ]
        rows.append(cells)
    first = 0.22 * theme.text_width
    widths = [first] + [(theme.text_width - first) / len(months)] * len(months)
    if len(names) <= TREND_CHART_MAX_SLOS:
        story.append(
            charts.draw_trend([p for p in report.trend if p.month in months], theme.style, labels)
        )
    story += [
        theme.table(rows, widths, extra=extra, padding=2.5),
        Paragraph('Shaded, bold: the target was missed that month; "-": no data.', theme.small),
    ]
    return story


def appendix_section(report: MonthReport, theme: Theme) -> list[Flowable]:
    story: list[Flowable] = [CondPageBreak(60 * mm), Paragraph("Appendix: definitions", theme.h1)]
    rows: list[list[Any]] = [["SLO", "How it is computed"]]
    rows += [
        [
            f"{slo_label(slo)}\n{slo.name}",
            report.definitions.get(slo.name, "No definition recorded for this SLO."),
        ]
        for slo in report.slos
    ]
    story.append(theme.table(rows, [0.26 * theme.text_width, 0.74 * theme.text_width]))
    story += [
        Paragraph("How numbers are rounded", theme.h2),
        Paragraph(escape(ROUNDING_NOTE), theme.body),
        Paragraph("The data behind this report", theme.h2),
        Paragraph(escape(data_files_text(report)), theme.body),
    ]
    return story
