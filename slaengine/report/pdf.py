"""Render a ``MonthReport`` to PDF bytes: cover, summary, SLO sections, operations, appendix."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path

from reportlab.lib.colors import white
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
)

from slaengine.calendar import next_month, zone_of
from slaengine.report import operations, sections
from slaengine.report.formatting import STATUS_LABELS, format_month, format_timestamp
from slaengine.report.model import MonthReport
from slaengine.report.styles import DEFAULT_STYLE_PATH, ReportStyle, load_report_style
from slaengine.report.theme import Theme, build_theme

OVERALL_TEXT = {
    "met": "All SLOs met",
    "at-risk": "At risk: error budget nearly spent",
    "breached": "SLO breached",
    "no-data": "Incomplete: some SLOs have no data",
}


DOCUMENT_LANGUAGE = "en"


class _OutlinedDoc(BaseDocTemplate):
    """Adds each section heading (h1) and SLO heading (h2) to the PDF outline (bookmarks).

    reportlab (open source) cannot write a tagged PDF (no structure tree), so the outline,
    the document title and language are the accessibility aids it allows.
    """

    def afterFlowable(self, flowable: Flowable) -> None:
        if not isinstance(flowable, Paragraph) or flowable.style.name not in ("h1", "h2"):
            return
        text = flowable.getPlainText()
        key = f"outline-{self.page}-{id(flowable)}"
        self.canv.bookmarkPage(key)
        self.canv.addOutlineEntry(
            text, key, level=0 if flowable.style.name == "h1" else 1, closed=True
        )


def render_report(report: MonthReport, style: ReportStyle | None = None) -> bytes:
    """The PDF of ``report``; deterministic for a given report (no invariant timestamps)."""
    theme = build_theme(style or load_report_style(DEFAULT_STYLE_PATH))
    buffer = io.BytesIO()
    doc = _OutlinedDoc(
        buffer,
        pagesize=theme.page_size,
        leftMargin=theme.margin,
        rightMargin=theme.margin,
        topMargin=theme.margin + 6 * mm,
        bottomMargin=theme.margin + 4 * mm,
        title=f"SLA report {format_month(report.month)} - {report.service_name}",
        author=report.organisation,
        subject=f"Monthly SLA report {report.month:%Y-%m}",
        creator="slaengine",
        invariant=True,
        lang=DOCUMENT_LANGUAGE,
        displayDocTitle=True,  # viewers and screen readers show the title, not the file name
    )
    frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="body")
    doc.addPageTemplates(
        [
            PageTemplate(
                id="cover", frames=[frame], onPage=lambda c, d: _draw_cover(c, report, theme)
            ),
            PageTemplate(
                id="body", frames=[frame], onPage=lambda c, d: _draw_page_frame(c, report, theme)
            ),
        ]
    )
    doc.build(build_story(report, theme))
    return buffer.getvalue()


def write_report(report: MonthReport, path: str | Path, style: ReportStyle | None = None) -> Path:
    path = Path(path)
    path.write_bytes(render_report(report, style))
    return path


def build_story(report: MonthReport, theme: Theme) -> list[Flowable]:
    story: list[Flowable] = [NextPageTemplate("body"), PageBreak()]
    story += sections.summary_section(report, theme)
    if report.slos:
        story += [PageBreak(), Paragraph("SLOs in detail", theme.h1)]
        for slo in report.slos:
            story += sections.slo_section(slo, report, theme)
    for section in (
        operations.incidents_section,
        operations.fulfillment_section,
        operations.lag_section,
        operations.capacity_section,
        operations.trend_section,
        operations.appendix_section,
    ):
        story += section(report, theme)
    return story


def _period_text(report: MonthReport) -> str:
    last_day = next_month(report.month) - timedelta(days=1)
    period = f"{report.month:%d %B %Y} to {last_day:%d %B %Y} ({report.timezone})"
    local_generated = _local_generated(report)
    if local_generated.date() <= last_day:
        period += f", partial: data up to {format_timestamp(local_generated)}"
    return period


def _local_generated(report: MonthReport) -> datetime:
    return report.generated_at.astimezone(zone_of(report.timezone))


def _draw_cover(canvas: Canvas, report: MonthReport, theme: Theme) -> None:
    width, height = theme.page_size
    fonts, colours = theme.style.fonts, theme.style.colours
    margin = theme.margin
    band = height * 0.42
    canvas.saveState()
    canvas.setFillColor(theme.colour(colours.primary))
    canvas.rect(0, height - band, width, band, stroke=0, fill=1)
    canvas.setFillColor(theme.colour(colours.accent))
    canvas.rect(0, height - band - 2.5 * mm, width, 2.5 * mm, stroke=0, fill=1)
    canvas.setFillColor(white)
    canvas.setFont(fonts.bold, 12)
    canvas.drawString(margin, height - 30 * mm, report.organisation.upper())
    canvas.setFont(fonts.bold, 30)
    canvas.drawString(margin, height - 62 * mm, "Monthly SLA Report")
    canvas.setFont(fonts.regular, 17)
    canvas.drawString(margin, height - 76 * mm, report.service_name)
    canvas.setFont(fonts.bold, 17)
    canvas.drawString(margin, height - 88 * mm, format_month(report.month))

    status = report.overall_status
    top = height - band - 24 * mm
    canvas.setFillColor(theme.status_colour(status))
    canvas.roundRect(margin, top - 4 * mm, 4.5 * mm, 4.5 * mm, 1 * mm, stroke=0, fill=1)
    canvas.setFillColor(theme.colour(colours.text))
    canvas.setFont(fonts.bold, 15)
    canvas.drawString(margin + 8 * mm, top - 3.3 * mm, f"Overall status: {STATUS_LABELS[status]}")
    canvas.setFont(fonts.regular, 10.5)
    canvas.drawString(margin + 8 * mm, top - 10 * mm, OVERALL_TEXT[status])
    canvas.drawString(margin + 8 * mm, top - 16 * mm, sections.status_counts(report))

    canvas.setFillColor(theme.colour(colours.muted))
    canvas.setFont(fonts.regular, 9.5)
    lines = [
        f"Reporting period: {_period_text(report)}",
        f"Generated: {format_timestamp(_local_generated(report))}",
    ]
    for i, line in enumerate(lines):
        canvas.drawString(margin, top - (34 + 6 * i) * mm, line)
    canvas.restoreState()


def _draw_page_frame(canvas: Canvas, report: MonthReport, theme: Theme) -> None:
    width, height = theme.page_size
    fonts, colours = theme.style.fonts, theme.style.colours
    margin = theme.margin
    canvas.saveState()
    canvas.setStrokeColor(theme.colour(colours.accent))
    canvas.setLineWidth(1.2)
    canvas.line(margin, height - margin + 1 * mm, width - margin, height - margin + 1 * mm)
    canvas.setFillColor(theme.colour(colours.muted))
    canvas.setFont(fonts.regular, 7.5)
    canvas.drawString(
        margin, height - margin + 3 * mm, f"{report.organisation} - {report.service_name}"
    )
    canvas.drawRightString(
        width - margin, height - margin + 3 * mm, f"SLA report {format_month(report.month)}"
    )
    canvas.setStrokeColor(theme.colour(colours.grid))
    canvas.setLineWidth(0.5)
    canvas.line(margin, margin, width - margin, margin)
    canvas.drawString(
        margin, margin - 4 * mm, f"Generated {format_timestamp(_local_generated(report))}"
    )
    canvas.drawRightString(width - margin, margin - 4 * mm, f"Page {canvas.getPageNumber()}")
    canvas.restoreState()
