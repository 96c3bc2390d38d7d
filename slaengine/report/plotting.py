"""Small vector-plot primitives on reportlab.graphics: axes, ticks, series, bands, legends.

Hand-rolled instead of reportlab's chart widgets because a 50-SLO report draws
~150 charts: plain shapes are fast and every pixel is under our control.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from reportlab.graphics.shapes import Drawing, Line, Polygon, PolyLine, Rect, String
from reportlab.lib.colors import Color, HexColor
from reportlab.pdfbase.pdfmetrics import stringWidth

from slaengine.report.styles import ReportStyle

AXIS_FONT_SIZE = 6.5
TITLE_FONT_SIZE = 8.5

Point = tuple[float, float | None]


def colour(hex_value: str, alpha: float = 1.0) -> Color:
    base = HexColor(hex_value)
    return Color(base.red, base.green, base.blue, alpha=alpha)


def tint(hex_value: str, share: float) -> Color:
    """``share`` of the colour on white, as an opaque colour: prints the same on every device
    (no transparency to flatten) and keeps its grey level in grey-scale."""
    base = HexColor(hex_value)
    return Color(*(1 - share * (1 - c) for c in (base.red, base.green, base.blue)))


def grey_level(hex_value: str) -> float:
    """0 (black) .. 1 (white): how a colour prints in grey-scale (ITU-R BT.601 luma)."""
    base = HexColor(hex_value)
    return 0.299 * base.red + 0.587 * base.green + 0.114 * base.blue


@dataclass(frozen=True)
class Key:
    """One legend entry: a line (optionally dashed) or, with ``fill``, a filled swatch."""

    label: str
    hex_colour: str
    dash: list[float] | None = None
    fill: Color | None = None


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round ticks (1, 2, 2.5, 5 x 10^n steps) from at or below ``lo`` to at or above ``hi``."""
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(lo / step + 1e-9)
    last = math.ceil(hi / step - 1e-9)
    return [round(i * step, 10) for i in range(first, last + 1)]


def tick_label(value: float, ticks: Sequence[float]) -> str:
    """Tick text with as many decimals as the step needs (0.25 steps show 99.25, not 99.2)."""
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    decimals = next(d for d in range(7) if abs(round(step, d) - step) < 1e-9 or d == 6)
    return f"{value:,.{decimals}f}"


@dataclass
class Axes:
    """Maps data coordinates into the plot area of a drawing."""

    drawing: Drawing
    style: ReportStyle
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    left: float = 34.0
    bottom: float = 18.0
    right_pad: float = 6.0
    top_pad: float = 22.0

    @property
    def width(self) -> float:
        return float(self.drawing.width) - self.left - self.right_pad

    @property
    def height(self) -> float:
        return float(self.drawing.height) - self.bottom - self.top_pad

    def px(self, x: float) -> float:
        lo, hi = self.x_range
        return self.left + (x - lo) / ((hi - lo) or 1.0) * self.width

    def py(self, y: float) -> float:
        lo, hi = self.y_range
        clamped = min(max(y, lo), hi)
        return self.bottom + (clamped - lo) / ((hi - lo) or 1.0) * self.height

    def text(
        self,
        x: float,
        y: float,
        value: str,
        *,
        size: float = AXIS_FONT_SIZE,
        anchor: str = "middle",
        bold: bool = False,
        hex_colour: str | None = None,
    ) -> None:
        font = self.style.fonts.bold if bold else self.style.fonts.regular
        self.drawing.add(
            String(
                x,
                y,
                value,
                fontName=font,
                fontSize=size,
                textAnchor=anchor,
                fillColor=colour(hex_colour or self.style.colours.muted),
            )
        )

    def frame(
        self,
        title: str,
        y_ticks: Sequence[float],
        x_ticks: Sequence[tuple[float, str]],
        y_format: Callable[[float], str] | None = None,
    ) -> None:
        """Title, horizontal grid with y labels, x tick labels and the base line."""
        grid = colour(self.style.colours.grid)
        self.text(
            0,
            float(self.drawing.height) - 10,
            title,
            size=TITLE_FONT_SIZE,
            anchor="start",
            bold=True,
            hex_colour=self.style.colours.primary,
        )
        for value in y_ticks:
            y = self.py(value)
            self.drawing.add(
                Line(self.left, y, self.left + self.width, y, strokeColor=grid, strokeWidth=0.5)
            )
            label = y_format(value) if y_format else tick_label(value, y_ticks)
            self.text(self.left - 3, y - 2.2, label, anchor="end")
        for value, label in x_ticks:
            x = self.px(value)
            self.drawing.add(
                Line(
                    x,
                    self.bottom,
                    x,
                    self.bottom - 2.5,
                    strokeColor=colour(self.style.colours.muted),
                    strokeWidth=0.5,
                )
            )
            self.text(x, self.bottom - 10, label)
        self.drawing.add(
            Line(
                self.left,
                self.bottom,
                self.left + self.width,
                self.bottom,
                strokeColor=colour(self.style.colours.muted),
                strokeWidth=0.7,
            )
        )

    def series(
        self,
        points: Sequence[Point],
        hex_colour: str,
        *,
        width: float = 1.3,
        dash: list[float] | None = None,
        markers: bool = False,
    ) -> None:
        """A line through the points; ``None`` values break the line (days without data).

        Isolated points (a day with data between two without) get a marker so they stay visible.
        """
        stroke = colour(hex_colour)
        runs: list[list[float]] = [[]]
        for x, y in points:
            if y is None:
                runs.append([])
            else:
                runs[-1] += [self.px(x), self.py(y)]
        for run in runs:
            if len(run) >= 4:
                self.drawing.add(
                    PolyLine(
                        run,
                        strokeColor=stroke,
                        strokeWidth=width,
                        strokeDashArray=dash,
                        strokeLineJoin=1,
                    )
                )
            if markers or len(run) == 2:
                for i in range(0, len(run), 2):
                    self.drawing.add(
                        Rect(
                            run[i] - 1.2,
                            run[i + 1] - 1.2,
                            2.4,
                            2.4,
                            fillColor=stroke,
                            strokeColor=None,
                        )
                    )

    def hline(
        self,
        y: float,
        hex_colour: str,
        label: str = "",
        *,
        dash: list[float] | None = None,
        width: float = 0.9,
        label_inset: float = 1.0,
    ) -> None:
        """A horizontal line; its label sits ``label_inset`` points left of the right edge."""
        py = self.py(y)
        self.drawing.add(
            Line(
                self.left,
                py,
                self.left + self.width,
                py,
                strokeColor=colour(hex_colour),
                strokeWidth=width,
                strokeDashArray=dash or [3, 2],
            )
        )
        if label:
            # a white box behind the label, so a nearby line never strikes through it
            right = self.left + self.width - label_inset
            label_width = stringWidth(label, self.style.fonts.regular, AXIS_FONT_SIZE)
            self.drawing.add(
                Rect(
                    right - label_width - 1,
                    py + 1.2,
                    label_width + 2,
                    AXIS_FONT_SIZE,
                    fillColor=colour("#FFFFFF"),
                    strokeColor=None,
                )
            )
            self.text(
                self.left + self.width - label_inset,
                py + 2.2,
                label,
                anchor="end",
                hex_colour=hex_colour,
            )

    def band(
        self,
        xs: Sequence[float],
        lows: Sequence[float],
        highs: Sequence[float],
        hex_colour: str,
        alpha: float,
        *,
        fill: Color | None = None,
    ) -> None:
        """A filled interval between two curves (forecast intervals, areas under a line).

        ``fill`` (an opaque ``tint``) replaces the translucent ``hex_colour``/``alpha``.
        """
        if len(xs) < 2:
            return
        upper = [c for x, y in zip(xs, highs, strict=True) for c in (self.px(x), self.py(y))]
        lower = [
            c
            for x, y in zip(reversed(xs), reversed(lows), strict=True)
            for c in (self.px(x), self.py(y))
        ]
        self.drawing.add(
            Polygon(
                upper + lower,
                fillColor=fill or colour(hex_colour, alpha),
                strokeColor=None,
                strokeWidth=0,
            )
        )

    def bars(
        self,
        points: Sequence[Point],
        hex_colour: str,
        *,
        gap: float = 0.2,
        colour_of: Callable[[float], str] | None = None,
    ) -> None:
        if not points:
            return
        slot = self.width / max(1.0, (self.x_range[1] - self.x_range[0]))
        half = slot * (1 - gap) / 2
        base = self.py(self.y_range[0])
        for x, y in points:
            if y is None:
                continue
            top = self.py(y)
            fill = colour(colour_of(y) if colour_of else hex_colour)
            self.drawing.add(
                Rect(
                    self.px(x) - half,
                    base,
                    2 * half,
                    max(top - base, 0.4),
                    fillColor=fill,
                    strokeColor=None,
                )
            )

    def legend(self, entries: Sequence[tuple[str, str] | Key]) -> None:
        """Entries right-aligned on the title line: a line or dash sample, or a filled swatch."""
        x = float(self.drawing.width) - self.right_pad
        y = float(self.drawing.height) - 10
        for entry in reversed(entries):
            key = entry if isinstance(entry, Key) else Key(*entry)
            self.text(x, y, key.label, anchor="end")
            x -= stringWidth(key.label, self.style.fonts.regular, AXIS_FONT_SIZE) + 12
            if key.fill is not None:
                self.drawing.add(
                    Rect(
                        x,
                        y - 0.5,
                        9,
                        6,
                        fillColor=key.fill,
                        strokeColor=colour(key.hex_colour),
                        strokeWidth=0.4,
                    )
                )
            else:
                self.drawing.add(
                    Line(
                        x,
                        y + 2.3,
                        x + 9,
                        y + 2.3,
                        strokeColor=colour(key.hex_colour),
                        strokeWidth=1.6,
                        strokeDashArray=key.dash,
                    )
                )
            x -= 6


def padded_range(
    values: Sequence[float],
    *,
    floor: float | None = None,
    ceiling: float | None = None,
    pad: float = 0.08,
) -> tuple[float, float]:
    """[min, max] of the values widened by ``pad`` of the span, clipped to floor/ceiling."""
    lo, hi = min(values), max(values)
    span = (hi - lo) or max(abs(hi) * 0.05, 1e-3)
    lo, hi = lo - span * pad, hi + span * pad
    if floor is not None:
        lo = max(lo, floor)
    if ceiling is not None:
        hi = min(hi, ceiling)
    return lo, hi
