"""Two workers on the real broker: each answers for every SLO exactly as batch mode, each per-SLO
series is exported by exactly one of them, and requests keyed by request id keep uptime exact."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from slaengine.synthetic import Incident, TrafficPlan, generate_events

from .conftest import CONFIG, REPO_ROOT, WorkerProcess, batch_rows, comparable

pytestmark = pytest.mark.slow  # worker processes on the broker: not in scripts/test --quick

TOKEN = "global-view-token"
PER_SLO_FAMILIES = (
    "sla_uptime_percentage",
    "sla_api_response_time_p95",
    "sla_order_fulfillment_rate",
    "slaengine_slo_sli_ratio",
    "slaengine_slo_error_budget_remaining",
    "slaengine_slo_burn_rate",
    "slaengine_slo_latency_seconds",
    "slaengine_slo_window_good_events",
    "slaengine_slo_window_events",
    "slaengine_slo_objective_ratio",
    "slaengine_slo_events_total",
    "slaengine_slo_good_events_total",
)
SAMPLE = re.compile(r"^(\w+)\{(.*)\} \S+$")


def write_events(path: Path, plan: TrafficPlan) -> int:
    count = 0
    with path.open("w") as out:
        for event in generate_events(plan):
            out.write(json.dumps(event) + "\n")
            count += 1
    return count


def produce(bootstrap: str, prefix: str, path: Path, *options: str) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "slaengine.cli",
            "produce",
            str(path),
            "--bootstrap",
            bootstrap,
            "--topic-prefix",
            prefix,
            "--no-progress",
            *options,
        ],
        check=True,
        cwd=REPO_ROOT,
        capture_output=True,
    )


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def processed(workers: list[WorkerProcess]) -> float:
    return sum(w.metric("slaengine_events_processed_total") for w in workers if w.alive)


def per_slo_series(worker: WorkerProcess) -> set[tuple[str, str]]:
    """(family, labels) of every per-SLO sample this worker exports (over every window)."""
    found = set()
    for line in worker.get("/metrics?windows=all").decode().splitlines():
        match = SAMPLE.match(line)
        if match and match.group(1) in PER_SLO_FAMILIES:
            found.add((match.group(1), match.group(2)))
    return found


def post_report(worker: WorkerProcess, month: str) -> list[str]:
    request = urllib.request.Request(
        f"{worker.url}/api/v1/reports?month={month}",
        method="POST",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        pdf = response.read()
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout
    return [line.strip() for line in text.decode().splitlines()]


def batch_headlines(events: Path, month: str, out: Path) -> list[str]:
    """The batch report's headline per SLO (projection lag included: it is the monitored
    system's)."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "slaengine.cli",
            "report",
            "--month",
            month,
            "--events",
            str(events),
            "--config",
            str(CONFIG),
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    headlines = result.stdout.splitlines()[:-1]
    assert any(line.startswith("Projection lag: ") for line in headlines)
    return headlines


def test_two_workers_each_answer_for_all_slos_like_batch_and_export_each_series_once(
    kafka_bootstrap: str,
    topic_prefix: str,
    tmp_path: Path,
    workers: list[WorkerProcess],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLAENGINE_API_TOKEN", TOKEN)
    events = tmp_path / "october.ndjson"
    count = write_events(
        events,
        TrafficPlan(
            start=datetime(2026, 10, 1, tzinfo=UTC),
            end=datetime(2026, 11, 1, tzinfo=UTC),
            seed=31,
            requests_per_minute=1,
            orders_per_hour=6,
        ),
    )
    one = WorkerProcess(
        kafka_bootstrap, topic_prefix, tmp_path / "w1", worker_id="worker-1"
    ).start()
    workers.append(one)
    two = WorkerProcess(
        kafka_bootstrap, topic_prefix, tmp_path / "w2", worker_id="worker-2"
    ).start()
    workers.append(two)
    produce(kafka_bootstrap, topic_prefix, events, "--batch-size", "50")
    at = "2026-11-01T00:00:00Z"
    expected = comparable(batch_rows(events, at))
    headlines = batch_headlines(events, "2026-10", tmp_path / "batch.pdf")
    wait_for(lambda: processed([one, two]) >= count, timeout=300, what="all events")
    assert (
        one.metric("slaengine_events_processed_total")
        > 0
        < two.metric("slaengine_events_processed_total")
    )

    for worker in (one, two):  # each answers for every partition, whichever it consumes
        # (another worker's last events reach the view within its flush interval; replays after
        # the start-up rebalance count twice in the processed counter, so wait for the rows)
        wait_for(
            lambda w=worker: comparable(w.slo_rows(at)) == expected,
            timeout=120,
            what=f"{worker.worker_id}'s SLIs to equal batch mode",
        )
        report = post_report(worker, "2026-10")
        assert [h for h in headlines if h not in report] == [], worker.worker_id

    exported = {w.worker_id: per_slo_series(w) for w in (one, two)}
    assert exported["worker-1"] and exported["worker-2"], "both workers should own some SLO"
    assert exported["worker-1"].isdisjoint(exported["worker-2"])
    every = exported["worker-1"] | exported["worker-2"]
    windows = defaultdict(set)
    for family, labels in every:
        if family == "slaengine_slo_window_events":
            fields = dict(re.findall(r'(\w+)="([^"]*)"', labels))
            windows[fields["slo"]].add(fields["window"])
    assert set(windows) == {name for name, _ in expected} | {"projection-lag"}
    assert all(len(found) >= 10 for found in windows.values())  # 5m … 30d and the calendar month

    two.stop()
    try:
        wait_for(
            lambda: per_slo_series(one) == every,
            timeout=90,
            what="the survivor to export every series",
        )
    except AssertionError:
        now = per_slo_series(one)
        raise AssertionError(
            f"missing {sorted(every - now)[:5]}, extra {sorted(now - every)[:5]}\n"
            f"{one.log_tail(30)}"
        ) from None
    assert comparable(one.slo_rows(at)) == expected


async def partitions_with_requests(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(4)])
    finally:
        await consumer.stop()
    return sum(1 for end in ends.values() if end > 0)


def test_one_service_keyed_by_request_id_over_4_partitions_and_2_workers_has_exact_uptime_minutes(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    start = datetime(2026, 10, 20, tzinfo=UTC)
    plan = TrafficPlan(
        start=start,
        end=start + timedelta(hours=4),
        seed=12,
        services=("orders-api",),
        requests_per_minute=20,
        orders_per_hour=0,
        incidents=[
            Incident(
                "orders-api", int(start.timestamp() * 1000) + h * 3_600_000, 50, error_ratio=0.04
            )
            for h in range(4)
        ],
    )
    events = tmp_path / "requests.ndjson"
    count = write_events(events, plan)
    one = WorkerProcess(
        kafka_bootstrap, topic_prefix, tmp_path / "w1", worker_id="worker-1"
    ).start()
    workers.append(one)
    two = WorkerProcess(
        kafka_bootstrap, topic_prefix, tmp_path / "w2", worker_id="worker-2"
    ).start()
    workers.append(two)
    produce(kafka_bootstrap, topic_prefix, events, "--request-key", "request_id")
    assert (
        asyncio.run(partitions_with_requests(kafka_bootstrap, topic_prefix + "sla.requests")) == 4
    )
    at = "2026-10-20T05:00:00Z"
    expected = comparable(batch_rows(events, at))
    good, total = expected[("api-uptime", "1d")]
    assert 0 < good < total, "some minutes must be down for the slices to matter"
    wait_for(lambda: processed([one, two]) >= count, timeout=300, what="all events")
    assert (
        one.metric("slaengine_events_processed_total")
        > 0
        < two.metric("slaengine_events_processed_total")
    )
    for worker in (one, two):
        wait_for(
            lambda w=worker: comparable(w.slo_rows(at)) == expected,
            timeout=120,
            what=f"{worker.worker_id}'s SLIs to equal batch mode",
        )
