"""Start a worker: create topics, build the Faust app, wire alerting/capacity/HTTP, run until stopped."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import faust
from aiohttp import web

from forecasting.config import load_capacity_config
from forecasting.http import add_routes as add_capacity_routes
from forecasting.metrics import CapacityCollector
from forecasting.service import CapacityService
from slaengine.alerting.config import DEFAULT_ROUTING_FILE, load_routing_config
from slaengine.alerting.http import RouterApi
from slaengine.alerting.http import add_routes as add_alerting_routes
from slaengine.alerting.metrics import RouterCollector
from slaengine.alerting.senders import DEFAULT_FACTORIES, build_senders
from slaengine.alerts_model import Alert, Notification
from slaengine.calendar import month_range
from slaengine.config import SlaConfig
from slaengine.errors import ConfigError, FatalDeliveryError
from slaengine.events import (
    ALERTS_TOPIC,
    DEADLETTER_TOPIC,
    ORDERS_TOPIC,
    PROJECTIONS_TOPIC,
    REQUESTS_TOPIC,
    RESOURCES_TOPIC,
)
from slaengine.http.app import RouteSetup, create_app
from slaengine.http.limits import favour_event_loop
from slaengine.http.looplag import LoopLagMonitor
from slaengine.kafka_io import ensure_topics
from slaengine.metrics import EncodableRegistry, PipelineCollector, SliCollector, exported_windows
from slaengine.pagerduty.http import add_routes as add_pagerduty_routes
from slaengine.pagerduty.incidents import IncidentLog
from slaengine.report.collect import incident_rows, month_report_from_engine
from slaengine.report.config import ReportConfig, load_report_config
from slaengine.report.http import add_routes as add_report_routes
from slaengine.report.model import MonthReport
from slaengine.report.outbox import DeliveryOutbox
from slaengine.report.scheduler import ReportScheduler
from slaengine.report.service import ReportService
from slaengine.report.store import ReportStore
from slaengine.rules.metrics import AlertStateCollector
from slaengine.settings import Settings
from streams.alert_router import ROUTER_STATE_TOPIC, GroupKeys, PartitionedRouter, RouterFront
from streams.alerting import AlertingService, run_evaluation_loop
from streams.alerting import add_routes as add_alert_evaluation_routes
from streams.app import Runtime, RuntimeCollector, build_app
from streams.global_view import OWNERS_TOPIC, GlobalView, Ownership, changelog_topics
from streams.limits import SeriesLimitsCollector
from streams.shared_state import (
    REPORT_CLAIMS_TOPIC,
    SHARED_STATE_TOPICS,
    SILENCES_TOPIC,
    KafkaMonthClaim,
    KafkaSilenceStore,
    ensure_compacted_topics,
)

log = logging.getLogger(__name__)
INPUT_TOPICS = (REQUESTS_TOPIC, ORDERS_TOPIC, RESOURCES_TOPIC, PROJECTIONS_TOPIC)
# reads answered from the global view, and how long each waits for it to catch up. A scrape
# does not wait: it answers from the view, which trails the events by a flush interval plus
# one changelog read (well under the 1 s freshness target), and Prometheus scrapes every 15 s.
GLOBAL_READS = {"/api/v1/slos": 10.0, "/api/v1/reports": 10.0, "/api/v1/alerts/replay": 10.0}


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
                lag[(tp.topic, tp.partition)] = max(0, highwater - (position + 1 if position is not None else 0))
    except Exception:  # noqa: BLE001 - consumer not started yet, or mid-rebalance
        return lag
    return lag


class Worker:
    """Everything a worker process runs besides the agents: alerting, capacity, HTTP."""

    def __init__(self, settings: Settings, config: SlaConfig) -> None:
        self.settings = settings
        self.app, self.runtime = build_app(settings, config)
        # stage 2: every SLO's global state (all partitions) on every worker; its owner exports it
        self.global_view = GlobalView(config, settings.kafka_bootstrap, changelog_topics(settings.app_id),
                                      settings.partitions)
        self.global_engine = self.global_view.engine
        # self-monitoring is about this worker's own partitions: shared, not read from the view
        self.global_engine.pipeline_lag_ms = self.runtime.engine.pipeline_lag_ms
        self.owners_topic = self.app.topic(settings.topic(OWNERS_TOPIC), key_serializer="raw",
                                           value_serializer="raw", partitions=settings.partitions)
        self.ownership = Ownership(settings.topic(OWNERS_TOPIC), settings.partitions,
                                   lambda: self.app.consumer.assignment())
        self.registry = EncodableRegistry()  # a label that cannot encode must not break /metrics
        self.capacity_refresh_s = float(os.environ.get("SLAENGINE_CAPACITY_REFRESH_S", "60"))
        self.capacity = CapacityService(lambda: self.runtime.resources.history,
                                        load_capacity_config(config_path("SLAENGINE_CAPACITY_CONFIG")),
                                        min_refresh_seconds=self.capacity_refresh_s)
        self.alerting = AlertingService(config, self.global_engine, self.registry, self.capacity,
                                        owns=self.owns)
        routing_path = config_path("SLAENGINE_ROUTING_CONFIG") or DEFAULT_ROUTING_FILE
        routing = load_routing_config(routing_path)
        factories = {kind: tolerate_missing_secrets(f) for kind, f in DEFAULT_FACTORIES.items()}
        # routing by alert group: the owner of a group's sla.alerts partition routes it, with
        # the router state in sla.router-state; silences are shared through sla.silences
        self.silences = KafkaSilenceStore(settings.kafka_bootstrap, settings.topic(SILENCES_TOPIC),
                                          routing.silences)
        self.routers = PartitionedRouter(settings.kafka_bootstrap, settings.topic(ALERTS_TOPIC),
                                         settings.topic(ROUTER_STATE_TOPIC),
                                         f"{settings.app_id}-alert-router", routing,
                                         build_senders(routing, factories), self.silences)
        self.group_keys = GroupKeys(routing)
        self.router = RouterFront(self.silences, self.publish)
        self.incident_log = IncidentLog.in_data_dir(settings.data_dir)
        self.config = config
        self.report_config = report_config_of(config, settings)
        self.reports = ReportService(self.build_report, ReportStore(self.report_config.folder), utc_now,
                                     self.report_config.timezone,
                                     outbox=DeliveryOutbox(self.report_config.folder, utc_now))
        # the cached exposition is re-rendered when the view applied a record (or the minute moved)
        self.registry.register(SliCollector(
            self.global_engine, owns=self.owns, version=lambda: self.global_view.records,
            windows=exported_windows(config.slos, self.alerting.evaluator.rules,
                                     self.alerting.evaluator.catalog)))
        self.registry.register(PipelineCollector(self.runtime.pipeline.valid, self.runtime.pipeline.invalid,
                                                 lambda: consumer_lag_of(self.app, self.runtime)))
        self.registry.register(SeriesLimitsCollector(self.runtime.limits))
        self.registry.register(RuntimeCollector(self.runtime))
        self.registry.register(AlertStateCollector(self.alerting.evaluator))
        self.registry.register(CapacityCollector(self.capacity, cached_only=True))
        self.loop_lag = LoopLagMonitor()
        self.registry.register(self.loop_lag)
        self.registry.register(RouterCollector(self.routers, self.router.clock, self.routers.errors))
        self.alerts_topic = self.app.topic(settings.topic(ALERTS_TOPIC), key_serializer="raw",
                                           value_serializer="raw", partitions=settings.partitions)
        self.stop = asyncio.Event()
        self.barrier_logged = -60.0
        self._wire()

    def http_app(self) -> web.Application:
        return create_app(self.registry, self.global_engine, self.settings.api_token,
                          health_info={"worker": self.settings.worker_id},
                          route_setups=[
                              *api_route_setups(self.router, self.incident_log, self.capacity,
                                                self.reports, self.alerting),
                              lambda app: app.middlewares.append(self.global_reads),
                          ],
                          loop_monitor=self.loop_lag)

    def owns(self, slo: str) -> bool:
        """Export and evaluate ``slo`` here: this worker owns it and its view holds the whole state
        (a view still reading the changelogs after a start would export partial counters)."""
        return self.global_view.caught_up.is_set() and self.ownership.owns(slo)

    async def read_barrier(self, wait_s: float) -> None:
        """Before a global read: flush what this worker has applied, then let the view catch up.

        So a worker's answer includes every event it has processed itself and everything
        any worker flushed before the request (the view is otherwise a flush interval behind).
        """
        try:
            await self.runtime.flush_quiet(0)
            await self.app.producer.flush()
        except Exception:  # answer from what the view holds
            log.warning("read barrier: flushing this worker's state failed", exc_info=True)
        if not await self.global_view.wait_read_to_end(wait_s) and time.monotonic() - self.barrier_logged > 60:
            self.barrier_logged = time.monotonic()  # at most once a minute: every request would log it
            log.warning("read barrier: the global view is not caught up; answering from what it holds")

    @web.middleware
    async def global_reads(self, request: web.Request, handler: Any) -> web.StreamResponse:
        for path, wait_s in GLOBAL_READS.items():
            if request.path.startswith(path):
                await self.read_barrier(wait_s)
                break
        return await handler(request)

    def build_report(self, month: date) -> MonthReport:
        """The month's report from the global state (every partition, whichever worker is asked)."""
        start_ms, end_ms = month_range(month.year, month.month, self.global_engine.zone)
        timelines = self.incident_log.timelines(datetime.fromtimestamp(start_ms / 1000, UTC),
                                                datetime.fromtimestamp(end_ms / 1000, UTC))
        return month_report_from_engine(self.global_engine, self.config, month,
                                        int(utc_now().timestamp() * 1000),
                                        incidents=incident_rows(timelines))

    async def publish(self, alert: Alert) -> None:
        await self.alerts_topic.send(key=self.group_keys(alert),
                                     value=json.dumps(alert.to_json()).encode())

    def _wire(self) -> None:
        app, settings = self.app, self.settings

        @app.on_before_shutdown.connect
        async def hand_over_alert_groups(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
            # write each partition's router state, so the next owner continues without a resend
            await self.routers.close()
            await self.silences.close()

        async def hold_ownership(stream: Any) -> None:
            """Nothing is written to sla.owners: its partitions' assignment is the SLOs' ownership."""
            async for _ in stream:
                pass

        app.agent(self.owners_topic, name="slaengine.owners")(hold_ownership)

        @app.task
        async def serve() -> None:
            runner = web.AppRunner(self.http_app(), access_log=None)
            await runner.setup()
            await web.TCPSite(runner, settings.http_host, settings.http_port).start()
            log.info("HTTP API on http://%s:%d", settings.http_host, settings.http_port)
            asyncio.ensure_future(self.global_view.run_forever(self.stop))  # reads wait for it
            await self.silences.start()  # every silence known before the first alert is routed
            await self.routers.start()
            asyncio.ensure_future(run_evaluation_loop(self.alerting, self.publish, self.stop))
            asyncio.ensure_future(self._refresh_capacity())
            scheduler = ReportScheduler(self.report_config, self.build_report, utc_now,
                                        claim=self.report_claim())
            asyncio.ensure_future(scheduler.run_forever(self.stop))

    def report_claim(self) -> KafkaMonthClaim:
        """The monthly report's claim lives in Kafka: workers share no disk."""
        owner = f"{self.settings.worker_id}-{uuid.uuid4().hex[:8]}"  # compose replicas share an id
        return KafkaMonthClaim(self.settings.kafka_bootstrap, self.settings.topic(REPORT_CLAIMS_TOPIC),
                               utc_now, owner=owner)

    async def _refresh_capacity(self) -> None:
        """Forecasts are CPU-heavy: compute them off the event loop so scrapes hit the cache."""
        first = True
        while not self.stop.is_set():
            try:
                await asyncio.to_thread(self.capacity.report)
            except Exception:
                log.exception("capacity forecast failed")
            if first:  # the forecast libraries are loaded now: freeze them too
                favour_event_loop()
                first = False
            try:
                await asyncio.wait_for(self.stop.wait(), timeout=self.capacity_refresh_s)
            except TimeoutError:
                pass


def api_route_setups(router: RouterApi, incident_log: IncidentLog, capacity: CapacityService,
                     reports: ReportService, alerting: AlertingService) -> list[RouteSetup]:
    """Every feature's routes, in one list (tests build the same API from it)."""
    return [
        lambda app: add_alerting_routes(app, router),
        lambda app: add_pagerduty_routes(app, incident_log),
        lambda app: add_capacity_routes(app, capacity),
        lambda app: add_report_routes(app, reports),
        lambda app: add_alert_evaluation_routes(app, alerting),
    ]


class UnconfiguredSender:
    """Stands in for a receiver whose secrets are missing: every send is a recorded, fatal failure."""

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
            log.warning("%s receiver not configured (%s); its notifications will be recorded as "
                        "undeliverable", name, err)
            return UnconfiguredSender(name, str(err))
    return build


def utc_now() -> datetime:
    return datetime.now(UTC)


def report_config_of(config: SlaConfig, settings: Settings) -> ReportConfig:
    """The ``report:`` section (defaults without one); a relative folder lives in the data dir."""
    if config.report is not None:
        report = load_report_config(settings.config_path)
    else:
        report = ReportConfig(organisation=config.organisation, service_name=config.organisation,
                              timezone=config.timezone)
    if not report.folder.is_absolute():
        report = report.model_copy(update={"folder": settings.data_dir / report.folder})
    return report


def config_path(variable: str) -> Path | None:
    value = os.environ.get(variable)
    return Path(value) if value else None


def run_worker(settings: Settings, config: SlaConfig) -> int:
    names = [settings.topic(n) for n in (*INPUT_TOPICS, DEADLETTER_TOPIC, ALERTS_TOPIC, OWNERS_TOPIC)]
    asyncio.run(ensure_topics(settings.kafka_bootstrap, names, settings.partitions))
    asyncio.run(ensure_compacted_topics(settings.kafka_bootstrap,
                                        [settings.topic(n) for n in SHARED_STATE_TOPICS]))
    asyncio.run(ensure_compacted_topics(settings.kafka_bootstrap, [settings.topic(ROUTER_STATE_TOPIC)],
                                        settings.partitions))  # co-partitioned with sla.alerts
    (settings.data_dir / "faust" / settings.worker_id).mkdir(parents=True, exist_ok=True)
    worker = Worker(settings, config)
    favour_event_loop()
    faust.Worker(worker.app, loglevel="INFO", quiet=True, override_logging=False).execute_from_commandline()
    return 0
