"""Streaming equals batch on the real broker for a generated month with hostile timing:
silences, late requests, reordered order events, and projection samples."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

from slaengine.synthetic import TrafficPlan, generate_events, with_hostile_timing

from .conftest import CONFIG, WorkerProcess, batch_rows, comparable, produce
from .test_worker_on_kafka import iso, wait_for


def test_streaming_equals_batch_with_silences_late_events_and_reordered_orders(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    config = tmp_path / "slo.yaml"  # the shipped config, with silent minutes counted as down
    config.write_text(CONFIG.read_text().replace("no_traffic: ignore", "no_traffic: bad"))
    end = datetime.fromtimestamp(time.time() - 120, UTC).replace(second=0, microsecond=0)
    plan = TrafficPlan(
        start=end - timedelta(days=30), end=end, seed=31, requests_per_minute=1, orders_per_hour=20
    )
    events = with_hostile_timing(list(generate_events(plan)), seed=31)
    assert sum(1 for e in events if "projection" in e) > 10_000  # projection samples are in
    log = tmp_path / "events.ndjson"
    log.write_text("".join(json.dumps(e) + "\n" for e in events))
    late = sum(
        1 for a, b in pairwise(events) if "service" in a and "service" in b and b["ts"] < a["ts"]
    )
    seen_created: set[str] = set()
    reordered = 0
    for event in events:
        if event.get("event") == "created":
            seen_created.add(event["order_id"])
        elif (
            event.get("event") in ("shipped", "cancelled") and event["order_id"] not in seen_created
        ):
            reordered += 1
    assert late > 10 and reordered > 10

    worker = WorkerProcess(kafka_bootstrap, topic_prefix, tmp_path / "w1", config=config).start()
    workers.append(worker)
    produce(kafka_bootstrap, topic_prefix, log, batch_size=50)
    wait_for(
        lambda: worker.metric("slaengine_events_processed_total") >= len(events),
        timeout=600,
        what="all events",
    )
    at = iso(time.time())
    expected = comparable(batch_rows(log, at, config))
    silent_ignored = comparable(batch_rows(log, at))[("api-uptime", "30d")]
    assert (
        expected[("api-uptime", "30d")][1] > silent_ignored[1] + 30
    )  # the silences count as down minutes
    try:
        wait_for(
            lambda: comparable(worker.slo_rows(at)) == expected,
            timeout=60,
            what="streaming SLIs to equal batch mode",
        )
    except AssertionError:
        streamed = comparable(worker.slo_rows(at))
        assert {k: v for k, v in streamed.items() if expected.get(k) != v} == {
            k: v for k, v in expected.items() if streamed.get(k) != v
        }
