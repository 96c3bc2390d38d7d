"""The SLA-level sections of the report: executive summary and one section per SLO."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.shapes import Drawing, Rect
from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, KeepTogether, Paragraph, Spacer, Table

from slaengine.calendar import next_month
from slaengine.report import charts
from slaengine.report.export import export_filename
from slaengine.report.formatting import (
    STATUS_LABELS,
    format_attained,
    format_budget,
    format_budget_left,
    format_change,
    format_headline,
    format_local_time,
    format_ms,
    format_percent,
    format_target,
    percent_decimals,
    slo_label,
)
from slaengine.report.model import MonthReport, SloMonth
from slaengine.report.summary import summarise
from slaengine.report.theme import Theme

BUDGET_BARS_PER_BLOCK = 20


def days_in(report: MonthReport) -> int:
    return (next_month(report.month) - report.month).days


def status_chip(theme: Theme, status: str, size: float = 7.0) -> Drawing:
    """A coloured square: colour only, so the headline beside it extracts as clean text."""
    chip = Drawing(size, size)
    chip.add(
        Rect(
            0,
            0,
            size,
            size,
            rx=1.5,
            ry=1.5,
            fillColor=theme.status_colour(status),
            strokeColor=None,
        )
    )
    return chip


def status_counts(report: MonthReport) -> str:
    counts = {status: 0 for status in STATUS_LABELS}
    for slo in report.slos:
        counts[slo.status] += 1
    parts = [f"{counts[s]} {STATUS_LABELS[s].lower()}" for s in STATUS_LABELS if counts[s]]
    noun = "SLO" if len(report.slos) == 1 else "SLOs"
    return f"{len(report.slos)} {noun}: " + (", ".join(parts) if parts else "none configured")


def data_files_text(report: MonthReport) -> str:
    """Where the numbers behind the PDF are (the CSV/JSON export)."""
    month = f"{report.month:%Y-%m}"
    return (
        f"The numbers behind this report: {export_filename(report.month, 'csv')} and "
        f"{export_filename(report.month, 'json')} (slaengine report --format csv|json, or "
        f"GET /api/v1/reports/{month}.csv and /api/v1/reports/{month}.json)."
    )


def summary_section(report: MonthReport, theme: Theme) -> list[Flowable]:
    """Page 2: verdict, headline lines, budget bars, key facts, the SLO table, the data files."""
    summary = summarise(report)
    story: list[Flowable] = [
        Paragraph("Executive summary", theme.h1),
        Paragraph(f"<b>{escape(summary.verdict)}</b>", theme.body),
        Paragraph(escape(status_counts(report)) + ".", theme.small),
    ]
    if not report.slos:
        return story
    story.append(Paragraph("Headline figures", theme.h2))
    headlines = [
        [status_chip(theme, slo.status), Paragraph(escape(format_headline(slo)), theme.headline)]
        for slo in report.slos
    ]
    story.append(
        Table(
            headlines,
            colWidths=[5 * mm, None],
            hAlign="LEFT",
            style=[
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
            ],
        )
    )
    story.append(Spacer(1, 3 * mm))
    # in blocks, so a long list of SLOs flows onto the next page instead of overflowing one
    for first in range(0, len(report.slos), BUDGET_BARS_PER_BLOCK):
        block = report.slos[first : first + BUDGET_BARS_PER_BLOCK]
        story.append(charts.draw_budget_bars(block, theme.style, theme.text_width))
    story += [
        Paragraph("Key facts", theme.h2),
        theme.table(
            [[label, text] for label, text in summary.facts()],
            [0.16 * theme.text_width, 0.84 * theme.text_width],
            header=False,
        ),
        Paragraph("SLOs at a glance", theme.h2),
        _glance_table(report, theme),
        Spacer(1, 2 * mm),
        Paragraph(escape(data_files_text(report)), theme.small),
    ]
    return story


def _glance_table(report: MonthReport, theme: Theme) -> Table:
    rows: list[list[Any]] = [
        ["SLO", "Target", "Attained", "Status", "Budget used", "Budget left", "vs previous"]
    ]
    extra: list[tuple[Any, ...]] = []
    for i, slo in enumerate(report.slos, start=1):
        rows.append(
            [
                slo_label(slo),
                format_target(slo),
                format_attained(slo),
                STATUS_LABELS[slo.status],
                format_budget(slo.budget_consumed),
                format_budget_left(slo.budget_remaining),
                format_change(slo.attained, slo.previous_attained, percent_decimals(slo)),
            ]
        )
        extra += theme.status_cell(3, i, slo.status)
    widths = [w * theme.text_width for w in (0.23, 0.13, 0.1, 0.1, 0.12, 0.2, 0.12)]
    return theme.table(rows, widths, extra=extra)


def _facts(slo: SloMonth, theme: Theme) -> Table:
    labels = ["Target", "Attained", "Status", "Budget used", "Budget left", "vs previous"]
    values = [
        format_target(slo),
        format_attained(slo),
        STATUS_LABELS[slo.status],
        format_budget(slo.budget_consumed),
        format_budget_left(slo.budget_remaining),
        format_change(slo.attained, slo.previous_attained, percent_decimals(slo)),
    ]
    if slo.sli == "latency":
        labels += ["p50", "p95", "p99"]
        values += [format_ms(slo.p50_ms), format_ms(slo.p95_ms), format_ms(slo.p99_ms)]
    # shares of the width: the target ("95% < 500 ms") and budget words need the most room
    shares = [1.5, 1.0, 1.0, 1.15, 1.3, 1.1] + [0.8] * (len(labels) - 6)
    widths = [theme.text_width * share / sum(shares) for share in shares]
    return theme.table([labels, values], widths, extra=theme.status_cell(2, 1, slo.status))


def _worst_windows(slo: SloMonth, timezone: str, theme: Theme) -> list[Flowable]:
    if not slo.worst_windows:
        return []
    rows: list[list[Any]] = [[f"Worst window start ({timezone})", "End", "SLI in window"]]
    rows += [
        [
            format_local_time(w.start, timezone),
            format_local_time(w.end, timezone),
            format_percent(w.value_percent, percent_decimals(slo)),
        ]
        for w in slo.worst_windows
    ]
    width = theme.text_width
    return [Spacer(1, 2 * mm), theme.table(rows, [0.4 * width, 0.4 * width, 0.2 * width])]


def slo_section(slo: SloMonth, report: MonthReport, theme: Theme) -> list[Flowable]:
    """Facts, daily SLI, budget burn-down, latency percentiles and worst windows of one SLO."""
    days = days_in(report)
    style = theme.style
    title = (
        f"{escape(slo_label(slo))} <font size=8 color='{style.colours.muted}'>"
        f"{escape(slo.name)} &middot; {escape(slo.service)}</font>"
    )
    pair = Table(
        [[charts.draw_daily_sli(slo, days, style), charts.draw_budget_burndown(slo, days, style)]],
        colWidths=[theme.text_width / 2] * 2,
        hAlign="LEFT",
        style=[("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0)],
    )
    block: list[Flowable] = [
        Paragraph(title, theme.h2),
        _facts(slo, theme),
        Spacer(1, 2 * mm),
        pair,
    ]
    if slo.sli == "latency":
        block.append(charts.draw_latency(slo, days, style))
    if slo.status == "no-data":
        block.append(
            Paragraph("No data: no events for this SLO were recorded in the month.", theme.small)
        )
    return [
        CondPageBreak(70 * mm),
        KeepTogether(block),
        *_worst_windows(slo, report.timezone, theme),
    ]
