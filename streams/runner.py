"""Start a worker: create topics, build the Faust app, serve HTTP, run until stopped."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import faust
from aiohttp import web
from prometheus_client import CollectorRegistry

from slaengine.config import SlaConfig
from slaengine.events import ALERTS_TOPIC, DEADLETTER_TOPIC, ORDERS_TOPIC, REQUESTS_TOPIC, RESOURCES_TOPIC
from slaengine.http.app import create_app
from slaengine.kafka_io import ensure_topics
from slaengine.metrics import PipelineCollector, SliCollector
from slaengine.settings import Settings
from streams.app import Runtime, build_app

log = logging.getLogger(__name__)
INPUT_TOPICS = (REQUESTS_TOPIC, ORDERS_TOPIC, RESOURCES_TOPIC)


def consumer_lag_of(app: faust.App, runtime: Runtime) -> dict[tuple[str, int], int]:
    lag: dict[tuple[str, int], int] = {}
    try:
        consumer = app.consumer
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            position = runtime.pipeline_positions.get((tp.topic, tp.partition))
            if highwater is not None:
                lag[(tp.topic, tp.partition)] = max(0, highwater - (position + 1 if position is not None else 0))
    except Exception:  # consumer not started yet, or mid-rebalance
        return lag
    return lag


def build_http_app(settings: Settings, runtime: Runtime) -> web.Application:
    registry = CollectorRegistry()
    registry.register(SliCollector(runtime.engine))
    registry.register(PipelineCollector(runtime.pipeline.valid, runtime.pipeline.invalid,
                                        lambda: consumer_lag_of(runtime.app, runtime)))
    return create_app(registry, runtime.engine, settings.api_token,
                      health_info={"worker": settings.worker_id})


def run_worker(settings: Settings, config: SlaConfig) -> int:
    names = [settings.topic(n) for n in (*INPUT_TOPICS, DEADLETTER_TOPIC, ALERTS_TOPIC)]
    asyncio.run(ensure_topics(settings.kafka_bootstrap, names, settings.partitions))
    (settings.data_dir / "faust" / settings.worker_id).mkdir(parents=True, exist_ok=True)
    app, runtime = build_app(settings, config)
    http_app = build_http_app(settings, runtime)
    runner_holder: dict[str, Any] = {}

    @app.task
    async def serve_http() -> None:
        runner = web.AppRunner(http_app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, settings.http_host, settings.http_port)
        await site.start()
        runner_holder["runner"] = runner
        log.info("HTTP API on http://%s:%d", settings.http_host, settings.http_port)

    worker = faust.Worker(app, loglevel="INFO", quiet=True, override_logging=False)
    worker.execute_from_commandline()
    return 0
