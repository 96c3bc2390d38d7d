"""Alert routing across workers on the real broker: groups owned by sla.alerts partitions, the
router state in sla.router-state, silences shared through sla.silences; real pagerduty client
against the local PagerDuty contract server."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry

from slaengine.alerts import Alert
from slaengine.events import ALERTS_TOPIC
from slaengine.http.app import create_app
from slaengine.pagerduty.devserver import DEV_STATE, Fault, create_devserver_app
from slaengine.router.config import DEFAULT_ROUTING_FILE, load_routing_config
from slaengine.router.http import add_routes
from streams.router import ROUTER_STATE_TOPIC, GroupKeys, RouterFront
from streams.shared_state import SHARED_STATE_TOPICS, ensure_compacted_topics
from tests.conftest import CreateTopics
from tests.streaming.router_process import build

pytestmark = pytest.mark.slow
ROUTING_KEY = "0123456789abcdef0123456789abcdef"
REPO_ROOT = Path(__file__).resolve().parents[2]
PARTITIONS = 2


def page(slo: str) -> Alert:
    return Alert(
        labels={
            "alertname": "SloErrorBudgetBurn",
            "severity": "critical",
            "service": "orders-api",
            "slo": slo,
        },
        status="firing",
        starts_at=datetime.now(UTC),
        annotations={"summary": f"{slo} burns its budget"},
    )


@pytest.fixture
async def pagerduty(aiohttp_server: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    server = await aiohttp_server(create_devserver_app(api_token="rest-token"), host="127.0.0.1")
    monkeypatch.setenv("SLAENGINE_PAGERDUTY_ROUTING_KEY", ROUTING_KEY)
    monkeypatch.setenv("SLAENGINE_PAGERDUTY_EVENTS_URL", str(server.make_url("")).rstrip("/"))
    return server.app[DEV_STATE]


@pytest.fixture
async def topics(kafka_bootstrap: str, topic_prefix: str, create_topics: CreateTopics) -> str:
    await create_topics(ALERTS_TOPIC, partitions=PARTITIONS)
    await ensure_compacted_topics(kafka_bootstrap, [topic_prefix + ROUTER_STATE_TOPIC], PARTITIONS)
    await ensure_compacted_topics(kafka_bootstrap, [topic_prefix + t for t in SHARED_STATE_TOPICS])
    return topic_prefix


async def publish(bootstrap: str, prefix: str, alerts: list[Alert]) -> list[tuple[int, int]]:
    """Send like a worker's evaluator (keyed by alert group); (partition, offset) of each."""
    keys = GroupKeys(load_routing_config(DEFAULT_ROUTING_FILE))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        sent = [
            await producer.send_and_wait(
                prefix + ALERTS_TOPIC, key=keys(alert), value=json.dumps(alert.to_json()).encode()
            )
            for alert in alerts
        ]
    finally:
        await producer.stop()
    return [(meta.partition, meta.offset) for meta in sent]


async def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_a_silence_created_through_worker_a_mutes_an_alert_routed_on_worker_b(
    kafka_bootstrap: str, topics: str, pagerduty: Any, aiohttp_client: Callable[..., Any]
) -> None:
    silences_a, _ = build(kafka_bootstrap, topics)  # worker A: only its HTTP API is used
    silences_b, routers_b = build(kafka_bootstrap, topics)  # worker B routes every partition
    await silences_a.start()
    await silences_b.start()
    await routers_b.start()
    try:
        front_a = RouterFront(
            silences_a, publish=lambda alert: publish(kafka_bootstrap, topics, [alert])
        )
        client = await aiohttp_client(
            create_app(
                CollectorRegistry(),
                api_token="t",
                route_setups=[lambda app: add_routes(app, front_a)],
            )
        )
        response = await client.post(
            "/api/v1/silences",
            headers={"Authorization": "Bearer t"},
            json={
                "matchers": ['slo="checkout-availability"'],
                "duration": "1h",
                "created_by": "ops",
            },
        )
        assert response.status == 201, await response.text()
        silenced, control = page("checkout-availability"), page("search-availability")
        sent = await publish(kafka_bootstrap, topics, [silenced, control])
        await wait_for(lambda: len(pagerduty.events_log) >= 1, 30, "the control page")

        def b_took(partition: int, offset: int) -> bool:
            owned = routers_b.owned.get(partition)
            return owned is not None and owned.offset is not None and owned.offset >= offset

        await wait_for(lambda: all(b_took(*at) for at in sent), 10, "worker B to take both alerts")
        await asyncio.sleep(1.0)  # group_wait is 0s: a page would have left within a tick
        assert len(pagerduty.events_log) == 1, pagerduty.events_log
        assert "search-availability" in json.dumps(pagerduty.events_log[0]["event"])
        assert "checkout-availability" not in json.dumps(pagerduty.events_log[0]["event"])
    finally:
        await routers_b.close()
        await silences_b.close()
        await silences_a.close()


@pytest.fixture
def spawn_router(
    kafka_bootstrap: str, tmp_path: Path
) -> Iterator[Callable[[str], subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []

    def spawn(prefix: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"router-{len(processes)}.log").open("wb")
        process = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).with_name("router_process.py")),
                kafka_bootstrap,
                prefix,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        )
        processes.append(process)
        return process

    yield spawn
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def took_partitions(log: Path) -> int:
    return (
        log.read_text(errors="replace").count("alert router took partition") if log.exists() else 0
    )


@pytest.mark.parametrize("kill_when", ["sending fails", "page accepted"])
async def test_killing_the_owner_mid_delivery_the_new_owner_delivers_the_page(
    kafka_bootstrap: str,
    topics: str,
    pagerduty: Any,
    tmp_path: Path,
    spawn_router: Callable[[str], subprocess.Popen[bytes]],
    kill_when: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="streams.router")
    if kill_when == "sending fails":  # every attempt of worker A fails (retried with backoff)
        pagerduty.fault = Fault(
            status=503, remaining=10**6, until=None, retry_after=None, scope="events"
        )
    worker_a = spawn_router(topics)
    await wait_for(
        lambda: took_partitions(tmp_path / "router-0.log") == PARTITIONS,
        60,
        "worker A to own every partition",
    )
    alert = page("api-availability")
    [(partition, _)] = await publish(kafka_bootstrap, topics, [alert])
    if kill_when == "sending fails":
        await wait_for(lambda: pagerduty.fault.remaining < 10**6, 30, "worker A's first attempt")
    else:
        await wait_for(lambda: len(pagerduty.events_log) >= 1, 30, "worker A's page")
    worker_a.kill()  # SIGKILL: no goodbye, nothing handed over but what is in Kafka
    worker_a.wait(10)
    pagerduty.fault = None
    accepted_before = len(pagerduty.events_log)

    silences_b, worker_b = build(kafka_bootstrap, topics)  # a new container: empty disk
    await silences_b.start()
    await worker_b.start()
    try:
        if kill_when == "sending fails":
            await wait_for(lambda: len(pagerduty.events_log) >= 1, 40, "worker B's page")
        else:  # B restores A's last state: at most one resend
            await wait_for(lambda: len(worker_b.owned) == PARTITIONS, 40, "worker B's partitions")
            await asyncio.sleep(1.5)
    finally:
        await worker_b.close()
        await silences_b.close()
    # B carried on from A's state record (it did not just read the alert again)
    assert f"alert router took partition {partition} (restored)" in caplog.text
    events = [r["event"] for r in pagerduty.events_log]
    assert all(r["status"] == 202 for r in pagerduty.events_log)
    assert [e["event_action"] for e in events] in (["trigger"], ["trigger", "trigger"])
    group_key = GroupKeys(load_routing_config(DEFAULT_ROUTING_FILE))(alert).decode()
    assert {e["dedup_key"] for e in events} == {group_key}
    assert accepted_before <= 1
    if kill_when == "sending fails":
        assert len(events) == 1  # A never got through: B sent it once
