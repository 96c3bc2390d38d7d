"""The report's charts as reportlab vector drawings (no raster images)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from reportlab.graphics.shapes import Drawing, Rect
from reportlab.lib.colors import white
from reportlab.lib.units import mm

from slaengine.report.model import CapacitySection, DayRatio, MonthPoint, SloMonth, budget_burndown
from slaengine.report.plotting import Axes, nice_ticks, padded_range
from slaengine.report.styles import ReportStyle

DASHED: list[float] = [3, 2]
DOTTED: list[float] = [1, 2]


def chart_size(style: ReportStyle, *, wide: bool = False) -> tuple[float, float]:
    width = style.charts.wide_width_mm if wide else style.charts.width_mm
    return width * mm, style.charts.height_mm * mm


def _day_ticks(days: int) -> list[tuple[float, str]]:
    return [(float(day), str(day)) for day in (1, 5, 10, 15, 20, 25, 30) if day <= days]


def _month_axes(
    style: ReportStyle, days: int, y_lo: float, y_hi: float, *, wide: bool = False, count: int = 5
) -> tuple[Axes, list[float]]:
    width, height = chart_size(style, wide=wide)
    ticks = nice_ticks(y_lo, y_hi, count)
    axes = Axes(Drawing(width, height), style, (0.5, days + 0.5), (ticks[0], ticks[-1]))
    return axes, ticks


def _no_data(axes: Axes) -> None:
    x, y = axes.left + axes.width / 2, axes.bottom + axes.height / 2
    axes.drawing.add(Rect(x - 24, y - 6, 48, 16, fillColor=white, strokeColor=None))
    axes.text(x, y, "no data", size=9)


def _percent(value: float) -> str:
    return f"{value:g}%"


def draw_daily_sli(slo: SloMonth, days: int, style: ReportStyle) -> Drawing:
    """The SLI of each day against the target line."""
    values = [point.value_percent for point in slo.daily if point.value_percent is not None]
    lo, hi = padded_range([*values, slo.target], ceiling=100.0, pad=0.15)
    axes, ticks = _month_axes(style, days, lo, hi)
    axes.frame("Daily SLI vs target", ticks, _day_ticks(days))
    axes.hline(slo.target, style.colours.target, f"target {slo.target:g}%")
    if not values:
        _no_data(axes)
    axes.series(
        [(p.day.day, p.value_percent) for p in slo.daily],
        style.colours.accent,
        markers=len(slo.daily) <= 12,
    )
    return axes.drawing


def draw_budget_burndown(slo: SloMonth, days: int, style: ReportStyle) -> Drawing:
    """Error budget left through the month, against an even burn to zero at month end."""
    remaining = [(float(day.day), left * 100.0) for day, left in budget_burndown(slo)]
    lows = [value for _, value in remaining]
    lo, hi = min([0.0, *lows]), 100.0
    axes, ticks = _month_axes(style, days, lo, hi)
    axes.frame("Error budget remaining", ticks, _day_ticks(days), y_format=_percent)
    axes.series([(0.5, 100.0), (days + 0.5, 0.0)], style.colours.muted, width=0.8, dash=DASHED)
    if not remaining:
        _no_data(axes)
        return axes.drawing
    xs = [0.5] + [x for x, _ in remaining]
    ys = [100.0] + lows
    axes.band(xs, [max(lo, 0.0)] * len(xs), [max(y, 0.0) for y in ys], style.colours.accent, 0.15)
    if lo < 0:
        axes.band(xs, [min(y, 0.0) for y in ys], [0.0] * len(xs), style.status.breached, 0.25)
        axes.hline(0.0, style.status.breached, "budget exhausted", dash=[1, 0], width=0.6)
    axes.series(list(zip(xs, ys, strict=True)), style.colours.accent)
    axes.legend([("remaining", style.colours.accent), ("even burn", style.colours.muted)])
    return axes.drawing


def draw_latency(slo: SloMonth, days: int, style: ReportStyle) -> Drawing:
    """p50/p95/p99 latency of each day, with the SLO threshold."""
    series = {
        "p50": [(float(p.day.day), p.p50_ms) for p in slo.daily],
        "p95": [(float(p.day.day), p.p95_ms) for p in slo.daily],
        "p99": [(float(p.day.day), p.p99_ms) for p in slo.daily],
    }
    values = [v for points in series.values() for _, v in points if v is not None]
    if slo.latency_threshold_ms is not None:
        values.append(slo.latency_threshold_ms)
    hi = max(values) * 1.08 if values else 1.0
    axes, ticks = _month_axes(style, days, 0.0, hi, wide=True)
    axes.frame("Latency by day (ms)", ticks, _day_ticks(days))
    if slo.latency_threshold_ms is not None:
        axes.hline(
            slo.latency_threshold_ms,
            style.colours.target,
            f"threshold {slo.latency_threshold_ms:g} ms",
        )
    colours = style.colours.series
    for points, hex_colour in zip(series.values(), colours, strict=False):
        axes.series(points, hex_colour)
    axes.legend([(name, hex_colour) for name, hex_colour in zip(series, colours, strict=False)])
    if not values:
        _no_data(axes)
    return axes.drawing


def draw_fulfillment(days_data: Sequence[DayRatio], days: int, style: ReportStyle) -> Drawing:
    """Share of orders fulfilled in time per day, as bars."""
    values = [ratio.percent for ratio in days_data if ratio.percent is not None]
    lo, hi = padded_range(values or [0.0, 100.0], floor=0.0, ceiling=100.0, pad=0.6)
    axes, ticks = _month_axes(style, days, lo, hi, wide=True)
    axes.frame("Orders fulfilled in time, by day", ticks, _day_ticks(days), y_format=_percent)
    axes.bars([(float(r.day.day), r.percent) for r in days_data], style.colours.accent)
    if not values:
        _no_data(axes)
    return axes.drawing


def _month_ticks(first: date, last: date) -> list[tuple[float, str]]:
    ticks = []
    year, month = first.year, first.month
    while date(year, month, 1) <= last:
        start = date(year, month, 1)
        if start >= first:
            ticks.append((float(start.toordinal()), start.strftime("%b %y")))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return ticks[:: max(1, len(ticks) // 8 + 1)] if len(ticks) > 8 else ticks


def draw_capacity(section: CapacitySection, style: ReportStyle) -> Drawing:
    """History and forecast with 80/95 % intervals against the 80/90/100 % capacity lines."""
    width, height = chart_size(style, wide=True)
    days = [d for d, _ in section.history] + [row.ds for row in section.forecast]
    if not days:
        axes = Axes(Drawing(width, height), style, (0, 1), (0, 1))
        axes.frame(f"{section.resource} ({section.unit})", [0.0, 1.0], [])
        _no_data(axes)
        return axes.drawing
    values = [v for _, v in section.history] + [row.yhat for row in section.forecast]
    hi = max([*values, section.capacity]) * 1.08
    ticks = nice_ticks(0.0, hi)
    x_range = (float(min(days).toordinal()), float(max(days).toordinal()))
    axes = Axes(Drawing(width, height), style, x_range, (ticks[0], ticks[-1]), left=40)
    axes.frame(f"{section.resource} ({section.unit})", ticks, _month_ticks(min(days), max(days)))
    colours = style.colours
    if section.forecast:
        xs = [float(row.ds.toordinal()) for row in section.forecast]
        axes.band(
            xs,
            [r.lower95 for r in section.forecast],
            [r.upper95 for r in section.forecast],
            colours.accent,
            0.12,
        )
        axes.band(
            xs,
            [r.lower80 for r in section.forecast],
            [r.upper80 for r in section.forecast],
            colours.accent,
            0.25,
        )
        axes.series(
            [(x, r.yhat) for x, r in zip(xs, section.forecast, strict=True)],
            colours.accent,
            dash=DASHED,
        )
    axes.series([(float(d.toordinal()), v) for d, v in section.history], colours.text, width=1.1)
    solid: list[float] = [1, 0]
    for level, dash in ((1.0, solid), (0.9, DASHED), (0.8, DOTTED)):
        axes.hline(section.capacity * level, colours.target, f"{level:.0%}", dash=dash, width=0.7)
    axes.legend([("history", colours.text), ("forecast", colours.accent)])
    return axes.drawing


def draw_trend(points: Sequence[MonthPoint], style: ReportStyle) -> Drawing:
    """Attained percent per month for up to six SLOs."""
    months = sorted({p.month for p in points})
    names = list(dict.fromkeys(p.slo_name for p in points))
    index = {month: i for i, month in enumerate(months)}
    values = [p.attained for p in points if p.attained is not None]
    lo, hi = padded_range(values or [99.0, 100.0], ceiling=100.0, pad=0.2)
    width, height = chart_size(style, wide=True)
    ticks = nice_ticks(lo, hi)
    axes = Axes(Drawing(width, height), style, (-0.3, len(months) - 0.7), (ticks[0], ticks[-1]))
    axes.frame(
        "Attained per month", ticks, [(float(i), m.strftime("%b %y")) for m, i in index.items()]
    )
    for name, hex_colour in zip(names, style.colours.series, strict=False):
        mine = sorted((p for p in points if p.slo_name == name), key=lambda p: p.month)
        axes.series([(float(index[p.month]), p.attained) for p in mine], hex_colour, markers=True)
    axes.legend(list(zip(names, style.colours.series, strict=False)))
    return axes.drawing
