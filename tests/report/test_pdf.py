"""The rendered PDF: exact headline lines (pdftotext), non-blank pages (pdftoppm), sections."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from slaengine.errors import ConfigError
from slaengine.report.formatting import format_headline
from slaengine.report.model import MonthReport
from slaengine.report.pdf import render_report, write_report
from slaengine.report.styles import DEFAULT_STYLE_PATH, load_report_style


def poppler(tool: str) -> str:
    path = shutil.which(tool)
    assert path, f"{tool} missing: apt-get install -y poppler-utils"
    return path


def pdf_text(pdf: Path) -> list[str]:
    out = subprocess.run(
        [poppler("pdftotext"), str(pdf), "-"], capture_output=True, text=True, check=True
    )
    return [line.strip() for line in out.stdout.splitlines()]


@pytest.fixture
def october_pdf(october_report: MonthReport, tmp_path: Path) -> Path:
    return write_report(october_report, tmp_path / "october.pdf")


def test_headlines_are_extractable_exactly(october_report: MonthReport, october_pdf: Path) -> None:
    lines = pdf_text(october_pdf)
    # the numbers come from the synthetic inputs in conftest.py
    for expected in ("Uptime: 99.95%", "API p95: 420 ms", "Fulfillment: 96.0%", "Search: no data"):
        assert lines.count(expected) == 1, expected
    assert [format_headline(slo) for slo in october_report.slos] == [
        "Uptime: 99.95%",
        "API p95: 420 ms",
        "Fulfillment: 96.0%",
        "Checkout: 99.82%",
        "Search: no data",
    ]


def test_every_page_has_visible_content(october_pdf: Path, tmp_path: Path) -> None:
    subprocess.run(
        [poppler("pdftoppm"), "-png", "-r", "30", str(october_pdf), str(tmp_path / "page")],
        check=True,
    )
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 5
    for page in pages:
        pixels = np.asarray(Image.open(page).convert("L"), dtype=float)
        assert pixels.std() > 8, f"{page.name} looks blank"
        assert (pixels < 128).mean() > 0.002, f"{page.name} has almost no ink"


def test_sections_and_their_facts(october_pdf: Path) -> None:
    text = "\n".join(pdf_text(october_pdf))
    for heading in (
        "Executive summary",
        "Incidents",
        "Order fulfillment",
        "Projection lag",
        "Capacity",
        "Trend",
        "Appendix: definitions",
        "How numbers are rounded",
    ):
        assert heading in text
    assert "Overall status: At risk" in text
    assert "11,910 of 12,400 orders fulfilled in time (96.0%)." in text
    assert "Shop down for 12 minutes" in text
    assert "orders-read-model" in text
    assert "Recommendation: Add 200 GiB" in text
    assert "Reporting period: 01 October 2026 to 31 October 2026 (Europe/Berlin)" in text


def test_absent_data_sources_are_named_not_hidden(
    october_report: MonthReport, tmp_path: Path
) -> None:
    bare = replace(
        october_report,
        incidents=None,
        fulfillment_by_day=None,
        lag_summary=None,
        capacity=None,
        trend=(),
    )
    text = "\n".join(pdf_text(write_report(bare, tmp_path / "bare.pdf")))
    assert "No incident data source is configured" in text
    assert "The capacity forecaster is not configured: no capacity" in text
    assert "No order events: fulfillment is not measured." in text
    assert "No projection lag data for this month." in text


def test_a_month_without_any_data_says_no_data(october_report: MonthReport, tmp_path: Path) -> None:
    empty = replace(
        october_report,
        slos=tuple(
            replace(
                slo,
                attained=None,
                status="no-data",
                budget_consumed=None,
                budget_remaining=None,
                daily=(),
                worst_windows=(),
                p50_ms=None,
                p95_ms=None,
                p99_ms=None,
            )
            for slo in october_report.slos
        ),
        incidents=(),
        fulfillment_by_day=(),
    )
    lines = pdf_text(write_report(empty, tmp_path / "empty.pdf"))
    for expected in ("Uptime: no data", "API p95: no data", "Fulfillment: no data"):
        assert expected in lines
    assert "Overall status: No data" in lines
    assert "No incidents this month." in lines


def test_a_partial_month_says_so(october_report: MonthReport, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    partial = replace(october_report, generated_at=datetime(2026, 10, 20, 8, 0, tzinfo=UTC))
    text = "\n".join(pdf_text(write_report(partial, tmp_path / "partial.pdf")))
    assert "partial: data up to 2026-10-20 10:00 CEST" in text


def test_rendering_is_deterministic(october_report: MonthReport) -> None:
    assert render_report(october_report) == render_report(october_report)


def test_charts_are_vectors_not_images(october_pdf: Path) -> None:
    assert b"/Subtype /Image" not in october_pdf.read_bytes()


def test_a_broken_style_file_names_file_line_and_field(tmp_path: Path) -> None:
    broken = tmp_path / "style.yaml"
    broken.write_text(DEFAULT_STYLE_PATH.read_text().replace('accent: "#2E86AB"', "accent: teal"))
    with pytest.raises(ConfigError) as caught:
        load_report_style(broken)
    assert caught.value.field == "colours.accent"
    lines = broken.read_text().splitlines()
    assert caught.value.line == next(
        i for i, line in enumerate(lines, start=1) if line.startswith("  accent: teal")
    )
    assert "#RRGGBB" in str(caught.value)
