"""A worker's features, one small builder each: SLI, router, evaluator, forecasting, reports, HTTP.

Each builder returns an object with ``start()`` and ``stop()`` (``Feature``); a background loop
is a ``BackgroundLoop``, which owns its task, so ``stop()`` ends every task a feature started.
``streams.runner.Worker`` builds them, starts them in order and stops them in reverse.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

import faust
from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.registry import Collector

from forecasting.config import load_capacity_config
from forecasting.http import add_routes as add_capacity_routes
from forecasting.metrics import CapacityCollector
from forecasting.service import CapacityService
from slaengine.alerts import Alert, Notification
from slaengine.calendar import month_range
from slaengine.config import SlaConfig
from slaengine.errors import ConfigError, FatalDeliveryError
from slaengine.evaluator.metrics import AlertStateCollector
from slaengine.events import ALERTS_TOPIC
from slaengine.http.app import RouteSetup
from slaengine.http.limits import favour_event_loop
from slaengine.metrics import ExportedWindows, PipelineCollector, SliCollector
from slaengine.pagerduty.http import add_routes as add_pagerduty_routes
from slaengine.pagerduty.incidents import IncidentLog
from slaengine.report.collect import incident_rows, month_report_from_engine
from slaengine.report.config import ReportConfig
from slaengine.report.delivery import DeliveryOutbox
from slaengine.report.http import add_routes as add_report_routes
from slaengine.report.model import MonthReport
from slaengine.report.scheduler import ReportScheduler
from slaengine.report.service import ReportService
from slaengine.report.store import ReportStore
from slaengine.router.config import DEFAULT_ROUTING_FILE, load_routing_config
from slaengine.router.http import RouterApi
from slaengine.router.http import add_routes as add_alerting_routes
from slaengine.router.metrics import RouterCollector
from slaengine.router.senders import DEFAULT_FACTORIES, build_senders
from slaengine.settings import Settings
from slaengine.sli.engine import SliEngine
from streams.app import Runtime, RuntimeCollector, build_app
from streams.evaluator import EvaluatorService, run_evaluation_loop
from streams.evaluator import add_routes as add_alert_evaluation_routes
from streams.global_view import (
    OWNERS_TOPIC,
    GlobalView,
    Ownership,
    changelog_topics,
    owner_partition,
)
from streams.limits import SeriesLimitsCollector
from streams.router import ROUTER_STATE_TOPIC, GroupKeys, PartitionedRouter, RouterFront
from streams.shared_state import (
    REPORT_CLAIMS_TOPIC,
    SILENCES_TOPIC,
    KafkaMonthClaim,
    KafkaSilenceStore,
)

log = logging.getLogger(__name__)
STOP_GRACE_S = 10.0  # how long a stopping loop or HTTP request may take before it is cancelled


class Feature(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class BackgroundLoop:
    """``run(stop)`` as a task this object owns: ``start()`` creates it, ``stop()`` sets ``stop``
    and waits for the loop to end (cancelling it after ``grace_s``)."""

    def __init__(
        self,
        name: str,
        run: Callable[[asyncio.Event], Awaitable[None]],
        grace_s: float = STOP_GRACE_S,
    ) -> None:
        self.name = name
        self.run = run
        self.grace_s = grace_s
        self.task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def start(self) -> None:
        self._stop = asyncio.Event()
        self.task = asyncio.create_task(self._run(), name=self.name)

    async def _run(self) -> None:
        await self.run(self._stop)

    async def stop(self) -> None:
        task, self.task = self.task, None
        if task is None:
            return
        self._stop.set()
        done, _ = await asyncio.wait({task}, timeout=self.grace_s)
        if not done:
            log.warning("%s did not stop within %.0f s; cancelling it", self.name, self.grace_s)
            task.cancel()
            await asyncio.wait({task})
        if not task.cancelled() and task.exception() is not None:
            log.error("%s had failed", self.name, exc_info=task.exception())


# ---- SLI: the Faust app (stage 1) and the global view (stage 2) --------------------------


@dataclass
class SliFeature:
    """The agents and tables (run by Faust) and every SLO's global state, on every worker."""

    app: faust.App
    runtime: Runtime
    view: GlobalView
    ownership: Ownership
    name: str = "sli"
    view_loop: BackgroundLoop = field(init=False)

    def __post_init__(self) -> None:
        # the view only reads: cancelling it while it still starts (it checks ``stop`` once it
        # follows the changelogs) loses nothing, so a shutdown does not wait long for it
        self.view_loop = BackgroundLoop("global-view", self.view.run_forever, grace_s=2.0)

    @property
    def engine(self) -> SliEngine:
        return self.view.engine

    def owns(self, slo: str) -> bool:
        """Export and evaluate ``slo`` here: this worker owns it and its view holds the whole state
        (a view still reading the changelogs after a start would export partial counters)."""
        return self.owner()(slo)

    def owner(self) -> Callable[[str], bool]:
        """``owns`` over one reading of the consumer's assignment (a scrape asks about every SLO;
        each reading converts every assigned partition)."""
        if not self.view.caught_up.is_set():
            return lambda slo: False
        partitions, count = self.ownership.owned_partitions(), self.ownership.partitions
        return lambda slo: owner_partition(slo, count) in partitions

    def version(self) -> int:
        """Changes whenever the view took a record; settles it, so the exposition (re-rendered
        when this changes) reads every record taken."""
        self.view.settle()
        return self.view.records

    def collectors(self, windows: dict[str, ExportedWindows] | None = None) -> list[Collector]:
        """``windows``: what a default scrape exports per SLO (``metrics.exported_windows``)."""
        runtime = self.runtime
        return [
            SliCollector(
                self.engine,
                owner=self.owner,
                version=self.version,
                windows=windows,
                slo_version=self.engine.changes_by_slo.get,
            ),
            PipelineCollector(
                runtime.pipeline.valid,
                runtime.pipeline.invalid,
                lambda: consumer_lag_of(self.app, runtime),
            ),
            SeriesLimitsCollector(runtime.limits),
            RuntimeCollector(runtime),
        ]

    async def start(self) -> None:
        await self.view_loop.start()  # global reads wait for it to catch up

    async def stop(self) -> None:
        await self.view_loop.stop()


def sli_feature(settings: Settings, config: SlaConfig) -> SliFeature:
    app, runtime = build_app(settings, config)
    view = GlobalView(
        config,
        settings.kafka_bootstrap,
        changelog_topics(settings.app_id),
        settings.partitions,
        cold_dir=settings.data_dir / "global-view" / settings.worker_id,
    )
    runtime.view = view  # after a crash, what the changelogs still hold (Runtime.delete_again)
    # self-monitoring is about this worker's own partitions: shared, not read from the view
    view.engine.pipeline_lag_ms = runtime.engine.pipeline_lag_ms
    owners_topic = app.topic(
        settings.topic(OWNERS_TOPIC),
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.partitions,
    )

    async def hold_ownership(stream: Any) -> None:
        """Nothing is written to sla.owners: its partitions' assignment is the SLOs' ownership."""
        async for _ in stream:
            pass

    app.agent(owners_topic, name="slaengine.owners")(hold_ownership)
    ownership = Ownership(
        settings.topic(OWNERS_TOPIC), settings.partitions, lambda: app.consumer.assignment()
    )
    return SliFeature(app, runtime, view, ownership)


def consumer_lag_of(app: faust.App, runtime: Runtime) -> dict[tuple[str, int], int]:
    lag: dict[tuple[str, int], int] = {}
    try:
        consumer = app.consumer
        for tp in consumer.assignment():
            if tp.topic not in runtime.short_names:
                continue  # changelog and alert partitions: their positions are not tracked here
            highwater = consumer.highwater(tp)
            position = runtime.pipeline_positions.get((tp.topic, tp.partition))
            if highwater is not None:
                lag[(tp.topic, tp.partition)] = max(
                    0, highwater - (position + 1 if position is not None else 0)
                )
    except Exception:  # noqa: BLE001 - consumer not started yet, or mid-rebalance
        return lag
    return lag


# ---- router: alerts -> notifications ----------------------------------------------------


@dataclass
class RouterFeature:
    """Routing by alert group: the owner of a group's sla.alerts partition routes it, with the
    router state in sla.router-state; silences are shared through sla.silences."""

    silences: KafkaSilenceStore
    routers: PartitionedRouter
    front: RouterFront  # what the HTTP API calls the router: silences and the alert intake
    publish: Callable[[Alert], Awaitable[None]]  # an alert to sla.alerts, keyed by its group
    name: str = "router"

    def collectors(self) -> list[Collector]:
        return [RouterCollector(self.routers, self.front.clock, self.routers.errors)]

    async def start(self) -> None:
        await self.silences.start()  # every silence known before the first alert is routed
        await self.routers.start()

    async def stop(self) -> None:
        # writes each partition's router state, so the next owner continues without a resend
        await self.routers.close()
        await self.silences.close()


def router_feature(settings: Settings, app: faust.App) -> RouterFeature:
    routing = load_routing_config(settings.routing_config or DEFAULT_ROUTING_FILE)
    factories = {kind: tolerate_missing_secrets(f) for kind, f in DEFAULT_FACTORIES.items()}
    silences = KafkaSilenceStore(
        settings.kafka_bootstrap, settings.topic(SILENCES_TOPIC), routing.silences
    )
    routers = PartitionedRouter(
        settings.kafka_bootstrap,
        settings.topic(ALERTS_TOPIC),
        settings.topic(ROUTER_STATE_TOPIC),
        f"{settings.app_id}-alert-router",
        routing,
        build_senders(routing, factories),
        silences,
    )
    alerts_topic = app.topic(
        settings.topic(ALERTS_TOPIC),
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.partitions,
    )
    group_keys = GroupKeys(routing)

    async def publish(alert: Alert) -> None:
        await alerts_topic.send(key=group_keys(alert), value=json.dumps(alert.to_json()).encode())

    return RouterFeature(silences, routers, RouterFront(silences, publish), publish)


class UnconfiguredSender:
    """Stands in for a receiver whose secrets are missing: every send is a recorded, fatal
    failure."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    async def send(self, notification: Notification) -> None:
        raise FatalDeliveryError(f"{self.name} receiver is not configured: {self.reason}")


def tolerate_missing_secrets(factory: Any) -> Any:
    def build(integration: Any) -> Any:
        try:
            return factory(integration)
        except ConfigError as err:
            name = type(integration).__name__.replace("Integration", "").lower()
            log.warning(
                "%s receiver not configured (%s); its notifications will be recorded as "
                "undeliverable",
                name,
                err,
            )
            return UnconfiguredSender(name, str(err))

    return build


# ---- evaluator: rules -> alert transitions ----------------------------------------------


@dataclass
class EvaluatorFeature:
    service: EvaluatorService
    loop: BackgroundLoop
    name: str = "evaluator"

    def collectors(self) -> list[Collector]:
        return [AlertStateCollector(self.service.evaluator)]

    async def start(self) -> None:
        await self.loop.start()

    async def stop(self) -> None:
        await self.loop.stop()


def evaluator_feature(
    config: SlaConfig,
    sli: SliFeature,
    registry: CollectorRegistry,
    capacity: CapacityService,
    publish: Callable[[Alert], Awaitable[None]],
) -> EvaluatorFeature:
    """Every evaluation interval, the SLOs this worker owns (on the global counts) and the capacity
    projections; the transitions are published to sla.alerts (``publish``)."""
    service = EvaluatorService(
        config, sli.engine, registry, capacity, owns=sli.owns, settle=sli.view.settle
    )
    return EvaluatorFeature(
        service,
        BackgroundLoop(
            "alert-evaluation", lambda stop: run_evaluation_loop(service, publish, stop)
        ),
    )


# ---- forecasting: capacity forecasts of this worker's resources ---------------------------


@dataclass
class ForecastingFeature:
    capacity: CapacityService
    refresh_s: float
    name: str = "forecasting"
    loop: BackgroundLoop = field(init=False)

    def __post_init__(self) -> None:
        self.loop = BackgroundLoop("capacity-refresh", self._refresh)

    def collectors(self) -> list[Collector]:
        return [CapacityCollector(self.capacity, cached_only=True)]

    async def start(self) -> None:
        await self.loop.start()

    async def stop(self) -> None:
        await self.loop.stop()

    async def _refresh(self, stop: asyncio.Event) -> None:
        """Forecasts are CPU-heavy: compute them off the event loop so scrapes hit the cache."""
        first = True
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.capacity.report)
            except Exception:
                log.exception("capacity forecast failed")
            if first:  # the forecast libraries are loaded now: freeze them too
                favour_event_loop()
                first = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.refresh_s)


def forecasting_feature(settings: Settings, runtime: Runtime) -> ForecastingFeature:
    capacity = CapacityService(
        lambda: runtime.resources.history,
        load_capacity_config(settings.capacity_config),
        min_refresh_seconds=settings.capacity_refresh_s,
    )
    return ForecastingFeature(capacity, settings.capacity_refresh_s)


# ---- reports: the monthly SLA report and the incidents it lists -------------------------


@dataclass
class ReportsFeature:
    settings: Settings
    config: SlaConfig
    report_config: ReportConfig
    engine: SliEngine
    incident_log: IncidentLog
    settle: Callable[[], None]  # the global view's: the scheduler's builds pass no read barrier
    name: str = "reports"
    service: ReportService = field(init=False)
    scheduler: BackgroundLoop | None = None

    def __post_init__(self) -> None:
        folder = self.report_config.folder
        self.service = ReportService(
            self.build_report,
            ReportStore(folder),
            utc_now,
            self.report_config.timezone,
            outbox=DeliveryOutbox(folder, utc_now),
        )

    def build_report(self, month: date) -> MonthReport:
        """The month's report from the global state (every partition, whichever worker is asked)."""
        self.settle()
        start_ms, end_ms = month_range(month.year, month.month, self.engine.zone)
        timelines = self.incident_log.timelines(
            datetime.fromtimestamp(start_ms / 1000, UTC), datetime.fromtimestamp(end_ms / 1000, UTC)
        )
        return month_report_from_engine(
            self.engine,
            self.config,
            month,
            int(utc_now().timestamp() * 1000),
            incidents=incident_rows(timelines),
        )

    def month_claim(self) -> KafkaMonthClaim:
        """The monthly report's claim lives in Kafka: workers share no disk."""
        owner = f"{self.settings.worker_id}-{uuid.uuid4().hex[:8]}"  # compose replicas share an id
        return KafkaMonthClaim(
            self.settings.kafka_bootstrap,
            self.settings.topic(REPORT_CLAIMS_TOPIC),
            utc_now,
            owner=owner,
        )

    async def start(self) -> None:
        scheduler = ReportScheduler(
            self.report_config, self.build_report, utc_now, claim=self.month_claim()
        )
        self.scheduler = BackgroundLoop("report-scheduler", scheduler.run_forever)
        await self.scheduler.start()

    async def stop(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.stop()


def reports_feature(settings: Settings, config: SlaConfig, sli: SliFeature) -> ReportsFeature:
    return ReportsFeature(
        settings,
        config,
        report_config_of(config, settings),
        sli.engine,
        IncidentLog.in_data_dir(settings.data_dir),
        sli.view.settle,
    )


def report_config_of(config: SlaConfig, settings: Settings) -> ReportConfig:
    """The ``report:`` section (defaults without one); a relative folder lives in the data dir."""
    report = config.report or ReportConfig(
        organisation=config.organisation, service_name=config.organisation, timezone=config.timezone
    )
    if not report.folder.is_absolute():
        report = report.model_copy(update={"folder": settings.data_dir / report.folder})
    return report


def utc_now() -> datetime:
    return datetime.now(UTC)


# ---- HTTP: the API of every feature ------------------------------------------------------


@dataclass
class HttpFeature:
    settings: Settings
    build: Callable[[], web.Application]
    name: str = "http"
    runner: web.AppRunner | None = None

    async def start(self) -> None:
        host, port = self.settings.http_host, self.settings.http_port
        self.runner = web.AppRunner(self.build(), access_log=None, shutdown_timeout=STOP_GRACE_S)
        await self.runner.setup()
        await web.TCPSite(self.runner, host, port).start()
        log.info("HTTP API on http://%s:%d", host, port)

    async def stop(self) -> None:
        runner, self.runner = self.runner, None
        if runner is not None:
            await runner.cleanup()


def http_feature(settings: Settings, build: Callable[[], web.Application]) -> HttpFeature:
    return HttpFeature(settings, build)


def api_route_setups(
    router: RouterApi,
    incident_log: IncidentLog,
    capacity: CapacityService,
    reports: ReportService,
    alerting: EvaluatorService,
) -> list[RouteSetup]:
    """Every feature's routes, in one list (tests build the same API from it)."""
    return [
        lambda app: add_alerting_routes(app, router),
        lambda app: add_pagerduty_routes(app, incident_log),
        lambda app: add_capacity_routes(app, capacity),
        lambda app: add_report_routes(app, reports),
        lambda app: add_alert_evaluation_routes(app, alerting),
    ]
