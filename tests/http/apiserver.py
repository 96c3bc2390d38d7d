"""The worker's whole HTTP API built from real parts, without Kafka, for fuzzing and load tests.

Run as a process (``python tests/http/apiserver.py PORT DATA_DIR``) so a test's client load
does not share the server's interpreter: it prints ``ready`` once it listens. The loop-lag gauge
covers the last ``LAG_WINDOW_S`` seconds, so a test polling /metrics sees every stall. The state is
small but real: two days of requests in the SLI engine, 60 days of four resources for the
forecasts, a routing config with a chat receiver (deliveries are not attempted).
"""

from __future__ import annotations

import asyncio
import math
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry

from forecasting.config import load_capacity_config
from forecasting.http import CAPACITY_SERVICE_KEY
from forecasting.metrics import CapacityCollector
from forecasting.series import ResourceHistory
from forecasting.service import CapacityService
from slaengine.config import SlaConfig
from slaengine.events import RequestEvent
from slaengine.http.app import create_app
from slaengine.http.limits import favour_event_loop
from slaengine.http.looplag import LoopLagMonitor
from slaengine.metrics import SliCollector
from slaengine.pagerduty.incidents import IncidentLog
from slaengine.report.collect import month_report_from_engine
from slaengine.report.delivery import DeliveryOutbox
from slaengine.report.model import MonthReport
from slaengine.report.service import ReportService
from slaengine.report.store import ReportStore
from slaengine.router.config import load_routing_config
from slaengine.router.metrics import RouterCollector
from slaengine.router.senders import build_senders
from slaengine.router.service import AlertRouter
from slaengine.sli.engine import SliEngine
from streams.evaluator import EvaluatorService
from streams.features import api_route_setups

TOKEN = "fuzz-token"
WORK_TIMEOUT_S = 5.0  # heavy work answers 503 after 5 s: keeps the fuzz run short
LAG_WINDOW_S = 2.0
WEBHOOK_SECRET = "whsec-fuzz"
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
ROUTING = """
route: {receiver: chat, group_by: [alertname, service], group_wait: 30s}
receivers:
  - name: chat
    chat: {webhook_url: "http://127.0.0.1:9/hooks/never-called"}
"""
SLOS = {
    "slos": [
        {
            "name": "api-availability",
            "service": "orders-api",
            "sli": "availability",
            "target": 99.9,
        },
        {
            "name": "api-latency",
            "service": "orders-api",
            "sli": "latency",
            "threshold_ms": 500,
            "target": 95,
        },
    ]
}


def engine_with_traffic(config: SlaConfig) -> SliEngine:
    engine = SliEngine(config)
    start = NOW - timedelta(days=2)
    for minute in range(2 * 24 * 60):
        ts_ms = int((start + timedelta(minutes=minute)).timestamp() * 1000)
        for n in range(3):
            status = 500 if minute % 97 == 0 and n == 0 else 200
            engine.apply(
                RequestEvent(
                    ts_ms + n, "orders-api", "GET /orders", status, 120.0 + 400 * (minute % 13 == 0)
                ),
                "requests:0",
                minute * 3 + n,
            )
    return engine


def resource_history() -> ResourceHistory:
    history = ResourceHistory()
    for day in range(60):
        at = NOW - timedelta(days=60 - day)
        growth = 1 + day / 60
        history.observe("database_size", at, 40 * growth + math.sin(day), capacity=100, unit="GB")
        history.observe("event_store_size", at, 4e6 * growth, unit="events")
        history.observe("storage_locations", at, 700 + 3 * day, capacity=1000)
        history.observe("api_instances", at, 4 + (day % 7) / 3, capacity=12)
    return history


def build_api(data_dir: Path) -> tuple[web.Application, AlertRouter, IncidentLog]:
    data_dir.mkdir(parents=True, exist_ok=True)
    config = SlaConfig.model_validate(SLOS)
    engine = engine_with_traffic(config)
    registry = CollectorRegistry()
    capacity = CapacityService(resource_history(), load_capacity_config())
    alerting = EvaluatorService(config, engine, registry, capacity)
    (data_dir / "routing.yaml").write_text(ROUTING)
    routing = load_routing_config(data_dir / "routing.yaml")
    router = AlertRouter(routing, data_dir / "router", build_senders(routing))
    incident_log = IncidentLog.in_data_dir(data_dir)

    def build_report(month: date) -> MonthReport:
        return month_report_from_engine(engine, config, month, int(NOW.timestamp() * 1000))

    reports = ReportService(
        build_report,
        ReportStore(data_dir / "reports"),
        lambda: datetime.now(UTC),
        "UTC",
        outbox=DeliveryOutbox(data_dir / "reports", lambda: datetime.now(UTC)),
    )
    loop_lag = LoopLagMonitor(window=LAG_WINDOW_S)
    registry.register(SliCollector(engine))
    registry.register(CapacityCollector(capacity, cached_only=True))
    registry.register(RouterCollector(router.outbox, router.clock, router.errors))
    registry.register(loop_lag)
    app = create_app(
        registry,
        engine,
        TOKEN,
        health_info={"worker": "fuzz"},
        route_setups=api_route_setups(router, incident_log, capacity, reports, alerting),
        loop_monitor=loop_lag,
        work_timeout_s=WORK_TIMEOUT_S,
    )
    return app, router, incident_log


async def serve(port: int, data_dir: Path) -> None:
    app, router, incident_log = build_api(data_dir)
    # as a worker does at startup: a first forecast (loading the forecast libraries), then
    # favour_event_loop() (streams.features, after its first capacity refresh)
    app[CAPACITY_SERVICE_KEY].report()
    favour_event_loop()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("ready", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await router.close()
        incident_log.close()


if __name__ == "__main__":
    import os

    os.environ.setdefault("SLAENGINE_PAGERDUTY_WEBHOOK_SECRET", WEBHOOK_SECRET)
    asyncio.run(serve(int(sys.argv[1]), Path(sys.argv[2])))
