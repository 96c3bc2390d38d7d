"""Alert evaluation and routing inside a worker.

Every ``evaluation_interval`` the evaluator runs over the SLOs this worker
owns — judged on the global counts of all partitions (streams.global_view) —
(plus capacity projections) and the transitions go to ``sla.alerts``,
keyed by alert-group key (streams.router.GroupKeys) so one group's alerts
always reach the same router, on the owner of that partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry

from forecasting.service import CapacityService
from slaengine.alerts import Alert
from slaengine.config import SlaConfig
from slaengine.durations import parse_duration
from slaengine.evaluator.rules import AlertEvaluator
from slaengine.evaluator.transitions import transitions
from slaengine.http.app import parse_at
from slaengine.http.auth import json_error, require_token
from slaengine.http.limits import HeavyWork, heavy_work
from slaengine.resources import data_path
from slaengine.rules.alertspec import load_alert_rules
from slaengine.rules.fromconfig import period_of, slo_definition
from slaengine.rules.windows import WindowsCatalog
from slaengine.sli.engine import SliEngine
from slaengine.sli.source import EngineSliSource

log = logging.getLogger(__name__)

ALERT_RULES_DIR = data_path("alert_rules")
PROJECTION_ALERTS = {
    "CapacityProjectedExhaustion"
}  # 80/90 % utilisation come from the threshold rules


class EvaluatorService:
    def __init__(
        self,
        config: SlaConfig,
        engine: SliEngine,
        registry: CollectorRegistry,
        capacity: CapacityService | None,
        rules_dir: Path = ALERT_RULES_DIR,
        owns: Callable[[str], bool] | None = None,
        settle: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        # the global view puts its pending snapshots only when asked; the loop passes no barrier
        self.settle = settle or (lambda: None)
        # the global view holds every SLO: only the SLO's owner evaluates and publishes its alerts
        self.owns = owns if owns is not None else (lambda slo: True)
        self.capacity = capacity
        self.source = EngineSliSource(engine, registry)
        catalog = WindowsCatalog.builtin()
        self.definitions = {
            spec.name: slo_definition(spec, catalog.for_period(period_of(spec.window)))
            for spec in config.slos
        }
        self.evaluator = AlertEvaluator(
            [], load_alert_rules(rules_dir).for_slos(config.slos), catalog
        )
        self.capacity_active: dict[str, Alert] = {}

    @property
    def interval(self) -> timedelta:
        return self.evaluator.interval

    def evaluate(self, now: datetime) -> list[Alert]:
        """Transitions at ``now`` for the SLOs this worker owns and its resources."""
        self.settle()
        self.evaluator.slos = [
            self.definitions[n]
            for n in self.engine.owned_slos()
            if n in self.definitions and self.owns(n)
        ]
        found = self.evaluator.evaluate(self.source, now)
        if self.capacity is not None:
            report = self.capacity.cached_report()
            if report is not None:
                current = [a for a in report.alerts if a.name in PROJECTION_ALERTS]
                self.capacity_active, published = transitions(self.capacity_active, current, now)
                found += published
        return found


class ReplaySource:
    """The live source for one replay, reading each exported gauge family once: the gauges are
    the current values whatever step is evaluated, and a full scrape per step made a 3-day
    replay collect every metric 8,640 times (slow, and holding locks the scrapes also take)."""

    def __init__(self, live: EngineSliSource) -> None:
        self.live = live
        self._gauges: dict[str, list[tuple[dict[str, str], float]]] = {}

    def window_counts(self, slo: str, window: timedelta, now: datetime) -> tuple[float, float]:
        return self.live.window_counts(slo, window, now)

    def gauge_samples(self, metric: str) -> list[tuple[dict[str, str], float]]:
        if metric not in self._gauges:
            self._gauges[metric] = self.live.gauge_samples(metric)
        return self._gauges[metric]


def replay_alerts(
    service: EvaluatorService,
    start: datetime,
    end: datetime,
    step: timedelta,
    deadline: float | None = None,
) -> list[Alert]:
    """Evaluate the rules at every step of a past period on the current state (a backtest).

    A fresh evaluator is used, so the live alert state is untouched. Past ``deadline``
    (``time.monotonic()``) it stops with TimeoutError, so an abandoned request frees its thread.
    """
    evaluator = AlertEvaluator(
        [service.definitions[n] for n in service.engine.owned_slos() if n in service.definitions],
        service.evaluator.rules,
        service.evaluator.catalog,
    )
    transitions: list[Alert] = []
    source = ReplaySource(service.source)
    now = start
    while now <= end:
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"replay stopped at {now.isoformat()}")
        transitions += evaluator.evaluate(source, now)
        now += step
    return transitions


async def run_evaluation_loop(service: EvaluatorService, publish: Any, stop: asyncio.Event) -> None:
    """Evaluate every interval and publish transitions; a failing round is logged and retried."""
    interval = service.interval.total_seconds()
    while not stop.is_set():
        try:
            for alert in service.evaluate(datetime.now(UTC)):
                await publish(alert)
        except Exception:  # keep evaluating; one bad round must not stop alerting
            log.exception("alert evaluation failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


ALERTING_KEY = web.AppKey("alerting", EvaluatorService)
REPLAY_WORK_KEY = web.AppKey("replay_work", HeavyWork)
MAX_REPLAY_STEPS = 20_000
MAX_REPLAY_STEP = timedelta(days=7)


@require_token
async def get_alert_replay(request: web.Request) -> web.Response:
    """``GET /api/v1/alerts/replay?start=…&end=…&step=30s``: transitions of a backtest."""
    try:
        start = parse_at(request.query["start"])
        end = parse_at(request.query["end"])
        step_text = request.query.get("step", "30s")
        if len(step_text) > 32:
            raise ValueError(f"step {step_text[:32]!r}... is too long")
        step = parse_duration(step_text)
    except KeyError as err:
        return json_error(400, f"missing query parameter {err.args[0]!r}")
    except (ValueError, OverflowError) as err:
        return json_error(400, f"invalid replay range: {err}")
    if step > MAX_REPLAY_STEP or step < timedelta(seconds=1):
        return json_error(400, "step must be between 1s and 7d")
    if end < start or (end - start) / 1000 / step.total_seconds() > MAX_REPLAY_STEPS:
        return json_error(400, f"end must follow start, with at most {MAX_REPLAY_STEPS} steps")
    service = request.app[ALERTING_KEY]
    # thousands of rule evaluations: in the replay pool, never on the event loop
    work = request.app[REPLAY_WORK_KEY]
    deadline = time.monotonic() + work.timeout

    def replay_json() -> str:
        found = replay_alerts(
            service,
            datetime.fromtimestamp(start / 1000, UTC),
            datetime.fromtimestamp(end / 1000, UTC),
            step,
            deadline,
        )
        return json.dumps({"transitions": [alert.to_json() for alert in found]})

    return web.Response(text=await work.run(replay_json), content_type="application/json")


async def get_active_alerts(request: web.Request) -> web.Response:
    service = request.app[ALERTING_KEY]
    return web.json_response({"alerts": [a.to_json() for a in service.evaluator.active_alerts()]})


def add_routes(app: web.Application, service: EvaluatorService) -> None:
    app[ALERTING_KEY] = service
    app[REPLAY_WORK_KEY] = heavy_work(app, "alert replay", concurrency=1, waiting=2, timeout=60)
    app.router.add_get("/api/v1/alerts", get_active_alerts)
    app.router.add_get("/api/v1/alerts/replay", get_alert_replay)
