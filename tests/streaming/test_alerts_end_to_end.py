"""The in-service page alert and the generated Prometheus rules agree on the same timeline.

Steady traffic, ten minutes of 100 % errors, recovery: replayed through the real broker
into a worker, backtested there by the in-service evaluator, and checked by
``promtool test rules`` against the generated rules on the same per-minute counts.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from slaengine.alerts import Alert
from slaengine.rules.promtest import ExpectedAlert, write_promtool_test
from slaengine.rules.timeline import MinuteCounts, build_timeline

from .conftest import CONFIG, REPO_ROOT, WorkerProcess

PROMTOOL = shutil.which("promtool")
pytestmark = [
    pytest.mark.skipif(
        PROMTOOL is None, reason="promtool not installed (scripts/bootstrap installs it)"
    ),
    pytest.mark.slow,
]  # a worker process on the broker: not in scripts/test --quick
SLO = "api-availability"


def events_of(timeline: list[MinuteCounts]) -> list[dict]:
    events = []
    for minute in timeline:
        start_ms = int((minute.at - timedelta(minutes=1)).timestamp() * 1000)
        total, good = int(minute.total), int(minute.good)
        for i in range(total):
            events.append(
                {
                    "ts": start_ms + i * 60_000 // total,
                    "service": "orders-api",
                    "endpoint": "GET /orders/{id}",
                    "status": 200 if i < good else 503,
                    "latency_ms": 40.0,
                }
            )
    return events


async def publish(bootstrap: str, topic: str, events: list[dict], batch: int = 100) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(0, len(events), batch):
            await producer.send(
                topic, json.dumps(events[i : i + batch]).encode(), key=b"orders-api"
            )
        await producer.flush()
    finally:
        await producer.stop()


def replay(worker: WorkerProcess, start: datetime, end: datetime) -> list[Alert]:
    query = urllib.parse.urlencode(
        {"start": start.isoformat(), "end": end.isoformat(), "step": "30s"}
    )
    request = urllib.request.Request(
        f"{worker.url}/api/v1/alerts/replay?{query}", headers={"Authorization": "Bearer e2e-token"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return [Alert.from_json(a) for a in json.loads(response.read())["transitions"]]


def firing_intervals(transitions: list[Alert]) -> list[ExpectedAlert]:
    fired: dict[str, Alert] = {}
    intervals = []
    for alert in transitions:
        if alert.labels.get("alertname") != "SloErrorBudgetBurn" or alert.labels.get("slo") != SLO:
            continue
        if alert.status == "firing":
            fired[alert.fingerprint] = alert
        elif alert.status == "resolved" and alert.fingerprint in fired:
            start = fired.pop(alert.fingerprint)
            intervals.append(ExpectedAlert(dict(start.labels), start.starts_at, alert.ends_at))
    return intervals + [ExpectedAlert(dict(a.labels), a.starts_at) for a in fired.values()]


def test_page_alert_fires_and_resolves_at_the_same_steps_as_promtool(
    kafka_bootstrap: str,
    topic_prefix: str,
    tmp_path: Path,
    workers: list[WorkerProcess],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - timedelta(hours=3)
    timeline = build_timeline(start, [(60, 100, 100), (10, 0, 100), (90, 100, 100)])
    outage_start = timeline[60].at - timedelta(minutes=1)
    outage_end = timeline[69].at
    monkeypatch.setenv("SLAENGINE_API_TOKEN", "e2e-token")
    worker = WorkerProcess(kafka_bootstrap, topic_prefix, tmp_path / "w1").start()
    workers.append(worker)
    events = events_of(timeline)
    asyncio.run(publish(kafka_bootstrap, topic_prefix + "sla.requests", events))
    deadline = time.monotonic() + 120
    while worker.metric("slaengine_events_processed_total") < len(events):
        assert time.monotonic() < deadline, "the worker did not process the timeline in time"
        time.sleep(0.3)

    intervals = firing_intervals(
        replay(worker, timeline[0].at - timedelta(minutes=1), timeline[-1].at)
    )
    pages = [i for i in intervals if i.labels["severity"] == "critical"]
    assert len(pages) == 1, intervals
    page = pages[0]
    assert outage_start < page.fired_at <= outage_start + timedelta(minutes=2)
    # the slow page condition (30 m and 6 h windows above 6x) holds until the 30 m window is clean
    assert page.resolved_at is not None
    assert (
        outage_end + timedelta(minutes=25) < page.resolved_at <= outage_end + timedelta(minutes=31)
    )

    rules = tmp_path / "rules.yaml"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "slaengine.cli",
            "rules",
            "generate",
            "--input",
            str(CONFIG),
            "--out",
            str(rules),
        ],
        check=True,
        cwd=REPO_ROOT,
        capture_output=True,
    )
    write_promtool_test(
        tmp_path / "test.yaml",
        timeline,
        slo=SLO,
        rule_files=[rules.name],
        expected=intervals,
        end=timeline[-1].at,
        series_labels={"service": "orders-api", "sli": "availability"},
    )
    result = subprocess.run(
        [PROMTOOL, "test", "rules", "test.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
