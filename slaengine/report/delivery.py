"""E-mail of a monthly report: subject/body from ``templates/report_email.txt``, PDF attached.

Sending (and sorting SMTP failures into retryable and fatal) is slaengine.smtp's; the outbox
retries the retryable ones.
"""

from __future__ import annotations

import logging
import os
import string
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from slaengine.errors import ConfigError, FatalDeliveryError
from slaengine.mail_headers import header_value
from slaengine.report.config import SmtpConfig
from slaengine.report.formatting import STATUS_LABELS, format_headline, format_month
from slaengine.report.model import MonthReport
from slaengine.report.styles import TEMPLATES_DIR
from slaengine.smtp import SmtpSender

DEFAULT_EMAIL_TEMPLATE = TEMPLATES_DIR / "report_email.txt"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmailText:
    subject: str
    body: str


class EmailTemplate:
    """First line ``Subject: ...``, then the body; ``$placeholders`` as in string.Template."""

    FIELDS = (
        "organisation",
        "service_name",
        "month",
        "month_label",
        "timezone",
        "overall_status",
        "headlines",
        "filename",
    )

    def __init__(self, path: str | Path = DEFAULT_EMAIL_TEMPLATE) -> None:
        self.path = Path(path)
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as err:
            raise ConfigError(
                f"cannot read e-mail template: {err.strerror}", file=str(self.path)
            ) from err
        first, _, body = text.partition("\n")
        if not first.startswith("Subject:"):
            raise ConfigError("first line must be 'Subject: ...'", file=str(self.path), line=1)
        self.subject = string.Template(first.removeprefix("Subject:").strip())
        self.body = string.Template(body.lstrip("\n"))
        for number, line in enumerate(text.splitlines(), start=1):
            for name in string.Template(line).get_identifiers():
                if name not in self.FIELDS:
                    raise ConfigError(
                        f"unknown placeholder ${name} (known: {', '.join(self.FIELDS)})",
                        file=str(self.path),
                        line=number,
                    )

    def render(self, report: MonthReport, filename: str) -> EmailText:
        values = {
            "organisation": report.organisation,
            "service_name": report.service_name,
            "month": f"{report.month:%Y-%m}",
            "month_label": format_month(report.month),
            "timezone": report.timezone,
            "overall_status": STATUS_LABELS[report.overall_status],
            "headlines": "\n".join(format_headline(slo) for slo in report.slos) or "(no SLOs)",
            "filename": filename,
        }
        return EmailText(self.subject.substitute(values), self.body.substitute(values))


def build_message(
    sender: str, recipients: list[str], text: EmailText, pdf: bytes, filename: str
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = header_value(text.subject)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(text.body)
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=filename)
    return message


class SmtpMailer:
    """Sends one message per call; raises RetryableDeliveryError or FatalDeliveryError."""

    def __init__(self, settings: SmtpConfig) -> None:
        self.settings = settings

    def _password(self) -> str | None:
        name = self.settings.password_env
        if not name:
            return None
        password = os.environ.get(name)
        if password is None:
            raise FatalDeliveryError(f"SMTP password variable {name} is not set")
        return password

    async def send(self, message: EmailMessage) -> None:
        settings = self.settings
        smtp = SmtpSender(host=settings.host, port=settings.port, timeout=settings.timeout_seconds,
                          username=settings.username, password=self._password(),
                          use_tls=settings.use_tls, start_tls=settings.starttls or None)
        refused = await smtp.send(message)
        if refused:
            # Some recipients took the mail; the refused ones are not retried but must be seen.
            log.error(
                "report e-mail %s refused for %s",
                message["Subject"],
                ", ".join(f"{addr} ({resp.code} {resp.message})" for addr, resp in refused.items()),
            )
