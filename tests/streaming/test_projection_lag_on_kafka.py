"""The worker consumes sla.projections on the real broker: gauges, dead letters, batch agreement."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from .conftest import WorkerProcess, batch_rows, comparable, produce
from .test_worker_on_kafka import iso, read_all, wait_for


async def topics(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


def test_worker_consumes_projection_samples_and_exports_their_lag(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    worker = WorkerProcess(kafka_bootstrap, topic_prefix, tmp_path / "w1").start()
    workers.append(worker)
    assert topic_prefix + "sla.projections" in asyncio.run(topics(kafka_bootstrap))

    start_ms = (int(time.time()) - 600) * 1000
    samples = []
    for i in range(200):  # 10 minutes, two projections; OrderList reports its source's time
        ts = start_ms + i * 3000
        samples.append(
            {"ts": ts, "projection": "AvailableStock", "lag_ms": 6500 if i == 199 else 300 + i}
        )
        samples.append(
            {
                "ts": iso(ts / 1000),
                "projection": "OrderList",
                "source_ts": iso((ts - 700 - (2000 if i % 50 == 0 else 0)) / 1000),
            }
        )
    samples.append({"ts": start_ms, "projection": "AvailableStock", "lag_ms": -1})  # dead letter
    events = tmp_path / "projections.ndjson"
    events.write_text("".join(json.dumps(s) + "\n" for s in samples))
    produce(kafka_bootstrap, topic_prefix, events, batch_size=20)

    wait_for(
        lambda: worker.metric("slaengine_events_processed_total", topic="sla.projections") >= 400,
        what="400 projection samples",
    )
    assert worker.metric("slaengine_events_invalid_total", topic="sla.projections") == 1
    [letter] = asyncio.run(read_all(kafka_bootstrap, topic_prefix + "sla.deadletter", 1))
    assert letter["reason"] == "out_of_range" and "negative" in letter["detail"]
    assert letter["source"]["topic"] == topic_prefix + "sla.projections"

    def gauge(**labels: str) -> float:
        return worker.metric("sla_projection_lag_seconds", slo="projection-lag", **labels)

    wait_for(
        lambda: gauge(projection="AvailableStock", window="latest") == 6.5,
        what="the newest AvailableStock sample",
    )
    assert gauge(projection="OrderList", window="latest") == 0.7
    assert 2.67 < gauge(projection="*", window="1h") < 2.73  # p99: the 2.7 s OrderList samples
    assert worker.metric("slaengine_pipeline_lag_seconds", topic="sla.projections") >= 0
    assert (
        'slaengine_pipeline_lag_seconds{topic="sla.projections"}' in worker.get("/metrics").decode()
    )

    at = iso(time.time())
    streamed = comparable(worker.slo_rows(at))
    batch = comparable(batch_rows(events, at))
    assert streamed[("projection-lag", "1h")] == batch[("projection-lag", "1h")] == (395, 400)
    assert {k: v for k, v in streamed.items() if k[0] == "projection-lag"} == {
        k: v for k, v in batch.items() if k[0] == "projection-lag"
    }
