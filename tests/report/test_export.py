"""The CSV/JSON export: golden figures, CSV = JSON, and every printed figure is in the PDF.

The PDF is read back with ``pdftotext`` (poppler-utils); its SLO table rows, key facts and
headlines must be the export's ``shown`` strings, in order.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from slaengine.report.export import COLUMNS, report_figures, save_exports, to_csv, to_json
from slaengine.report.formatting import slo_label
from slaengine.report.model import MonthReport
from slaengine.report.pdf import write_report

from .test_summary import breached_uptime


def pdf_text(pdf: Path, *, layout: bool = False) -> str:
    args = ["pdftotext", *(["-layout"] if layout else []), str(pdf), "-"]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def cells(line: str) -> list[str]:
    """A ``pdftotext -layout`` table row split at its column gaps."""
    return re.split(r"\s{2,}", line.strip())


def shown(report: MonthReport, section: str, subject: str, figure: str) -> str:
    return next(
        f.shown
        for f in report_figures(report)
        if (f.section, f.subject, f.figure) == (section, subject, figure)
    )


@pytest.fixture(params=["october", "breached", "partly overspent"])
def report(request: pytest.FixtureRequest, october_report: MonthReport) -> MonthReport:
    if request.param == "october":
        return october_report
    if request.param == "breached":
        return breached_uptime(october_report)
    uptime = replace(
        october_report.slos[0],
        attained=99.80,
        status="breached",
        budget_consumed=1.925,
        budget_remaining=-0.925,
    )
    return replace(october_report, slos=(uptime, *october_report.slos[1:]))


def test_golden_figures_of_one_slo(october_report: MonthReport) -> None:
    rows = [
        (f.figure, f.value, f.unit, f.shown)
        for f in report_figures(october_report)
        if f.section == "slo" and f.subject == "uptime"
    ]
    uptime = october_report.slos[0]
    assert rows == [
        ("headline", uptime.attained, "%", "Uptime: 99.95%"),
        ("target", 99.9, "%", "99.9%"),
        ("attained", uptime.attained, "%", "99.95%"),
        ("status", "met", "", "Met"),
        ("budget_used", uptime.budget_consumed, "fraction", "49.2%"),
        ("budget_left", uptime.budget_remaining, "fraction", "50.8%"),
        ("previous_attained", 99.97, "%", "-0.02 pp"),
    ]
    # 22 bad minutes of 44,700 at 99.9%: exactly the arithmetic, not a re-rounded copy
    assert uptime.attained == pytest.approx(100 * (44_700 - 22) / 44_700)
    assert uptime.budget_consumed == pytest.approx(22 / 44.7)


def test_golden_figures_of_the_breached_month(october_report: MonthReport) -> None:
    report = breached_uptime(october_report)
    assert shown(report, "slo", "uptime", "budget_left") == "overspent by 2×"
    assert shown(report, "summary", "report", "overall_status") == "Breached"
    capacity = {f.figure: f.shown for f in report_figures(report) if f.section == "capacity"}
    assert capacity["capacity"] == "800 GiB"
    assert capacity["days_to_100"] == "not within the forecast"


def test_csv_and_json_hold_the_same_figures(october_report: MonthReport) -> None:
    figures = [asdict(f) for f in report_figures(october_report)]
    document = json.loads(to_json(october_report))
    assert document["figures"] == figures
    assert (document["month"], document["overall_status"]) == ("2026-10", "at-risk")
    rows = list(csv.DictReader(io.StringIO(to_csv(october_report))))
    assert len(rows) == len(figures)
    for row, figure in zip(rows, figures, strict=True):
        assert tuple(row) == COLUMNS
        value = figure["value"]
        if isinstance(value, float):
            assert float(row["value"]) == value  # full precision survives the CSV
        else:
            assert row["value"] == ("" if value is None else str(value))
        assert row["shown"] == figure["shown"]


def test_every_printed_figure_is_in_the_pdf(report: MonthReport, tmp_path: Path) -> None:
    text = " ".join(pdf_text(write_report(report, tmp_path / "r.pdf")).split())
    printed = [f for f in report_figures(report) if f.shown]
    assert len(printed) > 60
    missing = [
        (f.section, f.subject, f.figure, f.shown)
        for f in printed
        if " ".join(f.shown.split()) not in text
    ]
    assert missing == []


def test_the_pdf_tables_are_the_export_line_by_line(report: MonthReport, tmp_path: Path) -> None:
    lines = pdf_text(write_report(report, tmp_path / "r.pdf"), layout=True).splitlines()
    by_first_cell: dict[str, list[list[str]]] = {}
    for line in lines:
        row = cells(line)
        by_first_cell.setdefault(row[0], []).append(row)
    for slo in report.slos:
        expected = [slo_label(slo)] + [
            shown(report, "slo", slo.name, figure)
            for figure in (
                "target",
                "attained",
                "status",
                "budget_used",
                "budget_left",
                "previous_attained",
            )
        ]
        assert expected in by_first_cell[slo_label(slo)], slo.name  # "SLOs at a glance"
    facts = [
        f.shown
        for f in report_figures(report)
        if f.section == "summary"
        and f.figure in ("worst_slo", "worst_day_budget_share", "count", "warnings")
    ]
    for label, sentence in zip(
        ("Worst SLO", "Worst day", "Incidents", "Capacity"), facts, strict=True
    ):
        assert [label, sentence] in by_first_cell[label]
    headlines = [f.shown for f in report_figures(report) if f.figure == "headline"]
    assert [line.strip() for line in lines if line.strip() in headlines] == headlines


def test_the_pdf_names_its_data_files(october_report: MonthReport, tmp_path: Path) -> None:
    text = " ".join(pdf_text(write_report(october_report, tmp_path / "r.pdf")).split())
    assert (
        "The numbers behind this report: sla-report-2026-10.csv and sla-report-2026-10.json"
    ) in text
    assert "GET /api/v1/reports/2026-10.csv" in text


def test_saved_exports_are_the_rendered_ones(october_report: MonthReport, tmp_path: Path) -> None:
    paths = save_exports(tmp_path, october_report.month, october_report)
    assert [p.name for p in paths] == ["sla-report-2026-10.csv", "sla-report-2026-10.json"]
    assert paths[0].read_text() == to_csv(october_report)
    assert paths[1].read_text() == to_json(october_report)
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in paths]  # no temp files


def test_an_unmeasured_report_exports_no_data_not_zero(october_report: MonthReport) -> None:
    bare = replace(
        october_report, incidents=None, capacity=None, fulfillment_by_day=None, lag_summary=None
    )
    figures = report_figures(bare)
    count = next(f for f in figures if f.subject == "incidents" and f.figure == "count")
    assert (count.value, count.shown) == (None, "not reported (no incident data source)")
    assert not [f for f in figures if f.section in ("incident", "capacity", "fulfillment", "lag")]
