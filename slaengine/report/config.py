"""The ``report:`` settings: schedule, folder, SMTP and recipients (validated via yamlconfig).

Example (docs/report.md has the full reference)::

    report:
      organisation: Acme Retail
      service_name: Shop platform
      timezone: Europe/Berlin
      folder: var/reports
      schedule: {at: "06:00"}
      email:
        recipients: [sla@acme.example]
        sender: slaengine@acme.example
        smtp: {host: smtp.acme.example, port: 587, starttls: true,
               username: slaengine, password_env: SLAENGINE_SMTP_PASSWORD}
        retry: {initial_seconds: 60, max_seconds: 3600, max_age_seconds: 259200}
"""

from __future__ import annotations

import random
import re
from datetime import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from slaengine.calendar import zone_of
from slaengine.outbox import BackoffPolicy
from slaengine.yamlconfig import load_model

_ADDRESS = re.compile(r"[^@\s<>]+@[^@\s<>]+")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScheduleConfig(_Strict):
    at: time = time(6, 0)  # local time (report timezone) on the 1st of each month
    check_interval_seconds: float = Field(default=60.0, gt=0)


class SmtpConfig(_Strict):
    host: str
    port: int = Field(default=25, ge=1, le=65535)
    starttls: bool = False
    use_tls: bool = False  # implicit TLS (port 465)
    username: str | None = None
    # the password (with a username): from this file, else the environment variable named by
    # password_env (default SLAENGINE_SMTP_PASSWORD) — looked up as alert e-mails do
    password_file: Path | None = None
    password_env: str | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)


class RetryConfig(_Strict):
    initial_seconds: float = Field(default=60.0, gt=0, le=86400)
    max_seconds: float = Field(default=3600.0, gt=0, le=86400)
    # a report e-mail still failing this long after it was queued is moved to outbox/failed/
    max_age_seconds: float = Field(default=3 * 86400.0, gt=0, le=90 * 86400)

    def backoff(self) -> BackoffPolicy:
        # no jitter: one e-mail a month makes no retry storm, and the delays stay predictable
        return BackoffPolicy(self.initial_seconds, self.max_seconds, jitter=False)

    def delay_after(self, attempts: int, retry_after: float | None = None) -> float:
        """The wait after failed attempt ``attempts``; never beyond max_age_seconds (the outbox
        makes its last try then)."""
        delay = self.backoff().delay(attempts, retry_after, random.Random())
        return min(delay, self.max_age_seconds)


class EmailConfig(_Strict):
    recipients: list[str] = Field(min_length=1)
    sender: str
    smtp: SmtpConfig
    retry: RetryConfig = RetryConfig()
    template: Path | None = None  # default: templates/report_email.txt

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if not _ADDRESS.fullmatch(address):
                raise ValueError(f"not an e-mail address: {address!r}")
        return value

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        if not _ADDRESS.fullmatch(value):
            raise ValueError(f"not an e-mail address: {value!r}")
        return value


class ReportConfig(_Strict):
    organisation: str
    service_name: str
    timezone: str = "UTC"
    folder: Path = Path("var/reports")
    schedule: ScheduleConfig = ScheduleConfig()
    email: EmailConfig | None = None  # None: reports are stored, not mailed
    style: Path | None = None  # default: templates/report_style.yaml

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        zone_of(value)
        return value


class ReportConfigFile(_Strict):
    model_config = ConfigDict(extra="allow", frozen=True)  # other sections belong to others
    report: ReportConfig


def load_report_config(path: str | Path) -> ReportConfig:
    """The ``report:`` section of ``path``; ConfigError with file/line/field when invalid."""
    return load_model(path, ReportConfigFile).report
