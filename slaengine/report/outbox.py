"""Report e-mails waiting to be delivered, persisted so a restart resumes them.

``<reports>/outbox/YYYY-MM.json`` is a pending delivery; on success it moves to
``outbox/sent/``, on a fatal error to ``outbox/failed/`` (logged as an error and
listed by the HTTP API) — a report e-mail is never dropped silently. Workers
sharing the folder take a short claim per attempt, so each e-mail goes out once
(a worker dying mid-send leaves a claim that expires: at-least-once). A delivery
still failing ``retry.max_age_seconds`` after it was queued fails for good. Files
are written with fsync and an atomic rename; a damaged file (empty, half-written
by a full disk, edited by hand) is moved to ``outbox/damaged/`` and logged as an
error, never fatal to listing or to the other deliveries.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from slaengine.errors import FatalDeliveryError, RetryableDeliveryError
from slaengine.report.claim import FileMonthClaim
from slaengine.report.config import RetryConfig
from slaengine.report.delivery import EmailText, build_message
from slaengine.report.store import write_durably

log = logging.getLogger(__name__)


class Mailer(Protocol):
    async def send(self, message: Any) -> None: ...


@dataclass(frozen=True)
class PendingDelivery:
    month: date
    pdf_path: str
    filename: str
    sender: str
    recipients: tuple[str, ...]
    subject: str
    body: str
    created_at: datetime
    next_attempt_at: datetime
    attempts: int = 0
    last_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            month=f"{self.month:%Y-%m}",
            recipients=list(self.recipients),
            created_at=self.created_at.isoformat(),
            next_attempt_at=self.next_attempt_at.isoformat(),
        )
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PendingDelivery:
        year, month = (int(part) for part in data["month"].split("-"))
        return cls(
            **{
                **data,
                "month": date(year, month, 1),
                "recipients": tuple(data["recipients"]),
                "created_at": datetime.fromisoformat(data["created_at"]),
                "next_attempt_at": datetime.fromisoformat(data["next_attempt_at"]),
            }
        )


class DeliveryOutbox:
    def __init__(self, folder: str | Path, clock: Callable[[], datetime]) -> None:
        self.folder = Path(folder) / "outbox"
        for sub in (self.folder, self.folder / "sent", self.folder / "failed",
                    self.folder / "damaged"):
            sub.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self.attempt_claim = FileMonthClaim(self.folder, clock, stale_after=timedelta(minutes=10))
        self.damaged = 0  # files quarantined by this process

    def enqueue(
        self, month: date, pdf_path: Path, sender: str, recipients: list[str], text: EmailText
    ) -> PendingDelivery:
        now = self.clock()
        pending = PendingDelivery(
            month,
            str(pdf_path),
            pdf_path.name,
            sender,
            tuple(recipients),
            text.subject,
            text.body,
            now,
            now,
        )
        self._write(self.folder / f"{month:%Y-%m}.json", pending.to_json())
        return pending

    def pending(self) -> list[PendingDelivery]:
        found = []
        for path in sorted(self.folder.glob("*.json")):
            pending = self._load(path)
            if pending is not None:
                found.append(pending)
        return found

    def finished(self, kind: str) -> list[dict[str, Any]]:
        """Records in ``sent`` or ``failed`` (damaged ones are quarantined and left out)."""
        records = []
        for path in sorted((self.folder / kind).glob("*.json")):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
                if not isinstance(record, dict) or not isinstance(record.get("month"), str):
                    raise TypeError("not a delivery record")
            except FileNotFoundError:
                continue
            except (OSError, ValueError, TypeError, RecursionError) as err:
                self._quarantine(path, err)
                continue
            records.append(record)
        return records

    def _load(self, path: Path) -> PendingDelivery | None:
        """The delivery in ``path``; None (and the file quarantined) when it is damaged."""
        try:
            pending = PendingDelivery.from_json(json.loads(path.read_text(encoding="utf-8")))
            if pending.created_at.tzinfo is None or pending.next_attempt_at.tzinfo is None:
                raise ValueError("times lack a UTC offset")
            return pending
        except FileNotFoundError:
            return None  # delivered or moved by another worker meanwhile
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as err:
            self._quarantine(path, err)
            return None

    def _quarantine(self, path: Path, err: BaseException) -> None:
        target = self.folder / "damaged" / f"{path.name}.{self.clock():%Y%m%dT%H%M%S}"
        try:
            os.replace(path, target)
        except FileNotFoundError:
            return
        except OSError as move_err:
            log.error("damaged report outbox file %s could not be moved away: %s", path, move_err)
            return
        self.damaged += 1
        log.error("damaged report outbox file %s (%s: %s) moved to %s; requeue the month's "
                  "e-mail by hand if it was still pending", path, type(err).__name__, err, target)

    async def deliver_due(self, mailer: Mailer, retry: RetryConfig) -> list[PendingDelivery]:
        """Try every delivery whose time has come; returns the ones delivered."""
        delivered = []
        for pending in self.pending():
            if pending.next_attempt_at > self.clock():
                continue
            if not self.attempt_claim.try_claim(pending.month):
                continue  # another worker is sending it right now
            try:
                current = self._reload(pending.month)  # another worker may have handled it
                due = current is not None and current.next_attempt_at <= self.clock()
                if due and current and await self._attempt(current, mailer, retry):
                    delivered.append(current)
            finally:
                self.attempt_claim.release(pending.month)
        return delivered

    def _reload(self, month: date) -> PendingDelivery | None:
        return self._load(self.folder / f"{month:%Y-%m}.json")

    async def _attempt(self, pending: PendingDelivery, mailer: Mailer, retry: RetryConfig) -> bool:
        name = f"{pending.month:%Y-%m}.json"
        attempts = pending.attempts + 1
        try:
            try:
                pdf = Path(pending.pdf_path).read_bytes()
            except OSError as err:
                raise FatalDeliveryError(f"report file missing: {pending.pdf_path}") from err
            message = build_message(
                pending.sender,
                list(pending.recipients),
                EmailText(pending.subject, pending.body),
                pdf,
                pending.filename,
            )
            await mailer.send(message)
        except RetryableDeliveryError as err:
            age = (self.clock() - pending.created_at).total_seconds()
            if age >= retry.max_age_seconds:
                return self._fail(pending, attempts, f"still failing after {age:.0f} s "
                                  f"(max_age_seconds {retry.max_age_seconds:.0f}): {err}")
            delay = retry.delay_after(attempts, err.retry_after)
            later = replace(
                pending,
                attempts=attempts,
                last_error=str(err),
                next_attempt_at=self.clock() + timedelta(seconds=delay),
            )
            self._write(self.folder / name, later.to_json())
            log.warning(
                "report e-mail for %s failed (attempt %d), retrying in %.0f s: %s",
                f"{pending.month:%Y-%m}",
                attempts,
                delay,
                err,
            )
            return False
        except FatalDeliveryError as err:
            return self._fail(pending, attempts, str(err))
        record = {**pending.to_json(), "attempts": attempts, "sent_at": self.clock().isoformat()}
        self._move(name, "sent", record)
        log.info(
            "report e-mail for %s sent to %s",
            f"{pending.month:%Y-%m}",
            ", ".join(pending.recipients),
        )
        return True

    def _fail(self, pending: PendingDelivery, attempts: int, error: str) -> bool:
        name = f"{pending.month:%Y-%m}.json"
        record = {
            **pending.to_json(),
            "attempts": attempts,
            "last_error": error,
            "failed_at": self.clock().isoformat(),
        }
        self._move(name, "failed", record)
        log.error(
            "report e-mail for %s failed permanently, kept in %s: %s",
            f"{pending.month:%Y-%m}",
            self.folder / "failed" / name,
            error,
        )
        return False

    def _move(self, name: str, kind: str, record: dict[str, Any]) -> None:
        self._write(self.folder / kind / name, record)
        (self.folder / name).unlink(missing_ok=True)

    @staticmethod
    def _write(path: Path, data: dict[str, Any]) -> None:
        write_durably(path, json.dumps(data, indent=2).encode("utf-8"))

