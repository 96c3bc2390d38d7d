"""The monthly run against a real local SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import socket
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller

from slaengine.report.config import (
    EmailConfig,
    ReportConfig,
    RetryConfig,
    ScheduleConfig,
    SmtpConfig,
)
from slaengine.report.export import to_csv, to_json
from slaengine.report.model import MonthReport
from slaengine.report.scheduler import ReportScheduler

BERLIN = ZoneInfo("Europe/Berlin")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Inbox:
    """aiosmtpd handler keeping every message; refuses recipients when told to."""

    def __init__(self, refuse_with: str | None = None) -> None:
        self.messages: list[EmailMessage] = []
        self.envelope_recipients: list[list[str]] = []
        self.refuse_with = refuse_with

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if self.refuse_with:
            return self.refuse_with
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(parsed)  # type: ignore[arg-type]
        self.envelope_recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def start_smtp(smtp_port: int) -> Iterator[Callable[..., Inbox]]:
    controllers: list[Controller] = []

    def start(refuse_with: str | None = None) -> Inbox:
        inbox = Inbox(refuse_with)
        controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
        controller.start()
        controllers.append(controller)
        return inbox

    yield start
    for controller in controllers:
        controller.stop()


def report_config(folder: Path, port: int, check_interval: float = 60.0) -> ReportConfig:
    return ReportConfig(
        organisation="Acme Retail",
        service_name="Shop platform",
        timezone="Europe/Berlin",
        folder=folder,
        schedule=ScheduleConfig(at=time(6, 0), check_interval_seconds=check_interval),
        email=EmailConfig(
            recipients=["sla@acme.example", "cto@acme.example"],
            sender="slaengine@acme.example",
            smtp=SmtpConfig(host="127.0.0.1", port=port, timeout_seconds=5),
            retry=RetryConfig(initial_seconds=60, max_seconds=600),
        ),
    )


class Builder:
    def __init__(self, report: MonthReport, failures: int = 0) -> None:
        self.report, self.failures, self.calls = report, failures, []  # type: list[date]

    def __call__(self, month: date) -> MonthReport:
        self.calls.append(month)
        if len(self.calls) <= self.failures:
            raise RuntimeError("SLI store not reachable")
        assert month == self.report.month
        return self.report


def first_of_november(hour: int, minute: int) -> datetime:
    return datetime(2026, 11, 1, hour, minute, tzinfo=BERLIN).astimezone(UTC)


def pdf_lines(pdf: bytes) -> list[str]:
    out = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True)
    return out.stdout.decode().splitlines()


def pdf_attachment(message: EmailMessage) -> tuple[str, bytes]:
    parts = [part for part in message.iter_attachments()]
    assert len(parts) == 1
    return str(parts[0].get_filename()), bytes(parts[0].get_content())


@pytest.mark.parametrize(
    ("local_now", "due"),
    [
        pytest.param(
            datetime(2026, 11, 1, 6, 0), date(2026, 10, 1), id="at 06:00 on the 1st October is due"
        ),
        pytest.param(
            datetime(2026, 11, 1, 5, 59), date(2026, 9, 1), id="a minute earlier September still is"
        ),
        pytest.param(
            datetime(2026, 11, 17, 12, 0),
            date(2026, 10, 1),
            id="mid-month the last month stays due",
        ),
        pytest.param(
            datetime(2027, 1, 1, 6, 0), date(2026, 12, 1), id="on new year December is due"
        ),
    ],
)
def test_the_due_month(
    local_now: datetime, due: date, tmp_path: Path, october_report: MonthReport
) -> None:
    clock = Clock(local_now.replace(tzinfo=BERLIN))
    scheduler = ReportScheduler(report_config(tmp_path, 1), Builder(october_report), clock)
    assert scheduler.due_month(clock.now) == due


def test_the_next_run_is_the_next_first_at_the_configured_time(
    tmp_path: Path, october_report: MonthReport
) -> None:
    clock = Clock(first_of_november(6, 0))
    scheduler = ReportScheduler(report_config(tmp_path, 1), Builder(october_report), clock)
    assert scheduler.next_run_at(clock.now) == datetime(2026, 12, 1, 6, 0, tzinfo=BERLIN)
    assert scheduler.next_run_at(first_of_november(5, 0)) == datetime(
        2026, 11, 1, 6, 0, tzinfo=BERLIN
    )


async def test_one_email_with_the_pdf_per_month(
    tmp_path: Path, smtp_port: int, start_smtp: Callable[..., Inbox], october_report: MonthReport
) -> None:
    inbox = start_smtp()
    clock = Clock(first_of_november(6, 0) + timedelta(seconds=30))
    builder = Builder(october_report)
    scheduler = ReportScheduler(report_config(tmp_path, smtp_port), builder, clock)
    outcome = await scheduler.tick()
    assert outcome.generated == date(2026, 10, 1)
    assert outcome.delivered == [date(2026, 10, 1)]
    for _ in range(3):  # later ticks the same month do nothing
        clock.now += timedelta(hours=7)
        assert (await scheduler.tick()).generated is None
    assert builder.calls == [date(2026, 10, 1)]
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert inbox.envelope_recipients == [["sla@acme.example", "cto@acme.example"]]
    assert message["Subject"] == "SLA report October 2026 for Shop platform: At risk"
    assert "Uptime: 99.95%" in message.get_body().get_content()  # type: ignore[union-attr]
    filename, pdf = pdf_attachment(message)
    assert filename == "sla-report-2026-10.pdf"
    assert pdf == (tmp_path / filename).read_bytes()
    assert "API p95: 420 ms" in pdf_lines(pdf)
    # the figures behind it are stored next to it (GET /api/v1/reports/2026-10.csv|.json)
    assert (tmp_path / "sla-report-2026-10.csv").read_text() == to_csv(october_report)
    assert (tmp_path / "sla-report-2026-10.json").read_text() == to_json(october_report)


async def test_a_failed_delivery_is_retried_after_the_server_comes_up(
    tmp_path: Path,
    smtp_port: int,
    start_smtp: Callable[..., Inbox],
    october_report: MonthReport,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock(first_of_november(6, 5))
    builder = Builder(october_report)
    config = report_config(tmp_path, smtp_port)
    scheduler = ReportScheduler(config, builder, clock)
    with caplog.at_level(logging.WARNING, logger="slaengine.outbox"):
        outcome = await scheduler.tick()  # nobody listens on the port yet
    assert outcome.generated == date(2026, 10, 1) and outcome.delivered == []
    [pending] = scheduler.outbox.pending()
    assert pending.attempts == 1 and "unreachable" in (pending.last_error or "")
    assert pending.next_attempt_at == clock.now + timedelta(seconds=60)
    assert "retrying in 60 s" in caplog.text

    inbox = start_smtp()
    clock.now += timedelta(seconds=30)
    assert (await scheduler.tick()).delivered == []  # backoff not over yet
    assert inbox.messages == []

    restarted = ReportScheduler(config, builder, clock)  # a restart resumes the outbox
    clock.now += timedelta(seconds=31)
    assert (await restarted.tick()).delivered == [date(2026, 10, 1)]
    assert len(inbox.messages) == 1
    assert builder.calls == [date(2026, 10, 1)]
    [sent] = restarted.outbox.finished("sent")
    assert sent["attempts"] == 2
    clock.now += timedelta(days=1)
    await restarted.tick()
    assert len(inbox.messages) == 1


async def test_backoff_doubles_and_is_capped(
    tmp_path: Path, smtp_port: int, october_report: MonthReport
) -> None:
    clock = Clock(first_of_november(6, 5))
    scheduler = ReportScheduler(report_config(tmp_path, smtp_port), Builder(october_report), clock)
    delays = []
    for _ in range(6):
        await scheduler.tick()
        [pending] = scheduler.outbox.pending()
        delays.append((pending.next_attempt_at - clock.now).total_seconds())
        clock.now = pending.next_attempt_at
    assert delays == [60, 120, 240, 480, 600, 600]


async def test_several_workers_send_one_email(
    tmp_path: Path, smtp_port: int, start_smtp: Callable[..., Inbox], october_report: MonthReport
) -> None:
    inbox = start_smtp()
    clock = Clock(first_of_november(6, 1))
    builder = Builder(october_report)
    workers = [
        ReportScheduler(report_config(tmp_path, smtp_port), builder, clock) for _ in range(4)
    ]
    outcomes = await asyncio.gather(*(worker.tick() for worker in workers))
    assert sum(outcome.generated is not None for outcome in outcomes) == 1
    assert builder.calls == [date(2026, 10, 1)]
    await asyncio.gather(*(worker.tick() for worker in workers))
    assert len(inbox.messages) == 1


async def test_a_failed_generation_is_retried_on_the_next_tick(
    tmp_path: Path,
    smtp_port: int,
    start_smtp: Callable[..., Inbox],
    october_report: MonthReport,
    caplog: pytest.LogCaptureFixture,
) -> None:
    inbox = start_smtp()
    clock = Clock(first_of_november(6, 1))
    builder = Builder(october_report, failures=1)
    scheduler = ReportScheduler(report_config(tmp_path, smtp_port), builder, clock)
    assert (await scheduler.tick()).generated is None
    assert "could not be generated" in caplog.text
    clock.now += timedelta(minutes=1)
    assert (await scheduler.tick()).generated == date(2026, 10, 1)
    assert len(inbox.messages) == 1


async def test_a_refused_email_is_kept_and_logged_not_retried(
    tmp_path: Path,
    smtp_port: int,
    start_smtp: Callable[..., Inbox],
    october_report: MonthReport,
    caplog: pytest.LogCaptureFixture,
) -> None:
    inbox = start_smtp(refuse_with="550 5.1.1 mailbox unknown")
    clock = Clock(first_of_november(6, 1))
    scheduler = ReportScheduler(report_config(tmp_path, smtp_port), Builder(october_report), clock)
    await scheduler.tick()
    assert scheduler.outbox.pending() == []
    [failed] = scheduler.outbox.finished("failed")
    assert "550" in failed["last_error"] and failed["month"] == "2026-10"
    assert "DEAD REPORT E-MAIL 2026-10" in caplog.text
    assert inbox.messages == []


async def test_run_forever_stops_when_asked(
    tmp_path: Path, smtp_port: int, start_smtp: Callable[..., Inbox], october_report: MonthReport
) -> None:
    inbox = start_smtp()
    clock = Clock(first_of_november(7, 0))
    scheduler = ReportScheduler(
        report_config(tmp_path, smtp_port, check_interval=0.01), Builder(october_report), clock
    )
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler.run_forever(stop))
    for _ in range(200):
        if inbox.messages:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, 2)
    assert len(inbox.messages) == 1
