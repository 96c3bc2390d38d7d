"""``slaengine worker`` under tracemalloc, dumping where its memory goes on a signal.

    python bench/_memory_worker.py DUMP_DIR worker [worker flags ...]

SIGRTMIN+3 writes ``DUMP_DIR/dump-<n>.txt``: the RSS, the memory tracemalloc traces (live
Python allocations), the largest allocation sites by file and line, then the RSS after
``malloc_trim(0)`` (heap freed but not returned to the system is given back then). The
difference between the RSS and the traced memory is the interpreter, native libraries
(RocksDB memtables and block caches), and freed-but-held heap.
"""

from __future__ import annotations

import ctypes
import gc
import signal
import sys
import tracemalloc
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DUMP = signal.SIGRTMIN + 3
TOP = 30


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    dump_dir, argv = Path(sys.argv[1]), sys.argv[2:]
    sys.path.insert(0, str(REPO_ROOT))  # as `python -m slaengine.cli` run from the repository
    from slaengine.cli import main as slaengine_main

    tracemalloc.start(1)
    dumps = [0]

    def dump(*_: Any) -> None:
        gc.collect()
        before = rss_mb()
        traced, peak = tracemalloc.get_traced_memory()
        snapshot = tracemalloc.take_snapshot()
        lines = [
            f"RSS {before:.0f} MB; traced {traced / 1e6:.0f} MB (peak {peak / 1e6:.0f} MB)",
            "largest sites (file:line):",
        ]
        for stat in snapshot.statistics("lineno")[:TOP]:
            frame = stat.traceback[0]
            lines.append(f"  {stat.size / 1e6:8.1f} MB {stat.count:>10,}  {frame}")
        lines.append("by file:")
        for stat in snapshot.statistics("filename")[:TOP]:
            lines.append(f"  {stat.size / 1e6:8.1f} MB  {stat.traceback[0].filename}")
        del snapshot
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        lines.insert(1, f"RSS after malloc_trim(0): {rss_mb():.0f} MB")
        dumps[0] += 1
        (dump_dir / f"dump-{dumps[0]}.txt").write_text("\n".join(lines) + "\n")

    signal.signal(DUMP, dump)
    return slaengine_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
