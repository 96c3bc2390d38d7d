"""On-demand reports for the HTTP API: validate the request, build, render, store, list."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from slaengine.report.delivery import DeliveryOutbox
from slaengine.report.errors import ReportRequestError
from slaengine.report.export import save_exports
from slaengine.report.model import MonthReport
from slaengine.report.months import parse_report_month
from slaengine.report.pdf import render_report
from slaengine.report.store import ReportStore
from slaengine.report.styles import ReportStyle

log = logging.getLogger(__name__)


class ReportService:
    """``build(month) -> MonthReport`` comes from the SLI side (slaengine.report.collect)."""

    def __init__(
        self,
        build: Callable[[date], MonthReport],
        store: ReportStore,
        clock: Callable[[], datetime],
        timezone: str,
        *,
        style: ReportStyle | None = None,
        outbox: DeliveryOutbox | None = None,
    ) -> None:
        self.build = build
        self.store = store
        self.clock = clock
        self.timezone = timezone
        self.style = style
        self.outbox = outbox

    def parse_month(self, text: str) -> date:
        return parse_report_month(text, self.clock(), self.timezone)

    def generate(self, month: date, slo_names: list[str] | None = None) -> bytes:
        """The PDF of ``month``; a full report is also stored, one filtered to SLOs is not."""
        report = self.build(month)
        if slo_names:
            try:
                report = report.with_slos(slo_names)
            except KeyError as err:
                known = ", ".join(slo.name for slo in report.slos) or "none"
                raise ReportRequestError(f"unknown SLO {err.args[0]} (known: {known})") from err
        pdf = render_report(report, self.style)
        if not slo_names:
            self.store.save(month, pdf)
            save_exports(self.store.folder, month, report)
        return pdf

    def listing(self) -> list[dict[str, Any]]:
        """Stored reports, newest first, with the state of their e-mail when one was queued."""
        deliveries: dict[str, str] = {}
        if self.outbox:
            for kind in ("sent", "failed"):
                deliveries.update({record["month"]: kind for record in self.outbox.finished(kind)})
            deliveries.update({f"{p.month:%Y-%m}": "pending" for p in self.outbox.pending()})
        return [
            {**stored.to_json(), "email": deliveries.get(f"{stored.month:%Y-%m}")}
            for stored in self.store.list()
        ]
