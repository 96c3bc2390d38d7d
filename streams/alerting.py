"""Alert evaluation and routing inside a worker.

Every ``evaluation_interval`` the evaluator runs over the SLOs this worker
owns — judged on the global counts of all partitions (streams.global_view) —
(plus capacity projections) and the transitions go to ``sla.alerts``,
keyed by SLO/service so one SLO's alerts always reach the same router. The
router consumes that topic and delivers through its durable outbox.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry

from forecasting.alerts import transitions
from forecasting.service import CapacityService
from slaengine.alerts_model import Alert
from slaengine.config import SlaConfig
from slaengine.durations import parse_duration
from slaengine.http.app import parse_at
from slaengine.http.auth import json_error, require_token
from slaengine.resources import data_path
from slaengine.rules.alertspec import load_alert_rules
from slaengine.rules.evaluate import AlertEvaluator
from slaengine.rules.fromconfig import period_of, slo_definition
from slaengine.rules.windows import WindowsCatalog
from slaengine.sli.engine import SliEngine
from slaengine.sli.source import EngineSliSource

log = logging.getLogger(__name__)

ALERT_RULES_DIR = data_path("alert_rules")
PROJECTION_ALERTS = {"CapacityProjectedExhaustion"}  # 80/90 % utilisation come from the threshold rules


def alert_key(alert: Alert) -> bytes:
    labels = alert.labels
    return (labels.get("slo") or labels.get("service") or labels.get("resource") or alert.name).encode()


class AlertingService:
    def __init__(self, config: SlaConfig, engine: SliEngine, registry: CollectorRegistry,
                 capacity: CapacityService | None, rules_dir: Path = ALERT_RULES_DIR,
                 owns: Callable[[str], bool] | None = None) -> None:
        self.engine = engine
        # the global view holds every SLO: only the SLO's owner evaluates and publishes its alerts
        self.owns = owns if owns is not None else (lambda slo: True)
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
        self.evaluator.slos = [self.definitions[n] for n in self.engine.owned_slos()
                               if n in self.definitions and self.owns(n)]
        found = self.evaluator.evaluate(self.source, now)
        if self.capacity is not None:
            report = self.capacity.cached_report()
            if report is not None:
                current = [a for a in report.alerts if a.name in PROJECTION_ALERTS]
                self.capacity_active, published = transitions(self.capacity_active, current, now)
                found += published
        return found


def replay_alerts(service: AlertingService, start: datetime, end: datetime,
                  step: timedelta) -> list[Alert]:
    """Evaluate the rules at every step of a past period on the current state (a backtest).

    A fresh evaluator is used, so the live alert state is untouched.
    """
    evaluator = AlertEvaluator([service.definitions[n] for n in service.engine.owned_slos()
                                if n in service.definitions],
                               service.evaluator.rules, service.evaluator.catalog)
    transitions: list[Alert] = []
    now = start
    while now <= end:
        transitions += evaluator.evaluate(service.source, now)
        now += step
    return transitions


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


ALERTING_KEY = web.AppKey("alerting", AlertingService)
MAX_REPLAY_STEPS = 20_000


@require_token
async def get_alert_replay(request: web.Request) -> web.Response:
    """``GET /api/v1/alerts/replay?start=…&end=…&step=30s``: transitions of a backtest."""
    try:
        start = parse_at(request.query["start"])
        end = parse_at(request.query["end"])
        step = parse_duration(request.query.get("step", "30s"))
    except KeyError as err:
        return json_error(400, f"missing query parameter {err.args[0]!r}")
    except ValueError as err:
        return json_error(400, str(err))
    if end < start or (end - start) / 1000 / step.total_seconds() > MAX_REPLAY_STEPS:
        return json_error(400, f"end must follow start, with at most {MAX_REPLAY_STEPS} steps")
    service = request.app[ALERTING_KEY]
    found = replay_alerts(service, datetime.fromtimestamp(start / 1000, UTC),
                          datetime.fromtimestamp(end / 1000, UTC), step)
    return web.json_response({"transitions": [alert.to_json() for alert in found]})


async def get_active_alerts(request: web.Request) -> web.Response:
    service = request.app[ALERTING_KEY]
    return web.json_response({"alerts": [a.to_json() for a in service.evaluator.active_alerts()]})


def add_routes(app: web.Application, service: AlertingService) -> None:
    app[ALERTING_KEY] = service
    app.router.add_get("/api/v1/alerts", get_active_alerts)
    app.router.add_get("/api/v1/alerts/replay", get_alert_replay)
