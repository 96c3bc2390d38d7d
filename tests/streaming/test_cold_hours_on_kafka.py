"""A worker reads old hours back from its RocksDB table (issue 14: RSS of a long history).

The stage-1 engine keeps in memory only the hours that still have minute sketches; after a
restart it decodes no other hour (an availability hour has none: every one of them is read
back from the table when an event arrives for it). Late and current events after a restart
must still count exactly as batch mode counts them.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import pytest

from .conftest import WorkerProcess, batch_rows, comparable, produce
from .test_worker_on_kafka import day_of_traffic, iso, wait_for

pytestmark = pytest.mark.slow


def test_events_into_hours_held_only_in_the_table_count_as_in_batch_mode(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    events = tmp_path / "events.ndjson"
    day_of_traffic(events, seed=31, days=3, rate=5)
    lines = events.read_text().splitlines(keepends=True)
    worker = WorkerProcess(kafka_bootstrap, topic_prefix, tmp_path / "w1").start()
    workers.append(worker)
    produce(kafka_bootstrap, topic_prefix, events, batch_size=50)
    wait_for(
        lambda: worker.metric("slaengine_events_processed_total") >= len(lines),
        what="the history",
    )
    worker.stop()
    worker = WorkerProcess(kafka_bootstrap, topic_prefix, tmp_path / "w1").start()
    workers.append(worker)

    # requests again into hours of 2.5 days ago (compacted) and of the last hours
    requests = [line for line in lines if '"latency_ms"' in line]
    now = time.time()
    late = [
        line
        for line in requests
        if abs(json_ts(line) - (now - 2.5 * 86400)) < 1800 or json_ts(line) > now - 3 * 3600
    ][::7]
    assert len(late) > 40
    extra = tmp_path / "late.ndjson"
    extra.write_text("".join(late))
    produce(kafka_bootstrap, topic_prefix, extra, batch_size=10)
    with events.open("a") as out:
        out.write("".join(late))
    wait_for(
        lambda: worker.metric("slaengine_events_processed_total") >= len(late),
        what="the late events",
    )
    at = iso(time.time())
    expected = comparable(batch_rows(events, at))
    wait_for(
        lambda: comparable(worker.slo_rows(at)) == expected,
        what="the SLIs after the restart to equal batch mode",
    )


def json_ts(line: str) -> float:
    return datetime.fromisoformat(json.loads(line)["ts"]).timestamp()
