"""The report: section and the e-mail template are validated with file/line/field errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from slaengine.errors import ConfigError
from slaengine.report.config import load_report_config
from slaengine.report.delivery import EmailTemplate

VALID = """\
slos: []          # another engineer's section, ignored here
report:
  organisation: Acme Retail
  service_name: Shop platform
  timezone: Europe/Berlin
  folder: var/reports
  schedule:
    at: "06:30"
  email:
    recipients: [sla@acme.example]
    sender: slaengine@acme.example
    smtp: {host: smtp.acme.example, port: 587, starttls: true, password_env: SMTP_PASSWORD}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "slo.yaml"
    path.write_text(text)
    return path


def test_a_valid_section_loads(tmp_path: Path) -> None:
    config = load_report_config(write(tmp_path, VALID))
    assert config.schedule.at.hour == 6 and config.schedule.at.minute == 30
    assert config.email is not None and config.email.smtp.port == 587
    assert config.email.retry.delay_after(1) == 60 and config.email.retry.delay_after(20) == 3600


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        pytest.param(
            "timezone: Europe/Berlin",
            "timezone: Mars/Olympus",
            "report.timezone",
            "unknown timezone",
            id="an unknown timezone",
        ),
        pytest.param(
            "[sla@acme.example]",
            "[not-an-address]",
            "report.email.recipients",
            "not an e-mail address",
            id="a recipient that is no address",
        ),
        pytest.param(
            'at: "06:30"', 'at: "25:00"', "report.schedule.at", "", id="an impossible time"
        ),
        pytest.param("port: 587", "port: 0", "report.email.smtp.port", "", id="port 0"),
        pytest.param(
            "folder: var/reports",
            "folder: var/reports\n  colour: red",
            "report.colour",
            "Extra inputs",
            id="a misspelt key",
        ),
    ],
)
def test_errors_name_file_line_and_field(
    tmp_path: Path, old: str, new: str, field: str, message: str
) -> None:
    path = write(tmp_path, VALID.replace(old, new))
    with pytest.raises(ConfigError) as caught:
        load_report_config(path)
    err = caught.value
    assert err.file == str(path) and err.field == field and message in str(err)
    wrong_line = path.read_text().splitlines()[err.line - 1]  # type: ignore[operator]
    assert field.rsplit(".", 1)[-1].split("[")[0] in wrong_line


def test_an_unknown_template_placeholder_is_refused(tmp_path: Path) -> None:
    template = tmp_path / "mail.txt"
    template.write_text("Subject: Report $month\n\nHello $customer\n")
    with pytest.raises(ConfigError, match=r"mail.txt:3: unknown placeholder \$customer"):
        EmailTemplate(template)


def test_the_template_needs_a_subject_line(tmp_path: Path) -> None:
    template = tmp_path / "mail.txt"
    template.write_text("Hello\n")
    with pytest.raises(ConfigError, match=re.escape("first line must be 'Subject: ...'")):
        EmailTemplate(template)
