"""Report e-mails in the outbox under damage, long outages and shared folders (issue 12,
defects 9 and 10; issue 16: the one outbox)."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from slaengine.errors import RetryableDeliveryError
from slaengine.http.auth import API_TOKEN_KEY
from slaengine.outbox import to_epoch
from slaengine.report.config import RetryConfig
from slaengine.report.delivery import (
    ATTEMPT_LEASE_SECONDS,
    OUTBOX_FILE,
    DeliveryOutbox,
    EmailText,
    build_message,
)
from slaengine.report.http import add_routes
from slaengine.report.model import MonthReport
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
    outbox.enqueue(
        month,
        pdf,
        "slaengine@acme.example",
        ["sla@acme.example"],
        EmailText("SLA report", "Attached."),
    )


def damage_entry(outbox: DeliveryOutbox, month: date, damage: bytes) -> None:
    """What a hand edit or a bug leaves in a stored e-mail (the file itself stays intact)."""
    db = sqlite3.connect(outbox.outbox.path)
    with db:
        db.execute(
            "UPDATE deliveries SET payload = ? WHERE notification_id = ?",
            (damage.decode("utf-8", "replace"), f"{month:%Y-%m}"),
        )
    db.close()


@pytest.mark.parametrize(
    "damage",
    [b"", b"{", b"[]", b'{"month": "2026-10"}', b"\xff\xfe", b'{"month": "x-y", "recipients": 5}'],
    ids=["empty", "truncated", "list", "fields missing", "not utf-8", "wrong types"],
)
async def test_a_damaged_outbox_entry_is_quarantined_and_the_rest_delivered(
    tmp_path: Path, damage: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(NOW)
    outbox = DeliveryOutbox(tmp_path, clock)
    queue(outbox, tmp_path, date(2026, 9, 1))
    queue(outbox, tmp_path, date(2026, 10, 1))
    damage_entry(outbox, date(2026, 9, 1), damage)  # the head of the queue: must not block it
    mailer = Mailer()
    with caplog.at_level(logging.ERROR):
        delivered = await outbox.deliver_due(mailer)
    assert [d.month for d in delivered] == [date(2026, 10, 1)]
    assert len(mailer.sent) == 1
    assert outbox.pending() == []
    [kept] = [row for row in outbox.outbox.history() if row["state"] == "damaged"]
    assert kept["notification_id"] == "2026-09" and "damaged entry" in kept["last_error"]
    assert "damaged report e-mail outbox entry" in caplog.text and outbox.damaged == 1


@pytest.mark.parametrize(
    "damage",
    [b"\x00" * 4096, b"SQLite format 3\x00" + b"\xff" * 200],
    ids=["zeros", "truncated header"],
)
def test_a_damaged_outbox_file_is_moved_aside_and_a_new_one_started(
    tmp_path: Path, damage: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / OUTBOX_FILE).write_bytes(damage)
    with caplog.at_level(logging.ERROR):
        outbox = DeliveryOutbox(tmp_path, Clock(NOW))
    [kept] = [p for p in tmp_path.iterdir() if p.name.startswith(f"{OUTBOX_FILE}.damaged-")]
    assert kept.read_bytes() == damage
    assert "damaged report e-mail outbox file" in caplog.text and outbox.damaged == 1
    queue(outbox, tmp_path, date(2026, 10, 1))
    assert [p.month for p in outbox.pending()] == [date(2026, 10, 1)]


async def test_the_report_listing_survives_a_damaged_outbox_entry(
    aiohttp_client: Any, tmp_path: Path, october_report: MonthReport
) -> None:
    outbox = DeliveryOutbox(tmp_path, Clock(NOW))
    service = ReportService(
        lambda month: october_report,
        ReportStore(tmp_path),
        lambda: NOW,
        "Europe/Berlin",
        outbox=outbox,
    )
    service.store.save(date(2026, 10, 1), b"%PDF-1.4 test")
    queue(outbox, tmp_path, date(2026, 10, 1))
    damage_entry(outbox, date(2026, 10, 1), b"not json")
    app = web.Application()
    app[API_TOKEN_KEY] = TOKEN
    add_routes(app, service)
    client = await aiohttp_client(app)
    response = await client.get("/api/v1/reports", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status == 200
    assert [(r["month"], r["email"]) for r in (await response.json())["reports"]] == [
        ("2026-10", None)
    ]


async def test_report_email_retries_end_at_max_age(tmp_path: Path) -> None:
    clock = Clock(NOW)
    retry = RetryConfig(initial_seconds=60, max_seconds=3600, max_age_seconds=86400)
    outbox = DeliveryOutbox(tmp_path, clock, retry)
    queue(outbox, tmp_path, date(2026, 10, 1))
    mailer = Mailer(down=True)
    attempts = 0
    while outbox.pending():
        clock.now = max(clock.now, outbox.pending()[0].next_attempt_at)
        await outbox.deliver_due(mailer)
        attempts += 1
        assert attempts < 100, "retries never end"
    [failed] = outbox.finished("failed")
    assert "max_age_seconds 86400" in failed["last_error"]
    assert clock.now - NOW >= timedelta(seconds=86400)
    assert clock.now - NOW < timedelta(seconds=86400 + 3600 + 1)


async def test_a_lease_left_by_a_dead_worker_expires(tmp_path: Path) -> None:
    """Workers sharing the folder attempt each e-mail once at a time; a worker that died
    mid-send (its lease never released) delays the e-mail by the lease, never loses it."""
    clock = Clock(NOW)
    dead_worker, other = DeliveryOutbox(tmp_path, clock), DeliveryOutbox(tmp_path, clock)
    queue(dead_worker, tmp_path, date(2026, 10, 1))
    assert len(dead_worker.outbox.due(to_epoch(NOW))) == 1  # leased, then the worker dies
    mailer = Mailer()
    assert await other.deliver_due(mailer) == []
    clock.now = NOW + timedelta(seconds=ATTEMPT_LEASE_SECONDS)
    assert [d.month for d in await other.deliver_due(mailer)] == [date(2026, 10, 1)]
    assert len(mailer.sent) == 1 and other.finished("sent")[0]["attempts"] == 1


@pytest.mark.parametrize("attempts", [1, 1024, 1025, 5000, 10**6])
def test_report_backoff_is_capped_at_any_attempt(attempts: int) -> None:
    retry = RetryConfig(initial_seconds=60, max_seconds=3600)
    assert 0 < retry.delay_after(attempts) <= 3600
    assert retry.delay_after(attempts, retry_after=1e300) == retry.max_age_seconds


def test_report_files_are_fsynced_before_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
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
        synced[0].rpartition("/")[2],
        "rename sla-report-2026-10.pdf",
        tmp_path.name,
    ]
    assert synced[0].rpartition("/")[2].startswith(".sla-report-2026-10.pdf.")


def test_cr_lf_in_a_report_subject_never_breaks_the_message() -> None:
    message = build_message(
        "slaengine@acme.example",
        ["sla@acme.example"],
        EmailText("SLA report for Acme\r\nBcc: everyone@acme.example", "Hi"),
        b"%PDF-1.4 test",
        "sla-report-2026-10.pdf",
    )
    assert message["Subject"] == "SLA report for Acme Bcc: everyone@acme.example"
    assert message["Bcc"] is None


async def test_emails_pending_in_old_json_files_move_into_the_outbox(tmp_path: Path) -> None:
    """Releases before the one outbox kept pending e-mails in ``outbox/YYYY-MM.json``; an
    upgrade must send them, with their attempts and backoff, not forget them."""
    pdf = tmp_path / "sla-report-2026-10.pdf"
    pdf.write_bytes(b"%PDF-1.4 test")
    old = tmp_path / "outbox"
    old.mkdir()
    (old / "2026-10.json").write_text(
        json.dumps(
            {
                "month": "2026-10",
                "pdf_path": str(pdf),
                "filename": pdf.name,
                "sender": "slaengine@acme.example",
                "recipients": ["sla@acme.example"],
                "subject": "SLA report",
                "body": "Attached.",
                "created_at": NOW.isoformat(),
                "next_attempt_at": (NOW + timedelta(minutes=2)).isoformat(),
                "attempts": 2,
                "last_error": "SMTP unreachable",
            }
        )
    )
    (old / "2026-09.json").write_bytes(b"{")
    clock = Clock(NOW)
    outbox = DeliveryOutbox(tmp_path, clock)
    [pending] = outbox.pending()
    assert (pending.month, pending.attempts, pending.next_attempt_at, pending.created_at) == (
        date(2026, 10, 1),
        2,
        NOW + timedelta(minutes=2),
        NOW,
    )
    assert (old / "migrated" / "2026-10.json").exists()
    assert (old / "damaged" / "2026-09.json").exists()
    assert list(old.glob("*.json")) == []
    assert DeliveryOutbox(tmp_path, clock).pending() == [pending]  # a second open adds nothing
    mailer = Mailer()
    assert await outbox.deliver_due(mailer) == []  # its backoff carried over
    clock.now += timedelta(minutes=2)
    assert [d.month for d in await outbox.deliver_due(mailer)] == [date(2026, 10, 1)]
    assert outbox.finished("sent")[0]["attempts"] == 3
