"""Batch mode and streaming decode and apply a message through the same function."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from slaengine import batch as batch_mode
from slaengine.batch import helper_process, kind_of_event, resource_events, run_batch
from slaengine.config import SlaConfig, load_sla_config
from slaengine.events import source_id, source_name
from slaengine.sli.engine import SliEngine
from slaengine.sli.results import evaluate_all, evaluate_window
from slaengine.synthetic import generate_events, plan_for_days
from streams.pipeline import Pipeline

END = datetime(2026, 10, 3, tzinfo=UTC)
NOW_MS = int(END.timestamp() * 1000)
BAD_LINES = [b'{"service": "orders-api"', b'{"ts": "2026-10-02T10:00:00Z", "status": 200}', b"[]"]


def snapshot(engine: SliEngine, config: SlaConfig) -> list:
    return [
        evaluate_window(engine, slo, window, NOW_MS)
        for slo in config.slos
        if slo.sli != "lag"
        for window in ("1h", "1d", "calendar-month")
    ]


def test_batch_and_streaming_give_the_same_slis_and_the_same_invalid_counts(
    sla_config: SlaConfig, tmp_path: Path
) -> None:
    lines = [json.dumps(event).encode() for event in generate_events(plan_for_days(END, 1, seed=3))]
    lines[100:100] = BAD_LINES
    log = tmp_path / "events.ndjson"
    log.write_bytes(b"\n".join(lines) + b"\n")

    batch = run_batch(log, sla_config, NOW_MS)
    pipeline = Pipeline(SliEngine(sla_config))
    for number, line in enumerate(lines, start=1):  # offset = line number, as batch mode does
        pipeline.on_message(kind_of_event(_json_or_none(line)), 0, number, line, NOW_MS)

    assert batch.valid == sum(pipeline.valid.values()) > 1000
    streamed_invalid: Counter[str] = Counter()
    for (_, reason), count in pipeline.invalid.items():
        streamed_invalid[reason] += count
    assert batch.invalid == streamed_invalid and batch.invalid_total == len(BAD_LINES)
    assert snapshot(batch.engine, sla_config) == snapshot(pipeline.engine, sla_config)


def test_a_source_id_is_built_and_split_in_one_place() -> None:
    assert source_id("requests", 3) == "requests:3"
    assert source_name(source_id("projections", 12)) == "projections"


def _json_or_none(line: bytes) -> object:
    try:
        return json.loads(line)
    except ValueError:
        return None


def test_batch_mode_tells_the_kind_of_a_line_orjson_refuses_from_the_json_module_reading(
    sla_config: SlaConfig, tmp_path: Path
) -> None:
    # NaN is not JSON to orjson, but the json module reads it: the line is a resource event whose
    # value is not finite, as before, not a request missing its service
    log = tmp_path / "events.ndjson"
    log.write_bytes(
        b'{"ts": "2026-10-02T10:00:00Z", "resource": "disk", "value": NaN}\n'
        b'{"ts": "2026-10-02T10:00:00Z", "order_id": "o1", "event": "created", "x": 1e999}\n'
        b'{"ts": "2026-10-02T10:00:00Z", "resource": "disk", "value": 18446744073709551616}\n'
    )
    batch = run_batch(log, sla_config, NOW_MS)
    assert batch.invalid == Counter({"out_of_range": 2}) and batch.valid == 1


def test_the_resource_events_of_a_log_are_those_batch_mode_keeps(
    sla_config: SlaConfig, tmp_path: Path
) -> None:
    # the report forecasts from resource_events (in a second process) what run_batch would keep
    lines = [json.dumps(event).encode() for event in generate_events(plan_for_days(END, 2, seed=5))]
    lines += [
        # an escaped key
        b'{"ts": "2026-10-02T10:00:00Z", "reso\\u0075rce": "disk", "value": 1, "capacity": 2}',
        b'[{"ts": "2026-10-02T10:00:00Z", "resource": "disk", "value": 3}, {"resource": "disk"}]',
        b'{"ts": "2026-10-02T10:00:00Z", "resource": "disk", "value": -1e999}',
        b'{"ts": "2026-10-02T10:00:00Z", "order_id": "o9", "event": "created", "resource": "disk"}',
    ]
    log = tmp_path / "events.ndjson"
    log.write_bytes(b"\n".join(lines) + b"\n")
    kept = run_batch(log, sla_config, NOW_MS).resources
    assert len(kept) > 20 and [e.value for e in kept[-2:]] == [1.0, 3.0]
    assert resource_events(log, NOW_MS) == kept


@pytest.mark.parametrize("chunk_bytes", [1, 37, 4096])
@pytest.mark.parametrize("compressed", [False, True])
def test_lines_with_a_word_are_found_across_chunk_edges_as_iter_lines_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_bytes: int, compressed: bool
) -> None:
    monkeypatch.setattr(batch_mode, "CHUNK_BYTES", chunk_bytes)
    lines = [json.dumps(event).encode() for event in generate_events(plan_for_days(END, 1, seed=9))]
    lines[5:5] = [b"", b"  \\u0072esource  \r", b"resource resource", b"\t"]
    body = b"\n".join(lines[:300]) + b"\nlast resource line, no newline "
    log = tmp_path / "events.ndjson"
    log.write_bytes(gzip.compress(body) if compressed else body)
    expected = [  # with the numbers iter_lines gives them (run_batch's helper applies them)
        (number, line)
        for number, line in batch_mode.iter_lines(log)
        if b"resource" in line or b"\\u" in line
    ]
    assert len(expected) > 5
    assert list(batch_mode.lines_containing(log, (b"resource", b"\\u"))) == expected


def test_a_helper_process_applying_the_orders_and_projections_changes_no_result(
    tmp_path: Path,
) -> None:
    # run_batch(helper=...) applies orders, projections and resources in a second process and
    # loads its state back as changelog records: every count, SLI and kept resource must be
    # those of the one-process run, whatever lines the log holds
    config = load_sla_config(Path(batch_mode.__file__).parent / "data" / "slo.yaml")
    lines = [
        json.dumps(event).encode() for event in generate_events(plan_for_days(END, 3, seed=11))
    ]
    old, ts = '"2025-01-02T10:00:00Z"', '"2026-10-02T10:00:00Z"'  # past retention: late
    lines[200:200] = [
        *BAD_LINES,
        b"",
        b"   ",
        b'{"ts": %s, "service": "orders-api", "endpoint": "GET /", "status": 200,'
        b' "latency_ms": 5}' % old.encode(),
        b'{"ts": %s, "projection": "OrderList", "lag_ms": 5}' % old.encode(),
        b'{"ts": %s, "order\\u005fid": "o-escaped", "event": "created"}' % ts.encode(),
        b'{"ts": %s, "order_id": "o-bad", "event": "lost"}' % ts.encode(),
        b'{"ts": %s, "projection": "OrderList", "lag_ms": -1}' % ts.encode(),
        b'[{"ts": %s, "order_id": "o-batch", "event": "created"}, {"service": "x"}]' % ts.encode(),
        b'[{"ts": %s, "service": "orders-api", "endpoint": "GET /", "status": 503,'
        b' "latency_ms": 900}, {"ts": %s, "order_id": "o-in-requests", "event": "created"}]'
        % (ts.encode(), ts.encode()),
        b'{"ts": %s, "resource": "disk", "value": 1, "capacity": 2}' % ts.encode(),
    ]
    log = tmp_path / "events.ndjson"
    log.write_bytes(b"\n".join(lines) + b"\n")
    for at_ms in (None, NOW_MS - 30 * 3_600_000):
        alone = run_batch(log, config, NOW_MS, at_ms)
        with helper_process() as helper:
            helped = run_batch(log, config, NOW_MS, at_ms, helper=helper)
        assert helped.valid == alone.valid > 10_000
        assert helped.invalid == alone.invalid and alone.invalid_total >= len(BAD_LINES) + 4
        assert helped.resources == alone.resources and len(alone.resources) > 10
        for engine in (alone.engine, helped.engine):
            assert engine.late_dropped == 2 and engine.applied_events == alone.valid
        assert helped.engine.watermarks == alone.engine.watermarks
        for at in (at_ms or NOW_MS, NOW_MS - 50 * 3_600_000):
            rows = [row.to_json() for row in evaluate_all(helped.engine, at)]
            assert rows == [row.to_json() for row in evaluate_all(alone.engine, at)]
            assert len(rows) > 30
