"""``slaengine report`` end to end: the PDF's headlines are the ``slaengine compute`` numbers.

Both commands run as real processes on the same synthetic file (29 Sep - 31 Oct 2026,
the one test_collect.py uses); the PDF is read back with ``pdftotext`` (poppler-utils).
"""

from __future__ import annotations

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
    return subprocess.Popen([sys.executable, "-m", "slaengine.cli", *map(str, args)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def pdf_text(pdf: Path) -> str:
    tool = shutil.which("pdftotext")
    assert tool, "pdftotext missing: apt-get install -y poppler-utils"
    return subprocess.run([tool, str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout


@dataclass
class Rendered:
    stdout: list[str]
    text: str
    compute: dict[tuple[str, str], dict[str, Any]]


@pytest.fixture(scope="module")
def october(tmp_path_factory: pytest.TempPathFactory, synthetic_events: Path) -> Rendered:
    events = synthetic_events
    pdf = tmp_path_factory.mktemp("cli") / "report.pdf"
    # both at once: the two batch runs take most of this test's time
    report = slaengine("report", "--month", "2026-10", "--events", events, "--config", CONFIG,
                       "--out", pdf)
    compute = slaengine("compute", "--events", events, "--config", CONFIG,
                        "--at", "2026-11-01T00:00:00Z", "--format", "json")
    report_out, report_err = report.communicate(timeout=120)
    compute_out, compute_err = compute.communicate(timeout=120)
    assert report.returncode == 0, report_err
    assert compute.returncode == 0, compute_err
    rows = {(row["name"], row["window"]): row for row in json.loads(compute_out)["slos"]}
    return Rendered(report_out.splitlines(), pdf_text(pdf), rows)


def expected_headlines(compute: dict[tuple[str, str], dict[str, Any]], month: str) -> list[str]:
    """The headline of each configured SLO, formatted from the compute row of ``month``."""
    lines = []
    for spec in load_sla_config(CONFIG).slos:
        row = compute.get((spec.name, f"month:{month}"), {})
        slo = SloMonth(
            name=spec.name, display_name=spec.display_name, sli=spec.sli, service="", target=spec.target,
            attained=row.get("value"), status=row.get("status", "no-data"),
            budget_consumed=None, budget_remaining=None, p95_ms=row.get("p95_ms"),
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


@pytest.mark.parametrize(
    "phrase",
    [
        pytest.param("No incident data source is configured", id="batch mode has no incidents"),
        pytest.param("Share of the month each projection stayed within 1.0 s",
                     id="batch mode has the projection lag of the file"),
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
    run = slaengine("report", "--month", "2026-08", "--events", september_days,
                    "--config", CONFIG, "--out", pdf)
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
        pytest.param("2999-01", 1, "month 2999-01 has not started yet",
                     id="a future month is an error"),
    ],
)
def test_a_bad_month_gives_one_line_and_no_pdf(
    september_days: Path, tmp_path: Path, month: str, code: int, message: str
) -> None:
    pdf = tmp_path / "report.pdf"
    run = slaengine("report", "--month", month, "--events", september_days, "--config", CONFIG,
                    "--out", pdf)
    out, err = run.communicate(timeout=60)
    assert run.returncode == code
    assert out == ""
    assert message in err and err.count("\n") == 1 and err.startswith("slaengine report: error:")
    assert not pdf.exists()
