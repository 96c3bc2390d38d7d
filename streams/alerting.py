"""Alert evaluation and routing inside a worker.

Every ``evaluation_interval`` the evaluator runs over the SLOs this worker
owns (plus capacity projections) and the transitions go to ``sla.alerts``,
keyed by SLO/service so one SLO's alerts always reach the same router. The
router consumes that topic and delivers through its durable outbox.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from forecasting.alerts import transitions
from forecasting.service import CapacityService
from slaengine.alerts_model import Alert
from slaengine.config import SlaConfig
from slaengine.rules.alertspec import load_alert_rules
from slaengine.rules.evaluate import AlertEvaluator
from slaengine.rules.fromconfig import period_of, slo_definition
from slaengine.rules.windows import WindowsCatalog
from slaengine.sli.engine import SliEngine
from slaengine.sli.source import EngineSliSource

log = logging.getLogger(__name__)

ALERT_RULES_DIR = Path(__file__).resolve().parents[1] / "alert_rules"
PROJECTION_ALERTS = {"CapacityProjectedExhaustion"}  # 80/90 % utilisation come from the threshold rules


def alert_key(alert: Alert) -> bytes:
    labels = alert.labels
    return (labels.get("slo") or labels.get("service") or labels.get("resource") or alert.name).encode()


class AlertingService:
    def __init__(self, config: SlaConfig, engine: SliEngine, registry: CollectorRegistry,
                 capacity: CapacityService | None, rules_dir: Path = ALERT_RULES_DIR) -> None:
        self.engine = engine
        self.capacity = capacity
        self.source = EngineSliSource(engine, registry)
        catalog = WindowsCatalog.builtin()
        self.definitions = {spec.name: slo_definition(spec, catalog.for_period(period_of(spec.window)))
                            for spec in config.slos}
        self.evaluator = AlertEvaluator([], load_alert_rules(rules_dir), catalog)
        self.capacity_active: dict[str, Alert] = {}

    @property
    def interval(self) -> timedelta:
        return self.evaluator.interval

    def evaluate(self, now: datetime) -> list[Alert]:
        """Transitions at ``now`` for the SLOs this worker owns and its resources."""
        self.evaluator.slos = [self.definitions[n] for n in self.engine.owned_slos() if n in self.definitions]
        found = self.evaluator.evaluate(self.source, now)
        if self.capacity is not None:
            report = self.capacity.cached_report()
            if report is not None:
                current = [a for a in report.alerts if a.name in PROJECTION_ALERTS]
                self.capacity_active, published = transitions(self.capacity_active, current, now)
                found += published
        return found


async def run_evaluation_loop(service: AlertingService, publish: Any, stop: asyncio.Event) -> None:
    """Evaluate every interval and publish transitions; a failing round is logged and retried."""
    interval = service.interval.total_seconds()
    while not stop.is_set():
        try:
            for alert in service.evaluate(datetime.now(UTC)):
                await publish(alert)
        except Exception:  # keep evaluating; one bad round must not stop alerting
            log.exception("alert evaluation failed")
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            pass
