"""Every section of slo.yaml is typed and validated once, when the file loads: the ``report:`` and
``forecasting:`` sections too, with ``file:line: field: message`` errors; durations are parsed
then and never again."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

import slaengine.config
from slaengine.config import load_sla_config
from slaengine.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
SLOS = """\
timezone: Europe/Berlin
organisation: Acme
slos:
  - name: api
    sli: availability
    service: orders-api
    target: 99.9
    window: 28d
  - name: monthly
    sli: availability
    service: orders-api
    target: 99
    window: calendar-month
"""  # 13 lines: a section appended below starts on line 14
REPORT = """\
report:
  organisation: Acme Retail
  service_name: Shop platform
  email:
    recipients: [sla@acme.example]
    sender: slaengine@acme.example
    smtp: {host: smtp.acme.example}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "slo.yaml"
    path.write_text(text)
    return path


def test_the_report_and_forecasting_sections_load_typed(tmp_path: Path) -> None:
    config = load_sla_config(write(tmp_path, SLOS + REPORT + "forecasting:\n  horizon_days: 90\n"))
    assert config.report is not None and config.forecasting is not None
    assert config.report.email is not None and config.report.email.smtp.port == 25
    assert config.report.folder == Path("var/reports")
    assert config.forecasting.horizon_days == 90
    assert config.forecasting.kinds.database.threshold_percent == 80  # defaults filled in


def test_without_the_sections_they_are_none(tmp_path: Path) -> None:
    config = load_sla_config(write(tmp_path, SLOS))
    assert config.report is None and config.forecasting is None


def test_a_report_without_a_timezone_uses_the_slo_timezone(tmp_path: Path) -> None:
    # the worker used to schedule and label such a report in UTC while the SLIs were in Berlin
    config = load_sla_config(write(tmp_path, SLOS + REPORT))
    assert config.report is not None and config.report.timezone == "Europe/Berlin"


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        pytest.param(
            REPORT.replace("sla@acme.example", "nobody"),
            r"slo\.yaml:18: report\.email\.recipients: Value error, not an e-mail "
            r"address: 'nobody'",
            id="a bad recipient",
        ),
        pytest.param(
            "report:\n  organisation: Acme\n",
            r"slo\.yaml:14: report\.service_name: Field required",
            id="a report without its service name",
        ),
        pytest.param(
            REPORT + "  schedule: {at: '25:00'}\n",
            r"slo\.yaml:21: report\.schedule\.at: Input should be in a valid time format",
            id="a bad schedule time",
        ),
        pytest.param(
            REPORT + "  timezone: UTC\n",
            r"slo\.yaml:21: report\.timezone: 'UTC' differs from timezone 'Europe/Berlin'",
            id="a report timezone other than the SLOs'",
        ),
        pytest.param(
            "forecasting:\n  kinds:\n    database: {tiers_gb: [50, 10]}\n",
            r"slo\.yaml:16: forecasting\.kinds\.database\.tiers_gb: Value error, tiers "
            r"must be positive and strictly ascending",
            id="descending tiers",
        ),
        pytest.param(
            "forecasting:\n  horizon: 30\n",
            r"slo\.yaml:15: forecasting\.horizon: Extra inputs are not permitted",
            id="an unknown forecasting field",
        ),
    ],
)
def test_a_bad_section_names_file_line_and_field(
    tmp_path: Path, section: str, expected: str
) -> None:
    path = write(tmp_path, SLOS + section)
    with pytest.raises(ConfigError, match=expected):
        load_sla_config(path)


def test_the_worker_refuses_a_bad_section_before_it_connects(tmp_path: Path) -> None:
    path = write(tmp_path, SLOS + "forecasting:\n  horizon_days: 3\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "slaengine.cli",
            "worker",
            "--config",
            str(path),
            "--bootstrap",
            "127.0.0.1:1",
            "--data-dir",
            str(tmp_path / "data"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert (
        f"{path}:15: forecasting.horizon_days: Input should be greater than or equal to 7"
        in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_slo_windows_are_parsed_once_at_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_sla_config(write(tmp_path, SLOS))

    def refuse(text: str) -> timedelta:
        raise AssertionError(f"{text!r} parsed again after the config was loaded")

    monkeypatch.setattr(slaengine.config, "parse_duration", refuse)
    assert config.slo("api").window_delta == timedelta(days=28)
    assert config.slo("monthly").window_delta is None
