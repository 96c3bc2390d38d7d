"""One SMTP password lookup for alert and report e-mails (issue 16): the same settings find the
same password, and a missing one says where to put it."""

from __future__ import annotations

from pathlib import Path

import pytest

from slaengine.errors import ConfigError, FatalDeliveryError
from slaengine.report.config import SmtpConfig
from slaengine.report.delivery import SmtpMailer
from slaengine.router.config import EmailIntegration
from slaengine.router.email import EmailSender


def both_passwords(password_file: Path | None) -> tuple[str | None, str | None]:
    alert = EmailSender.from_config(
        EmailIntegration(
            host="smtp.acme.example",
            sender="slaengine@acme.example",
            to=["o@acme.example"],
            username="slaengine",
            password_file=password_file,
        )
    )
    report = SmtpMailer(
        SmtpConfig(host="smtp.acme.example", username="slaengine", password_file=password_file)
    )
    return alert.smtp.password, report._password()


def test_a_password_file_serves_alert_and_report_emails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLAENGINE_SMTP_PASSWORD", "from-env")
    secret = tmp_path / "smtp-password"
    secret.write_text("from-file\n")
    assert both_passwords(secret) == ("from-file", "from-file")
    assert both_passwords(None) == ("from-env", "from-env")


def test_report_emails_read_the_variable_password_env_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REPORT_SMTP_PASSWORD", "report-secret")
    mailer = SmtpMailer(
        SmtpConfig(
            host="smtp.acme.example", username="slaengine", password_env="REPORT_SMTP_PASSWORD"
        )
    )
    assert mailer._password() == "report-secret"


def test_a_missing_password_fails_both_and_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SLAENGINE_SMTP_PASSWORD", raising=False)
    with pytest.raises(ConfigError, match="SLAENGINE_SMTP_PASSWORD"):
        both_passwords(None)
    mailer = SmtpMailer(SmtpConfig(host="smtp.acme.example", username="slaengine"))
    with pytest.raises(FatalDeliveryError, match="SLAENGINE_SMTP_PASSWORD"):
        mailer._password()
    assert SmtpMailer(SmtpConfig(host="smtp.acme.example"))._password() is None  # no login
