"""reportlab paragraph and table styles built from the validated ``ReportStyle``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.colors import Color, white
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4, letter
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Paragraph, Table, TableStyle

from slaengine.report.plotting import colour, grey_level
from slaengine.report.styles import ReportStyle

LIGHT_GREY_LEVEL = 0.6  # status colours at least this light get dark text


@dataclass(frozen=True)
class Theme:
    style: ReportStyle
    title: ParagraphStyle
    h1: ParagraphStyle
    h2: ParagraphStyle
    body: ParagraphStyle
    small: ParagraphStyle
    headline: ParagraphStyle
    cell: ParagraphStyle
    cell_head: ParagraphStyle
    cell_status: ParagraphStyle

    @property
    def page_size(self) -> tuple[float, float]:
        return A4 if self.style.page.size == "A4" else letter

    @property
    def margin(self) -> float:
        return self.style.page.margin_mm * mm

    @property
    def text_width(self) -> float:
        return self.page_size[0] - 2 * self.margin

    def colour(self, hex_value: str, alpha: float = 1.0) -> Color:
        return colour(hex_value, alpha)

    def status_colour(self, status: str) -> Color:
        return colour(self.style.status.of(status))

    def table(
        self,
        rows: Sequence[Sequence[Any]],
        widths: Sequence[float] | None = None,
        *,
        extra: Sequence[tuple[Any, ...]] = (),
        header: bool = True,
        padding: float = 4.0,
    ) -> Table:
        """A striped table of plain text (not markup); a cell too wide for its column wraps.

        Plain strings draw far faster than Paragraphs, which matters for 50-SLO reports.
        """
        fonts = self.style.fonts
        size = self.cell.fontSize
        cells = [
            [
                # the text's room is the column less its left and right padding
                self._cell(value, widths[j] - 2 * padding if widths else None, header and i == 0)
                for j, value in enumerate(row)
            ]
            for i, row in enumerate(rows)
        ]
        table = Table(cells, colWidths=widths, repeatRows=1 if header else 0, hAlign="LEFT")
        commands: list[tuple[Any, ...]] = [
            ("FONT", (0, 0), (-1, -1), fonts.regular, size, self.cell.leading),
            ("TEXTCOLOR", (0, 0), (-1, -1), self.cell.textColor),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("LEFTPADDING", (0, 0), (-1, -1), padding),
            ("RIGHTPADDING", (0, 0), (-1, -1), padding),
            ("TOPPADDING", (0, 0), (-1, -1), 2.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ("LINEBELOW", (0, -1), (-1, -1), 0.6, self.colour(self.style.colours.grid)),
        ]
        if header:
            commands += [
                ("BACKGROUND", (0, 0), (-1, 0), self.colour(self.style.colours.primary)),
                ("FONT", (0, 0), (-1, 0), fonts.bold, size, self.cell.leading),
                ("TEXTCOLOR", (0, 0), (-1, 0), white),
            ]
        stripe = self.colour(self.style.colours.table_stripe)
        commands += [
            ("BACKGROUND", (0, i), (-1, i), stripe) for i in range(2 if header else 1, len(rows), 2)
        ]
        table.setStyle(TableStyle([*commands, *extra]))
        return table

    def status_text_colour(self, status: str) -> Color:
        """White on the dark status colours, the text colour on the light ones."""
        light = grey_level(self.style.status.of(status)) >= LIGHT_GREY_LEVEL
        return self.colour(self.style.colours.text) if light else white

    def status_cell(self, column: int, row: int, status: str) -> list[tuple[Any, ...]]:
        """Table commands painting one cell in the status colour with bold, readable text."""
        cell = (column, row)
        return [
            ("BACKGROUND", cell, cell, self.status_colour(status)),
            ("TEXTCOLOR", cell, cell, self.status_text_colour(status)),
            ("FONT", cell, cell, self.style.fonts.bold, self.cell.fontSize, self.cell.leading),
        ]

    def _cell(self, value: Any, room: float | None, head: bool) -> Any:
        if not isinstance(value, str):
            return value
        font = self.style.fonts.bold if head else self.style.fonts.regular
        if room is None or "\n" in value or stringWidth(value, font, self.cell.fontSize) <= room:
            return value
        return Paragraph(escape(value), self.cell_head if head else self.cell)


def build_theme(style: ReportStyle) -> Theme:
    fonts, colours = style.fonts, style.colours
    size = fonts.base_size
    text = colour(colours.text)
    primary = colour(colours.primary)

    def para(name: str, **kwargs: Any) -> ParagraphStyle:
        base: dict[str, Any] = {
            "fontName": fonts.regular,
            "fontSize": size,
            "leading": size * 1.35,
            "textColor": text,
            "alignment": TA_LEFT,
        }
        return ParagraphStyle(name, **{**base, **kwargs})

    return Theme(
        style=style,
        title=para(
            "title", fontName=fonts.bold, fontSize=size * 2.6, leading=size * 3.1, textColor=primary
        ),
        h1=para(
            "h1",
            fontName=fonts.bold,
            fontSize=size * 1.7,
            leading=size * 2.1,
            textColor=primary,
            spaceBefore=4,
            spaceAfter=6,
        ),
        h2=para(
            "h2",
            fontName=fonts.bold,
            fontSize=size * 1.25,
            leading=size * 1.6,
            textColor=primary,
            spaceBefore=8,
            spaceAfter=3,
        ),
        body=para("body", spaceAfter=4),
        small=para(
            "small", fontSize=size * 0.82, leading=size * 1.1, textColor=colour(colours.muted)
        ),
        headline=para("headline", fontName=fonts.bold, fontSize=size * 1.15, leading=size * 1.5),
        cell=para("cell", fontSize=size * 0.88, leading=size * 1.1),
        cell_head=para(
            "cell_head",
            fontName=fonts.bold,
            fontSize=size * 0.88,
            leading=size * 1.1,
            textColor=white,
        ),
        cell_status=para(
            "cell_status",
            fontName=fonts.bold,
            fontSize=size * 0.88,
            leading=size * 1.1,
            textColor=white,
        ),
    )
