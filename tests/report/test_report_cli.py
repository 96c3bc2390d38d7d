"""``slaengine report`` end to end: the PDF's headlines are the ``slaengine compute`` numbers.

Both commands run as real processes on the same synthetic file (29 Sep - 31 Oct 2026,
the one test_collect.py uses); the PDF is read back with ``pdftotext`` (poppler-utils).
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from slaengine.config import load_sla_config
from slaengine.report.formatting import format_headline
from slaengine.report.model import SloMonth
from slaengine.synthetic import generate_events, plan_for_days

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "slaengine" / "data" / "slo.yaml"


def slaengine(*args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "slaengine.cli", *map(str, args)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def pdf_text(pdf: Path, *options: str) -> str:
    tool = shutil.which("pdftotext")
    assert tool, "pdftotext missing: apt-get install -y poppler-utils"
    return subprocess.run(
        [tool, *options, str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout


@dataclass
class Rendered:
    stdout: list[str]
    text: str
    compute: dict[tuple[str, str], dict[str, Any]]
    layout: list[str]  # pdftotext -layout lines
    figures_json: dict[str, Any]  # slaengine report --format json


@pytest.fixture(scope="module")
def october(tmp_path_factory: pytest.TempPathFactory, synthetic_events: Path) -> Rendered:
    events = synthetic_events
    folder = tmp_path_factory.mktemp("cli")
    pdf, as_json = folder / "report.pdf", folder / "figures.json"
    # all at once: the batch runs take most of this test's time
    args = ("report", "--month", "2026-10", "--events", events, "--config", CONFIG)
    report = slaengine(*args, "--out", pdf)
    export = slaengine(*args, "--format", "json", "--out", as_json)
    compute = slaengine(
        "compute",
        "--events",
        events,
        "--config",
        CONFIG,
        "--at",
        "2026-11-01T00:00:00Z",
        "--format",
        "json",
    )
    report_out, report_err = report.communicate(timeout=180)
    compute_out, compute_err = compute.communicate(timeout=180)
    export_out, export_err = export.communicate(timeout=180)
    assert export.returncode == 0, export_err
    assert export_out == report_out.replace(str(pdf), str(as_json))
    assert report.returncode == 0, report_err
    assert compute.returncode == 0, compute_err
    rows = {(row["name"], row["window"]): row for row in json.loads(compute_out)["slos"]}
    return Rendered(
        report_out.splitlines(),
        pdf_text(pdf),
        rows,
        pdf_text(pdf, "-layout").splitlines(),
        json.loads(as_json.read_text()),
    )


def expected_headlines(compute: dict[tuple[str, str], dict[str, Any]], month: str) -> list[str]:
    """The headline of each configured SLO, formatted from the compute row of ``month``."""
    lines = []
    for spec in load_sla_config(CONFIG).slos:
        row = compute.get((spec.name, f"month:{month}"), {})
        slo = SloMonth(
            name=spec.name,
            display_name=spec.display_name,
            sli=spec.sli,
            service="",
            target=spec.target,
            attained=row.get("value"),
            status=row.get("status", "no-data"),
            budget_consumed=None,
            budget_remaining=None,
            p95_ms=row.get("p95_ms"),
            p99_ms=row.get("p99_ms"),
        )
        lines.append(format_headline(slo))
    return lines


def test_the_pdf_headlines_are_the_compute_numbers(october: Rendered) -> None:
    headlines = expected_headlines(october.compute, "2026-10")
    assert headlines[:3] == [
        f"Availability: {headlines[0].split(': ')[1]}",
        f"API p95: {headlines[1].split(': ')[1]}",
        f"Uptime: {headlines[2].split(': ')[1]}",
    ]
    assert headlines[1].endswith(" ms") and headlines[4].startswith("Fulfillment: ")
    # the read models' lag from the file's sla.projections samples: p99 and the SLA's verdict
    assert re.fullmatch(r"Projection lag: \d+\.\ds \(SLA (met|breached)\)", headlines[-1])
    assert october.stdout[:-1] == headlines
    assert october.stdout[-1].startswith("wrote ")
    pdf_lines = {line.strip() for line in october.text.splitlines()}
    for headline in headlines:
        assert headline in pdf_lines


def slo_figures(figures: list[dict[str, Any]], name: str) -> dict[str, dict[str, Any]]:
    return {f["figure"]: f for f in figures if f["section"] == "slo" and f["subject"] == name}


def test_the_exported_figures_are_the_compute_numbers(october: Rendered) -> None:
    figures = october.figures_json["figures"]
    for spec in load_sla_config(CONFIG).slos:
        row = october.compute.get((spec.name, "month:2026-10"))
        mine = slo_figures(figures, spec.name)
        if row is None or row["value"] is None:  # projection lag: no processing times in a file
            assert mine["attained"]["value"] is None and mine["status"]["value"] == "no-data"
            continue
        assert mine["attained"]["value"] == row["value"]
        assert mine["status"]["value"] == row["status"]
        assert mine["budget_left"]["value"] == row["error_budget_remaining"]
        assert mine["budget_used"]["value"] == pytest.approx(row["burn_rate"], rel=1e-12)
        if spec.sli == "latency":
            for key in ("p50", "p95", "p99"):
                assert mine[key]["value"] == row[f"{key}_ms"]


def test_the_pdf_shows_the_exported_figures_line_by_line(october: Rendered) -> None:
    figures = october.figures_json["figures"]
    text = " ".join(october.text.split())
    missing = [
        (f["section"], f["subject"], f["figure"], f["shown"])
        for f in figures
        if f["shown"] and " ".join(f["shown"].split()) not in text
    ]
    assert missing == []
    rows = [re.split(r"\s{2,}", line.strip()) for line in october.layout]
    glance = ("target", "attained", "status", "budget_used", "budget_left", "previous_attained")
    for spec in load_sla_config(CONFIG).slos:
        mine = slo_figures(figures, spec.name)
        assert [spec.display_name, *(mine[key]["shown"] for key in glance)] in rows, spec.name


@pytest.mark.parametrize(
    "phrase",
    [
        pytest.param("No incident data source is configured", id="batch mode has no incidents"),
        pytest.param(
            "Share of the month each projection stayed within 1.0 s",
            id="batch mode has the projection lag of the file",
        ),
        pytest.param("database_size", id="capacity is forecast from the file's resources"),
        pytest.param("Recommendation: upgrade to the next tier", id="with a recommendation"),
        pytest.param("Appendix: definitions", id="the appendix is there"),
        pytest.param("DDSketch", id="and says how percentiles are computed"),
    ],
)
def test_the_pdf_has_the_batch_sections(october: Rendered, phrase: str) -> None:
    assert phrase in october.text


@pytest.fixture(scope="module")
def september_days(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two days of events at the end of September."""
    path = tmp_path_factory.mktemp("september") / "events.jsonl"
    plan = plan_for_days(datetime(2026, 10, 1, tzinfo=UTC), 2, seed=2, requests_per_minute=1.0)
    path.write_text("".join(json.dumps(event) + "\n" for event in generate_events(plan)))
    return path


def test_a_month_without_data_says_no_data(september_days: Path, tmp_path: Path) -> None:
    pdf = tmp_path / "august.pdf"
    run = slaengine(
        "report", "--month", "2026-08", "--events", september_days, "--config", CONFIG, "--out", pdf
    )
    out, err = run.communicate(timeout=60)
    assert run.returncode == 0, err
    names = [slo.name for slo in load_sla_config(CONFIG).slos]
    headlines = out.splitlines()[:-1]
    assert len(headlines) == len(names)
    assert all(line.endswith(": no data") for line in headlines)
    text = pdf_text(pdf)
    for line in headlines:
        assert line in text
    assert text.count("No data: no events for this SLO were recorded in the month.") == len(names)


@pytest.mark.parametrize(
    ("month", "code", "message"),
    [
        pytest.param("2026-13", 2, "MM must be 01..12", id="month 13 is a usage error"),
        pytest.param("October", 2, "must look like YYYY-MM", id="a month name is a usage error"),
        pytest.param(
            "2999-01", 1, "month 2999-01 has not started yet", id="a future month is an error"
        ),
    ],
)
def test_a_bad_month_gives_one_line_and_no_pdf(
    september_days: Path, tmp_path: Path, month: str, code: int, message: str
) -> None:
    pdf = tmp_path / "report.pdf"
    run = slaengine(
        "report", "--month", month, "--events", september_days, "--config", CONFIG, "--out", pdf
    )
    out, err = run.communicate(timeout=60)
    assert run.returncode == code
    assert out == ""
    assert message in err and err.count("\n") == 1 and err.startswith("slaengine report: error:")
    assert not pdf.exists()


def test_the_csv_export_is_the_json_export(september_days: Path, tmp_path: Path) -> None:
    args = ("report", "--month", "2026-10", "--events", september_days, "--config", CONFIG)
    runs = [
        slaengine(*args, "--format", fmt, "--out", tmp_path / f"figures.{fmt}")
        for fmt in ("csv", "json")
    ]
    for run in runs:
        assert run.communicate(timeout=60)[0].endswith(".csv\n" if run is runs[0] else ".json\n")
        assert run.returncode == 0
    rows = list(csv.DictReader(io.StringIO((tmp_path / "figures.csv").read_text())))
    figures = json.loads((tmp_path / "figures.json").read_text())["figures"]
    assert len(rows) == len(figures) > 100
    for row, figure in zip(rows, figures, strict=True):
        assert (row["section"], row["subject"], row["figure"], row["shown"]) == (
            figure["section"],
            figure["subject"],
            figure["figure"],
            figure["shown"],
        )
        value = figure["value"]
        if isinstance(value, float):
            assert float(row["value"]) == value
        else:
            assert row["value"] == ("" if value is None else str(value))


def test_without_display_names_headlines_name_the_kind_and_service(
    september_days: Path, tmp_path: Path
) -> None:
    config = tmp_path / "slo.yaml"
    config.write_text(
        "".join(
            line
            for line in CONFIG.read_text().splitlines(keepends=True)
            if "display_name:" not in line
        )
    )
    run = slaengine(
        "report",
        "--month",
        "2026-10",
        "--events",
        september_days,
        "--config",
        config,
        "--out",
        tmp_path / "r.pdf",
    )
    out, err = run.communicate(timeout=60)
    assert run.returncode == 0, err
    labels = [line.split(": ")[0] for line in out.splitlines()[:-1]]
    assert labels == [
        "Availability (orders-api)",
        "Latency p95 (orders-api)",
        "Uptime (orders-api)",
        "Availability (catalog-api)",
        "Fulfillment (orders)",
        "Projection lag (all projections)",
    ]
    text = pdf_text(tmp_path / "r.pdf")
    assert all(line in text for line in out.splitlines()[:-1])
    assert "Orders Api" not in text and "Api Uptime" not in text  # nothing re-cased
