"""Read on paper, in grey-scale and by assistive tools: bands, legends, colours, metadata.

Charts are checked on the reportlab drawings themselves (what is filled with which colour),
the document on its PDF bytes and ``pdfinfo``.
"""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from reportlab.graphics.shapes import Drawing, Group, Polygon, PolyLine, Rect, Shape, String
from reportlab.lib.colors import Color, HexColor

from slaengine.report import charts
from slaengine.report.model import MonthPoint, MonthReport
from slaengine.report.pdf import write_report
from slaengine.report.plotting import grey_level
from slaengine.report.styles import DEFAULT_STYLE_PATH, load_report_style
from slaengine.report.theme import build_theme

from .test_summary import breached_uptime

STYLE = load_report_style(DEFAULT_STYLE_PATH)


def shapes(drawing: Drawing | Group) -> Iterator[Shape]:
    for item in drawing.contents:
        if isinstance(item, Group):
            yield from shapes(item)
        else:
            yield item


def printed_grey(fill: Color) -> float:
    """The grey level (0 black .. 1 white) a fill prints as on white paper, alpha included."""
    alpha = getattr(fill, "alpha", 1.0)
    luma = 0.299 * fill.red + 0.587 * fill.green + 0.114 * fill.blue
    return 1 - alpha * (1 - luma)


def texts(drawing: Drawing) -> list[str]:
    return [s.text for s in shapes(drawing) if isinstance(s, String)]


def relative_luminance(colour: Color) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return (
        0.2126 * channel(colour.red)
        + 0.7152 * channel(colour.green)
        + 0.0722 * channel(colour.blue)
    )


def contrast(a: Color, b: Color) -> float:
    light, dark = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_forecast_bands_are_visible_in_grey_scale(october_report: MonthReport) -> None:
    assert october_report.capacity is not None
    drawing = charts.draw_capacity(october_report.capacity[0], STYLE)
    bands = [s for s in shapes(drawing) if isinstance(s, Polygon)]
    assert len(bands) == 2  # 95% first, 80% on top
    light, dark = (printed_grey(band.fillColor) for band in bands)
    assert light <= 0.88, "the 95% band must differ from white paper"
    assert light - dark >= 0.1, "the 80% band must be darker than the 95% band"
    assert all(getattr(band.fillColor, "alpha", 1.0) == 1.0 for band in bands)  # opaque: prints
    legend = texts(drawing)
    for entry in (
        "measured",
        "forecast",
        "80% likely range",
        "95% likely range",
        "100% of capacity",
        "90% of capacity",
        "80% of capacity",
    ):
        assert entry in legend


def test_status_colours_differ_in_grey_scale_and_keep_their_text_readable() -> None:
    theme = build_theme(STYLE)
    statuses = ("met", "at-risk", "breached", "no-data")
    greys = {status: grey_level(STYLE.status.of(status)) for status in statuses}
    for a, b in itertools.combinations(statuses, 2):
        assert abs(greys[a] - greys[b]) >= 0.12, (a, b, greys)
    for status in statuses:
        background = HexColor(STYLE.status.of(status))
        assert contrast(background, theme.status_text_colour(status)) >= 4.5, status


def test_latency_lines_differ_by_dash_not_only_colour(october_report: MonthReport) -> None:
    drawing = charts.draw_latency(october_report.slos[1], 31, STYLE)
    dashes = {
        str(line.strokeDashArray)
        for line in shapes(drawing)
        if isinstance(line, PolyLine) and line.strokeWidth == 1.3
    }
    assert len(dashes) == 3


def trend(report: MonthReport, months: int) -> list[MonthPoint]:
    wanted = sorted({p.month for p in report.trend})[-months:]
    return [p for p in report.trend if p.month in wanted]


def test_a_short_trend_is_drawn_as_bars_a_long_one_as_lines(october_report: MonthReport) -> None:
    two = charts.draw_trend(trend(october_report, 2), STYLE)
    with_data = [p for p in trend(october_report, 2) if p.attained is not None]
    bars = [s for s in shapes(two) if isinstance(s, Rect) and s.strokeWidth == 0.5]
    assert len(bars) == len(with_data) == 8
    assert not [s for s in shapes(two) if isinstance(s, PolyLine)]
    assert "target" in texts(two)  # each bar carries its target as a line across it
    six = charts.draw_trend(trend(october_report, 6), STYLE)
    assert len([s for s in shapes(six) if isinstance(s, PolyLine)]) == 4  # one line per SLO


def test_bars_start_below_the_lowest_value(october_report: MonthReport) -> None:
    one = [p for p in trend(october_report, 1) if p.attained is not None]
    drawing = charts.draw_trend(one, STYLE)
    heights = [s.height for s in shapes(drawing) if isinstance(s, Rect) and s.strokeWidth == 0.5]
    assert min(heights) > 5  # the lowest bar is visible, not cut at the axis


def test_budget_bars_show_overspend_in_red_beyond_the_budget(october_report: MonthReport) -> None:
    report = breached_uptime(october_report)
    drawing = charts.draw_budget_bars(report.slos, STYLE, 500)
    breached = HexColor(STYLE.status.breached)
    red = [
        s
        for s in shapes(drawing)
        if isinstance(s, Rect)
        and s.fillColor is not None
        and s.fillColor.hexval() == breached.hexval()
        and s.height == 8
    ]
    assert len(red) == 1  # only uptime is overspent
    budget = next(s for s in shapes(drawing) if isinstance(s, Rect) and s.height == 8)
    assert red[0].x == budget.x + budget.width  # it starts where the budget ends
    assert red[0].width == pytest.approx(
        budget.width * 1.99
    )  # and is 1.99 budgets long (remaining -199%)
    words = texts(drawing)
    assert "299.0% used, overspent by 2×" in words
    assert "79.0% used, 21.0% left" in words
    assert "no data" in words
    assert {"used", "left", "overspent"} <= set(words)


def test_a_huge_overspend_is_capped_in_the_bar_but_said_in_words(
    october_report: MonthReport,
) -> None:
    uptime = replace(
        october_report.slos[0], status="breached", budget_consumed=41.0, budget_remaining=-40.0
    )
    drawing = charts.draw_budget_bars((uptime,), STYLE, 500)
    bars = [s for s in shapes(drawing) if isinstance(s, Rect) and s.height == 8]
    assert sum(bar.width for bar in bars) <= 500
    assert "4100.0% used, overspent by 40×" in texts(drawing)


def pdf_info(pdf: Path) -> dict[str, str]:
    out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return {
        key.strip(): value.strip()
        for key, _, value in (line.partition(":") for line in out.splitlines())
    }


def test_the_pdf_has_title_language_and_an_outline(
    october_report: MonthReport, tmp_path: Path
) -> None:
    pdf = write_report(october_report, tmp_path / "r.pdf")
    info = pdf_info(pdf)
    assert info["Title"] == "SLA report October 2026 - Shop platform"
    raw = pdf.read_bytes()
    assert b"/Lang (en)" in raw
    assert b"/DisplayDocTitle true" in raw
    for heading in (
        b"Executive summary",
        b"SLOs in detail",
        b"Capacity",
        b"Trend",
        b"Appendix: definitions",
    ):
        assert b"/Title (" + heading + b")" in raw
    # reportlab's open-source edition writes no structure tree: say so rather than pretend
    assert info["Tagged"] == "no"


def test_the_summary_page_holds_the_summary(october_report: MonthReport, tmp_path: Path) -> None:
    pdf = write_report(october_report, tmp_path / "r.pdf")
    page2 = subprocess.run(
        ["pdftotext", "-f", "2", "-l", "2", str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    text = " ".join(page2.split())
    for phrase in (
        "All 4 SLOs with data met their targets.",
        "Error budget of the month",
        "Worst SLO",
        "Worst day",
        "2 incidents, 22 min in total, longest 12 min",
        "orders database disk reaches 80% in 68 days",
        "SLOs at a glance",
        "sla-report-2026-10.csv",
    ):
        assert phrase in text, phrase


def test_a_report_with_many_slos_flows_its_budget_bars_over_pages(
    october_report: MonthReport, tmp_path: Path
) -> None:
    many = tuple(
        replace(october_report.slos[3], name=f"checkout-{i}", display_name=f"Shop {i}")
        for i in range(70)
    )  # 70 rows of bars are taller than a page
    pdf = write_report(replace(october_report, slos=many, trend=()), tmp_path / "many.pdf")
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert text.count("35.9% used, 64.1% left") == 70
