"""E-mail of a monthly report: subject/body from ``templates/report_email.txt``, PDF attached.

Queued in the one outbox (slaengine.outbox: ``<reports>/report-outbox.sqlite3``) before the first
try, so a restart resumes it; sending (and sorting SMTP failures into retryable and fatal) is
slaengine.smtp's. Workers sharing the reports folder lease each attempt, so each e-mail goes out
once (a worker dying mid-send leaves a lease that expires after ten minutes: at-least-once). An
e-mail the server refuses, or still failing ``retry.max_age_seconds`` after it was queued, fails
for good: logged as an error and listed by the HTTP API — never dropped silently.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any, Protocol

from slaengine.errors import ConfigError, FatalDeliveryError
from slaengine.mail_headers import header_value
from slaengine.outbox import Codec, Delivery, Outbox, OutboxWorker, from_epoch, to_epoch
from slaengine.report.config import RetryConfig, SmtpConfig
from slaengine.report.formatting import STATUS_LABELS, format_headline, format_month
from slaengine.report.model import MonthReport
from slaengine.report.styles import TEMPLATES_DIR
from slaengine.smtp import SmtpSender, smtp_password

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
        settings = self.settings
        try:
            return smtp_password(settings.username, settings.password_file, settings.password_env)
        except ConfigError as err:  # at send time: the e-mail fails for good, and says why
            raise FatalDeliveryError(str(err)) from err

    async def send(self, message: EmailMessage) -> None:
        settings = self.settings
        smtp = SmtpSender(
            host=settings.host,
            port=settings.port,
            timeout=settings.timeout_seconds,
            username=settings.username,
            password=self._password(),
            use_tls=settings.use_tls,
            start_tls=settings.starttls,
        )
        refused = await smtp.send(message)
        if refused:
            # Some recipients took the mail; the refused ones are not retried but must be seen.
            log.error(
                "report e-mail %s refused for %s",
                message["Subject"],
                ", ".join(f"{addr} ({resp.code} {resp.message})" for addr, resp in refused.items()),
            )


class Mailer(Protocol):
    async def send(self, message: Any) -> None: ...


@dataclass(frozen=True)
class ReportEmail:
    """What the outbox keeps of one month's e-mail; the PDF is read from the store when sent."""

    month: date
    pdf_path: str
    filename: str
    sender: str
    recipients: tuple[str, ...]
    subject: str
    body: str

    def to_json(self) -> dict[str, Any]:
        return {
            "month": f"{self.month:%Y-%m}",
            "pdf_path": self.pdf_path,
            "filename": self.filename,
            "sender": self.sender,
            "recipients": list(self.recipients),
            "subject": self.subject,
            "body": self.body,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReportEmail:
        year, month = (int(part) for part in data["month"].split("-"))
        names = ("pdf_path", "filename", "sender", "subject", "body")
        fields = {name: data[name] for name in names}
        if not all(isinstance(value, str) for value in fields.values()):
            raise TypeError("text fields must be strings")
        if isinstance(data["recipients"], str):
            raise TypeError("recipients must be a list")
        return cls(date(year, month, 1), recipients=tuple(data["recipients"]), **fields)


REPORT_EMAILS: Codec[ReportEmail] = Codec(
    "report e-mail",
    identify=lambda email: (
        "report",
        email.month.year * 12 + email.month.month,
        f"{email.month:%Y-%m}",
    ),
    encode=ReportEmail.to_json,
    decode=ReportEmail.from_json,
)
CHANNEL = "report/email"
OUTBOX_FILE = "report-outbox.sqlite3"
ATTEMPT_LEASE_SECONDS = 600.0
FINISHED_STATES = {"sent": "delivered", "failed": "dead"}  # as the HTTP API lists them


@dataclass(frozen=True)
class PendingDelivery:
    """A queued report e-mail as the outbox has it now."""

    email: ReportEmail
    created_at: datetime
    next_attempt_at: datetime
    attempts: int
    last_error: str | None

    @property
    def month(self) -> date:
        return self.email.month

    @classmethod
    def of(cls, delivery: Delivery[ReportEmail]) -> PendingDelivery:
        return cls(
            delivery.item,
            from_epoch(delivery.enqueued_at),
            from_epoch(delivery.next_attempt_at),
            delivery.attempts,
            delivery.last_error,
        )


class DeliveryOutbox:
    """The monthly report e-mails in the one outbox: queue, list, deliver what is due."""

    def __init__(
        self, folder: str | Path, clock: Callable[[], datetime], retry: RetryConfig | None = None
    ) -> None:
        self.folder = Path(folder)
        self.clock = clock
        self.retry = retry or RetryConfig()
        self.outbox = Outbox(
            self.folder / OUTBOX_FILE,
            self.retry.max_age_seconds,
            REPORT_EMAILS,
            lease_seconds=ATTEMPT_LEASE_SECONDS,
        )
        self._adopt_old_files(self.folder / "outbox")

    def _adopt_old_files(self, old: Path) -> None:
        """Move e-mails still pending in the JSON files of releases before the one outbox
        (``outbox/YYYY-MM.json``) into it; each file then goes to ``outbox/migrated/``, or to
        ``outbox/damaged/`` when it cannot be read."""
        for path in sorted(old.glob("*.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                email = ReportEmail.from_json(data)
                row = {
                    "channel": CHANNEL,
                    "group_key": "report",
                    "notification_id": data["month"],
                    "sequence": email.month.year * 12 + email.month.month,
                    "payload": json.dumps(email.to_json()),
                    "attempts": int(data["attempts"]),
                    "enqueued_at": to_epoch(datetime.fromisoformat(data["created_at"])),
                    "next_attempt_at": to_epoch(datetime.fromisoformat(data["next_attempt_at"])),
                    "last_error": data.get("last_error"),
                }
            except FileNotFoundError:
                continue  # another worker adopted it meanwhile
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
                log.error(
                    "old report outbox file %s unreadable (%s: %s), moved to %s; requeue "
                    "the month's e-mail by hand",
                    path,
                    type(err).__name__,
                    err,
                    old / "damaged",
                )
                self._move_aside(path, old / "damaged")
                continue
            self.outbox.import_portable({"pending": [row], "sequences": {}, "state": {}})
            self._move_aside(path, old / "migrated")
            log.info(
                "report e-mail for %s moved from %s into the outbox", row["notification_id"], path
            )

    @staticmethod
    def _move_aside(path: Path, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.replace(path, folder / path.name)

    @property
    def damaged(self) -> int:
        return self.outbox.damaged

    def close(self) -> None:
        self.outbox.close()

    def enqueue(
        self, month: date, pdf_path: Path, sender: str, recipients: list[str], text: EmailText
    ) -> None:
        email = ReportEmail(
            month, str(pdf_path), pdf_path.name, sender, tuple(recipients), text.subject, text.body
        )
        self.outbox.enqueue([(email, [CHANNEL])], to_epoch(self.clock()))

    def pending(self) -> list[PendingDelivery]:
        return [PendingDelivery.of(d) for d in self.outbox.pending(to_epoch(self.clock()))]

    def finished(self, kind: str) -> list[dict[str, Any]]:
        """The e-mails ``sent`` or ``failed`` for good: month, attempts, last_error."""
        state = FINISHED_STATES[kind]
        return [
            {
                "month": row["notification_id"],
                "attempts": row["attempts"],
                "last_error": row["last_error"],
            }
            for row in self.outbox.history(CHANNEL)
            if row["state"] == state
        ]

    async def deliver_due(self, mailer: Mailer) -> list[PendingDelivery]:
        """Try every e-mail whose time has come; returns the ones delivered."""

        async def send(delivery: Delivery[ReportEmail]) -> None:
            email = delivery.item
            try:
                pdf = Path(email.pdf_path).read_bytes()
            except OSError as err:
                raise FatalDeliveryError(f"report file missing: {email.pdf_path}") from err
            text = EmailText(email.subject, email.body)
            await mailer.send(
                build_message(email.sender, list(email.recipients), text, pdf, email.filename)
            )
            log.info(
                "report e-mail for %s sent to %s",
                f"{email.month:%Y-%m}",
                ", ".join(email.recipients),
            )

        worker = OutboxWorker(self.outbox, send, self.retry.backoff(), self.clock)
        attempts = await worker.deliver_due(self.clock())
        return [PendingDelivery.of(a.delivery) for a in attempts if a.delivered]
