"""Start a worker: create topics, build the features, run the Faust app until stopped.

``Worker`` builds one feature per concern (streams.features: SLI, forecasting, router, evaluator,
reports, HTTP), starts them once Faust runs and stops them, in reverse, before Faust shuts down.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import faust
from aiohttp import web

from slaengine.config import SlaConfig
from slaengine.events import (
    ALERTS_TOPIC,
    DEADLETTER_TOPIC,
    ORDERS_TOPIC,
    PROJECTIONS_TOPIC,
    REQUESTS_TOPIC,
    RESOURCES_TOPIC,
)
from slaengine.http.app import create_app
from slaengine.http.limits import favour_event_loop
from slaengine.http.looplag import LoopLagMonitor
from slaengine.kafka_io import ensure_topics
from slaengine.metrics import EncodableRegistry, exported_windows
from slaengine.settings import Settings
from streams.features import (
    Feature,
    api_route_setups,
    evaluator_feature,
    forecasting_feature,
    http_feature,
    reports_feature,
    router_feature,
    sli_feature,
)
from streams.global_view import OWNERS_TOPIC
from streams.router import ROUTER_STATE_TOPIC
from streams.shared_state import SHARED_STATE_TOPICS, ensure_compacted_topics

log = logging.getLogger(__name__)
INPUT_TOPICS = (REQUESTS_TOPIC, ORDERS_TOPIC, RESOURCES_TOPIC, PROJECTIONS_TOPIC)
# reads answered from the global view, and how long each waits for it to catch up. A scrape
# does not wait: it answers from the view, which trails the events by a flush interval plus
# one changelog read (well under the 1 s freshness target), and Prometheus scrapes every 15 s.
GLOBAL_READS = {"/api/v1/slos": 10.0, "/api/v1/reports": 10.0, "/api/v1/alerts/replay": 10.0}


class Worker:
    """A worker process: the Faust app (agents, tables) and every feature around it."""

    def __init__(self, settings: Settings, config: SlaConfig) -> None:
        self.settings = settings
        self.registry = EncodableRegistry()  # a label that cannot encode must not break /metrics
        self.sli = sli_feature(settings, config)
        # the read barrier below reads these three
        self.app, self.runtime, self.global_view = self.sli.app, self.sli.runtime, self.sli.view
        self.forecasting = forecasting_feature(settings, self.sli.runtime)
        self.router = router_feature(settings, self.sli.app)
        self.evaluator = evaluator_feature(
            config, self.sli, self.registry, self.forecasting.capacity, self.router.publish
        )
        self.reports = reports_feature(settings, config, self.sli)
        self.loop_lag = LoopLagMonitor()  # started and stopped with the HTTP app
        self.http = http_feature(settings, self.http_app)
        # started in this order (the view before the routers: replays read it), stopped in reverse
        self.features: list[Feature] = [
            self.http,
            self.sli,
            self.router,
            self.evaluator,
            self.forecasting,
            self.reports,
        ]
        evaluator = self.evaluator.service.evaluator  # a default scrape: what its rules read
        windows = exported_windows(config.slos, evaluator.rules, evaluator.catalog)
        for collector in [
            *self.sli.collectors(windows),
            *self.evaluator.collectors(),
            *self.forecasting.collectors(),
            self.loop_lag,
            *self.router.collectors(),
        ]:
            self.registry.register(collector)
        self.barrier_logged = -60.0
        self._wire()

    def http_app(self) -> web.Application:
        return create_app(
            self.registry,
            self.sli.engine,
            self.settings.api_token,
            health_info={"worker": self.settings.worker_id},
            route_setups=[
                *api_route_setups(
                    self.router.front,
                    self.reports.incident_log,
                    self.forecasting.capacity,
                    self.reports.service,
                    self.evaluator.service,
                ),
                lambda app: app.middlewares.append(self.global_reads),
            ],
            loop_monitor=self.loop_lag,
            work_timeout_s=self.settings.http_work_timeout_s,
        )

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
        if (
            not await self.global_view.wait_read_to_end(wait_s)
            and time.monotonic() - self.barrier_logged > 60
        ):
            self.barrier_logged = (
                time.monotonic()
            )  # at most once a minute: every scrape would log it
            log.warning(
                "read barrier: the global view is not caught up; answering from what it holds"
            )

    @web.middleware
    async def global_reads(self, request: web.Request, handler: Any) -> web.StreamResponse:
        for path, wait_s in GLOBAL_READS.items():
            if request.path.startswith(path):
                await self.read_barrier(wait_s)
                break
        return await handler(request)

    async def start(self) -> None:
        for feature in self.features:
            await feature.start()

    async def stop(self) -> None:
        """Stop every feature, in reverse order; one that fails to stop does not keep the others."""
        for feature in reversed(self.features):
            started = time.monotonic()
            try:
                await feature.stop()
            except Exception:
                log.exception("stopping %s failed", feature.name)
            else:
                log.info("%s stopped in %.1f s", feature.name, time.monotonic() - started)

    def _wire(self) -> None:
        @self.app.task
        async def start_features() -> None:
            await self.start()

        @self.app.on_before_shutdown.connect
        async def stop_features(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
            await self.stop()


async def create_worker_topics(settings: Settings) -> None:
    """The topics a worker reads and writes besides Faust's own (its changelogs, created by
    Faust)."""
    names = [
        settings.topic(n) for n in (*INPUT_TOPICS, DEADLETTER_TOPIC, ALERTS_TOPIC, OWNERS_TOPIC)
    ]
    await ensure_topics(settings.kafka_bootstrap, names, settings.partitions)
    await ensure_compacted_topics(
        settings.kafka_bootstrap, [settings.topic(n) for n in SHARED_STATE_TOPICS]
    )
    await ensure_compacted_topics(
        settings.kafka_bootstrap, [settings.topic(ROUTER_STATE_TOPIC)], settings.partitions
    )  # co-partitioned with sla.alerts


def run_worker(settings: Settings, config: SlaConfig) -> int:
    asyncio.run(create_worker_topics(settings))
    (settings.data_dir / "faust" / settings.worker_id).mkdir(parents=True, exist_ok=True)
    worker = Worker(settings, config)
    favour_event_loop()
    faust.Worker(
        worker.app, loglevel="INFO", quiet=True, override_logging=False
    ).execute_from_commandline()
    return 0
