"""When the monthly report is made: on the 1st at a local time, for the month before.

Each tick (every ``check_interval_seconds``) generates the due month if this
worker wins its ``MonthClaim``, stores the PDF, queues the e-mail in the outbox
and then sends whatever the outbox has due. A worker that was down on the 1st
catches up on its next tick. The clock is injected so tests run months in
milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from slaengine.calendar import current_month, next_month, previous_month, zone_of
from slaengine.report.claim import AsyncMonthClaim, FileMonthClaim, MonthClaim
from slaengine.report.config import ReportConfig
from slaengine.report.delivery import DeliveryOutbox, EmailTemplate, Mailer, SmtpMailer
from slaengine.report.export import save_exports
from slaengine.report.model import MonthReport
from slaengine.report.pdf import render_report
from slaengine.report.store import ReportStore
from slaengine.report.styles import DEFAULT_STYLE_PATH, load_report_style

log = logging.getLogger(__name__)
BuildReport = Callable[[date], MonthReport]


@dataclass
class TickOutcome:
    generated: date | None = None
    delivered: list[date] = field(default_factory=list)


async def settled(result: Any) -> Any:
    """A claim's answer, whether the claim is synchronous (a file) or a coroutine (Kafka)."""
    return await result if inspect.isawaitable(result) else result


class ReportScheduler:
    def __init__(
        self,
        config: ReportConfig,
        build: BuildReport,
        clock: Callable[[], datetime],
        *,
        claim: MonthClaim | AsyncMonthClaim | None = None,
        mailer: Mailer | None = None,
    ) -> None:
        self.config = config
        self.build = build
        self.clock = clock
        self.store = ReportStore(config.folder)
        self.claim: MonthClaim | AsyncMonthClaim = claim or FileMonthClaim(config.folder, clock)
        email = config.email
        self.outbox = DeliveryOutbox(config.folder, clock, email.retry if email else None)
        self.mailer = mailer or (SmtpMailer(email.smtp) if email else None)
        self.template = (
            EmailTemplate(email.template) if email and email.template else EmailTemplate()
        )
        self.style = load_report_style(config.style or DEFAULT_STYLE_PATH)

    def scheduled_at(self, month: date) -> datetime:
        """When the report of the month *before* ``month`` is due: ``month``'s 1st, local time."""
        return datetime.combine(
            month, self.config.schedule.at, tzinfo=zone_of(self.config.timezone)
        )

    def due_month(self, now: datetime) -> date:
        """The report month whose scheduled time is the latest one not after ``now``."""
        this_month = current_month(now, zone_of(self.config.timezone))
        if now >= self.scheduled_at(this_month):
            return previous_month(this_month)
        return previous_month(previous_month(this_month))

    def next_run_at(self, now: datetime) -> datetime:
        this_month = current_month(now, zone_of(self.config.timezone))
        candidate = self.scheduled_at(this_month)
        if candidate > now:
            return candidate
        following = next_month(this_month)
        return self.scheduled_at(following)

    async def tick(self) -> TickOutcome:
        outcome = TickOutcome()
        month = self.due_month(self.clock())
        if await settled(self.claim.try_claim(month)):
            try:
                await self.generate(month)
            except Exception:
                await settled(
                    self.claim.release(month)
                )  # the next tick, on any worker, tries again
                log.exception("monthly report for %s could not be generated", f"{month:%Y-%m}")
            else:
                await settled(self.claim.mark_done(month))
                outcome.generated = month
        if self.mailer and self.config.email:
            delivered = await self.outbox.deliver_due(self.mailer)
            outcome.delivered = [pending.month for pending in delivered]
        return outcome

    async def generate(self, month: date) -> None:
        """Build, render and store the report; queue its e-mail when recipients are configured."""
        report = await asyncio.to_thread(self.build, month)
        pdf = await asyncio.to_thread(render_report, report, self.style)
        path = self.store.save(month, pdf)
        save_exports(self.store.folder, month, report)
        log.info("monthly report for %s stored in %s", f"{month:%Y-%m}", path)
        email = self.config.email
        if email:
            text = self.template.render(report, path.name)
            self.outbox.enqueue(month, path, email.sender, email.recipients, text)

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Tick until ``stop`` is set; sleeps until the next check or the next scheduled time."""
        interval = self.config.schedule.check_interval_seconds
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:  # a broken tick must not end the scheduler
                log.exception("report scheduler tick failed")
            now = self.clock()
            wait = min(interval, max((self.next_run_at(now) - now).total_seconds(), 0.0) + 0.01)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)
