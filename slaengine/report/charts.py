"""The report's charts as reportlab vector drawings (no raster images)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from reportlab.graphics.shapes import Drawing, Line, Rect, String
from reportlab.lib.colors import Color, white
from reportlab.lib.units import mm

from slaengine.report.formatting import (
    format_budget_use,
    format_ms,
    format_target_percent,
    slo_label,
)
from slaengine.report.model import CapacitySection, DayRatio, MonthPoint, SloMonth, budget_burndown
from slaengine.report.plotting import Axes, Key, colour, nice_ticks, padded_range, tint
from slaengine.report.styles import ReportStyle

DASHED: list[float] = [3, 2]
DOTTED: list[float] = [1, 2]
# Series n gets dash n too, so lines stay apart when printed in grey-scale.
SERIES_DASHES: list[list[float] | None] = [None, [4, 2], [1, 1.5], [6, 2, 1, 2], [2, 2], [8, 3]]
# Forecast intervals as opaque tints of the accent colour: visible on paper and in grey-scale.
BAND_95_TINT = 0.25
BAND_80_TINT = 0.5
TREND_BARS_UP_TO_MONTHS = 3  # fewer months than this read better as bars than as a line
BUDGET_BAR_CAP = 3.0  # bars show overspend up to 3 budgets; more is stated in words


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
    return format_target_percent(value)  # axis ticks: 0%, 25%, 97.5%


def draw_daily_sli(slo: SloMonth, days: int, style: ReportStyle) -> Drawing:
    """The SLI of each day against the target line."""
    values = [point.value_percent for point in slo.daily if point.value_percent is not None]
    lo, hi = padded_range([*values, slo.target], ceiling=100.0, pad=0.15)
    axes, ticks = _month_axes(style, days, lo, hi)
    axes.frame("Daily SLI vs target", ticks, _day_ticks(days))
    axes.hline(slo.target, style.colours.target, f"target {format_target_percent(slo.target)}")
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
    ys = [100.0, *lows]
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
            f"threshold {format_ms(slo.latency_threshold_ms)}",
        )
    keys = [
        Key(name, hex_colour, dash)
        for name, hex_colour, dash in zip(series, style.colours.series, SERIES_DASHES, strict=False)
    ]
    for points, key in zip(series.values(), keys, strict=False):
        axes.series(points, key.hex_colour, dash=key.dash)
    axes.legend(keys)
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
    band_95, band_80 = tint(colours.accent, BAND_95_TINT), tint(colours.accent, BAND_80_TINT)
    if section.forecast:
        xs = [float(row.ds.toordinal()) for row in section.forecast]
        axes.band(
            xs,
            [r.lower95 for r in section.forecast],
            [r.upper95 for r in section.forecast],
            colours.accent,
            1.0,
            fill=band_95,
        )
        axes.band(
            xs,
            [r.lower80 for r in section.forecast],
            [r.upper80 for r in section.forecast],
            colours.accent,
            1.0,
            fill=band_80,
        )
        axes.series(
            [(x, r.yhat) for x, r in zip(xs, section.forecast, strict=True)],
            colours.primary,
            dash=DASHED,
        )
    axes.series([(float(d.toordinal()), v) for d, v in section.history], colours.text, width=1.1)
    solid: list[float] = [1, 0]
    # labels staggered along the line: the three lines are often only a few points apart
    for inset, (level, dash) in enumerate(((1.0, solid), (0.9, DASHED), (0.8, DOTTED))):
        axes.hline(
            section.capacity * level,
            colours.target,
            f"{level:.0%} of capacity",
            dash=dash,
            width=0.7,
            label_inset=1 + 70 * inset,
        )
    axes.legend(
        [
            Key("measured", colours.text),
            Key("forecast", colours.primary, DASHED),
            Key("80% likely range", colours.accent, fill=band_80),
            Key("95% likely range", colours.accent, fill=band_95),
        ]
    )
    return axes.drawing


def draw_trend(
    points: Sequence[MonthPoint], style: ReportStyle, labels: dict[str, str] | None = None
) -> Drawing:
    """Attained percent per month for up to six SLOs: lines, or grouped bars for few months.

    ``labels`` maps SLO names to what the legend calls them.
    """
    months = sorted({p.month for p in points})
    names = list(dict.fromkeys(p.slo_name for p in points))
    index = {month: i for i, month in enumerate(months)}
    values = [p.attained for p in points if p.attained is not None]
    as_bars = len(months) < TREND_BARS_UP_TO_MONTHS
    lo, hi = padded_range(values or [99.0, 100.0], ceiling=100.0, pad=0.2)
    if as_bars:  # a bar's length must mean something: start at a round value below the lowest
        lo = min(lo, min(values or [99.0]) - (hi - lo))
    width, height = chart_size(style, wide=True)
    ticks = nice_ticks(lo, hi)
    axes = Axes(Drawing(width, height), style, (-0.5, len(months) - 0.5), (ticks[0], ticks[-1]))
    axes.frame(
        "Attained per month (%)", ticks, [(float(i), m.strftime("%b %Y")) for m, i in index.items()]
    )
    keys = [
        Key(name, hex_colour, dash)
        for name, hex_colour, dash in zip(names, style.colours.series, SERIES_DASHES, strict=False)
    ]
    for slot, key in enumerate(keys):
        mine = sorted((p for p in points if p.slo_name == key.label), key=lambda p: p.month)
        if as_bars:
            _trend_bars(
                axes,
                [(index[p.month], p.attained, p.target) for p in mine],
                slot,
                len(keys),
                key,
                style,
            )
        else:
            axes.series(
                [(float(index[p.month]), p.attained) for p in mine],
                key.hex_colour,
                dash=key.dash,
                markers=True,
            )
    shown = (labels or {}).get
    axes.legend(
        [
            *(
                Key(
                    shown(k.label, k.label),
                    k.hex_colour,
                    k.dash,
                    _bar_fill(i, k) if as_bars else None,
                )
                for i, k in enumerate(keys)
            ),
            *([Key("target", style.colours.text)] if as_bars else []),
        ]
    )
    return axes.drawing


def _bar_fill(slot: int, key: Key) -> Color:
    # alternate full colour and a tint so neighbouring bars differ in grey-scale too
    return colour(key.hex_colour) if slot % 2 == 0 else tint(key.hex_colour, 0.45)


def _trend_bars(
    axes: Axes,
    points: list[tuple[int, float | None, float]],
    slot: int,
    slots: int,
    key: Key,
    style: ReportStyle,
) -> None:
    """One bar per month for one SLO, with its target as a short line across the bar."""
    group = axes.width / max(1.0, axes.x_range[1] - axes.x_range[0]) * 0.7
    bar = group / slots
    base = axes.py(axes.y_range[0])
    for x, value, target in points:
        if value is None:
            continue
        left = axes.px(float(x)) - group / 2 + slot * bar
        axes.drawing.add(
            Rect(
                left + 0.5,
                base,
                bar - 1,
                max(axes.py(value) - base, 0.4),
                fillColor=_bar_fill(slot, key),
                strokeColor=colour(key.hex_colour),
                strokeWidth=0.5,
            )
        )
        axes.drawing.add(
            Line(
                left + 0.5,
                axes.py(target),
                left + bar - 0.5,
                axes.py(target),
                strokeColor=colour(style.colours.text),
                strokeWidth=1.6,
            )
        )


def draw_budget_bars(slos: Sequence[SloMonth], style: ReportStyle, width: float) -> Drawing:
    """Per SLO: the month's error budget as a bar, used part filled, overspend in red beyond 100%.

    Each row also says it in words (``93.1% used, 6.9% left`` / ``overspent by 2×``).
    """
    row, top, label_width, text_width = 13.0, 16.0, 150.0, 150.0
    drawing = Drawing(width, top + row * len(slos) + 4)
    colours, fonts = style.colours, style.fonts
    bar_left = label_width
    bar_width = width - label_width - text_width
    scale = max([1.0, *[min(s.budget_consumed or 0.0, BUDGET_BAR_CAP) for s in slos]])
    full = bar_width / scale  # the length of one whole budget
    used_fill, left_fill = colour(colours.accent), tint(colours.accent, 0.22)
    over_fill = colour(style.status.breached)
    y_title = float(drawing.height) - 10
    drawing.add(
        String(
            0,
            y_title,
            "Error budget of the month",
            fontName=fonts.bold,
            fontSize=8.5,
            fillColor=colour(colours.primary),
        )
    )
    axes = Axes(drawing, style, (0, 1), (0, 1))
    axes.legend(
        [
            Key("used", colours.accent, fill=used_fill),
            Key("left", colours.accent, fill=left_fill),
            Key("overspent", style.status.breached, fill=over_fill),
        ]
    )
    for i, slo in enumerate(slos):
        y = float(drawing.height) - top - row * (i + 1)
        drawing.add(
            String(
                0,
                y + 3,
                slo_label(slo),
                fontName=fonts.regular,
                fontSize=7.5,
                fillColor=colour(colours.text),
            )
        )
        consumed = slo.budget_consumed
        if consumed is None:
            text = "no data"
            drawing.add(
                Rect(
                    bar_left,
                    y + 1.5,
                    full,
                    8,
                    fillColor=None,
                    strokeColor=colour(colours.grid),
                    strokeWidth=0.6,
                )
            )
        else:
            used = min(max(consumed, 0.0), 1.0)
            drawing.add(Rect(bar_left, y + 1.5, full, 8, fillColor=left_fill, strokeColor=None))
            if used > 0:
                drawing.add(
                    Rect(bar_left, y + 1.5, full * used, 8, fillColor=used_fill, strokeColor=None)
                )
            if consumed > 1:
                over = min(consumed, BUDGET_BAR_CAP) - 1.0
                drawing.add(
                    Rect(
                        bar_left + full,
                        y + 1.5,
                        full * over,
                        8,
                        fillColor=over_fill,
                        strokeColor=None,
                    )
                )
            drawing.add(
                Line(
                    bar_left + full,
                    y,
                    bar_left + full,
                    y + 11,
                    strokeColor=colour(colours.text),
                    strokeWidth=0.8,
                )
            )
            text = format_budget_use(consumed, slo.budget_remaining)
        drawing.add(
            String(
                bar_left + bar_width + 8,
                y + 3,
                text,
                fontName=fonts.regular,
                fontSize=7.5,
                fillColor=colour(colours.text),
            )
        )
    return drawing
