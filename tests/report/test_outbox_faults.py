"""The report outbox under damage and long outages (issue 12, defects 9 and 10)."""

from __future__ import annotations

import logging
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from slaengine.errors import RetryableDeliveryError
from slaengine.http.auth import API_TOKEN_KEY
from slaengine.report.config import RetryConfig
from slaengine.report.delivery import EmailText, build_message
from slaengine.report.http import add_routes
from slaengine.report.model import MonthReport
from slaengine.report.outbox import DeliveryOutbox
from slaengine.report.service import ReportService
from slaengine.report.store import ReportStore

NOW = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
TOKEN = "s3cret-token"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Mailer:
    """Records messages; fails with a retryable error while ``down``."""

    def __init__(self, down: bool = False) -> None:
        self.down = down
        self.sent: list[Any] = []

    async def send(self, message: Any) -> None:
        if self.down:
            raise RetryableDeliveryError("SMTP server unreachable: connection refused")
        self.sent.append(message)


def queue(outbox: DeliveryOutbox, folder: Path, month: date) -> None:
    pdf = folder / f"sla-report-{month:%Y-%m}.pdf"
    pdf.write_bytes(b"%PDF-1.4 test")
    outbox.enqueue(month, pdf, "slaengine@acme.example", ["sla@acme.example"],
                   EmailText("SLA report", "Attached."))


@pytest.mark.parametrize("damage", [b"", b"{", b"[]", b'{"month": "2026-10"}', b"\xff\xfe",
                                    b'{"month": "x-y", "recipients": 5}'],
                         ids=["empty", "truncated", "list", "fields missing", "not utf-8",
                              "wrong types"])
async def test_a_damaged_outbox_file_is_quarantined_and_the_rest_delivered(
        tmp_path: Path, damage: bytes, caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock(NOW)
    outbox = DeliveryOutbox(tmp_path, clock)
    queue(outbox, tmp_path, date(2026, 9, 1))
    (outbox.folder / "2026-10.json").write_bytes(damage)
    mailer = Mailer()
    with caplog.at_level(logging.ERROR):
        delivered = await outbox.deliver_due(mailer, RetryConfig())
    assert [d.month for d in delivered] == [date(2026, 9, 1)]
    assert len(mailer.sent) == 1
    assert not (outbox.folder / "2026-10.json").exists()
    [kept] = list((outbox.folder / "damaged").iterdir())
    assert kept.name.startswith("2026-10.json.") and kept.read_bytes() == damage
    assert "damaged report outbox file" in caplog.text and outbox.damaged == 1


async def test_the_report_listing_survives_a_damaged_outbox_file(aiohttp_client: Any,
                                                                 tmp_path: Path,
                                                                 october_report: MonthReport
                                                                 ) -> None:
    outbox = DeliveryOutbox(tmp_path, Clock(NOW))
    service = ReportService(lambda month: october_report, ReportStore(tmp_path), lambda: NOW,
                            "Europe/Berlin", outbox=outbox)
    service.store.save(date(2026, 10, 1), b"%PDF-1.4 test")
    (outbox.folder / "2026-10.json").write_bytes(b"")
    (outbox.folder / "sent" / "2026-09.json").write_bytes(b"not json")
    app = web.Application()
    app[API_TOKEN_KEY] = TOKEN
    add_routes(app, service)
    client = await aiohttp_client(app)
    response = await client.get("/api/v1/reports", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status == 200
    assert [r["month"] for r in (await response.json())["reports"]] == ["2026-10"]


async def test_report_email_retries_end_at_max_age(tmp_path: Path) -> None:
    clock = Clock(NOW)
    outbox = DeliveryOutbox(tmp_path, clock)
    queue(outbox, tmp_path, date(2026, 10, 1))
    retry = RetryConfig(initial_seconds=60, max_seconds=3600, max_age_seconds=86400)
    mailer = Mailer(down=True)
    attempts = 0
    while outbox.pending():
        clock.now = max(clock.now, outbox.pending()[0].next_attempt_at)
        await outbox.deliver_due(mailer, retry)
        attempts += 1
        assert attempts < 100, "retries never end"
    [failed] = outbox.finished("failed")
    assert "max_age_seconds 86400" in failed["last_error"]
    assert clock.now - NOW >= timedelta(seconds=86400)
    assert clock.now - NOW < timedelta(seconds=86400 + 3600 + 1)


@pytest.mark.parametrize("attempts", [1, 1024, 1025, 5000, 10**6])
def test_report_backoff_is_capped_at_any_attempt(attempts: int) -> None:
    retry = RetryConfig(initial_seconds=60, max_seconds=3600)
    assert 0 < retry.delay_after(attempts) <= 3600
    assert retry.delay_after(attempts, retry_after=1e300) == retry.max_age_seconds


def test_report_files_are_fsynced_before_the_rename(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    def replace(source: Any, target: Any) -> None:
        synced.append(f"rename {Path(target).name}")
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    path = ReportStore(tmp_path).save(date(2026, 10, 1), b"%PDF-1.4 test")
    assert path.read_bytes() == b"%PDF-1.4 test"
    assert [Path(s).name if not s.startswith("rename") else s for s in synced] == [
        synced[0].rpartition("/")[2], "rename sla-report-2026-10.pdf", tmp_path.name]
    assert synced[0].rpartition("/")[2].startswith(".sla-report-2026-10.pdf.")


def test_cr_lf_in_a_report_subject_never_breaks_the_message() -> None:
    message = build_message("slaengine@acme.example", ["sla@acme.example"],
                            EmailText("SLA report for Acme\r\nBcc: everyone@acme.example", "Hi"),
                            b"%PDF-1.4 test", "sla-report-2026-10.pdf")
    assert message["Subject"] == "SLA report for Acme Bcc: everyone@acme.example"
    assert message["Bcc"] is None
