"""Memory of the stage-1 SLI state of an event log split over partitions (issue 14).

    python bench/state_memory.py SLO_CONFIG EVENTS.ndjson [--partitions 4]

Applies every event of the log to one ``SliEngine`` as a worker owning ``--partitions``
partitions of each topic would (round robin by line), compacts it as the worker's
maintenance does, and prints the hour buckets held, the memory tracemalloc sees for them and
the changelog records one flush of everything would write. A worker holds this state twice:
in its stage-1 engine and in its global view. E.g. the bench's 50-SLO config and a 10-day
history: ``python bench/worker_vs_peers.py --history-only --history-months 0.33
--history-slos 50`` leaves ``slo-50.yaml`` and ``history.ndjson`` in its work directory.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
import tracemalloc

from slaengine.batch import iter_lines, kind_of_event
from slaengine.config import load_sla_config
from slaengine.events import SOURCE_NAMES, decode_read, read_message
from slaengine.ingest import apply_decoded
from slaengine.sli.engine import SliEngine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("config")
    parser.add_argument("events")
    parser.add_argument("--partitions", type=int, default=4)
    args = parser.parse_args()
    config = load_sla_config(args.config)
    now_ms = int(time.time() * 1000) + 10**12  # accept every timestamp of the log
    tracemalloc.start()
    engine = SliEngine(config)
    cpu = time.process_time()
    for number, raw in iter_lines(args.events):
        message = read_message(raw)
        kind = kind_of_event(message.document)
        source = f"{SOURCE_NAMES[kind]}:{number % args.partitions}"
        apply_decoded(engine, decode_read(kind, message, now_ms), source, number)
    engine.maintain()
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0]
    cpu = time.process_time() - cpu
    tracemalloc.stop()
    buckets = sum(len(hours) for hours in engine.series.values())
    changes = engine.take_changes()
    size = sum(len(json.dumps(value, separators=(",", ":"))) for _, _, value in changes)
    print(
        f"{buckets:,} hour buckets, {traced / 1e6:.1f} MB traced (tracemalloc), applied in "
        f"{cpu:.1f} s CPU under tracemalloc; one flush of all: {len(changes):,} records, "
        f"{size / 1e6:.1f} MB of JSON"
    )


if __name__ == "__main__":
    main()
