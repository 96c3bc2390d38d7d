"""``slaengine worker`` that reports where its memory goes on a signal.

    python bench/_memory_worker.py DUMP_DIR worker [worker flags ...]

SIGRTMIN+3 writes ``DUMP_DIR/dump-<n>.txt``: the RSS; the live Python objects by type
(count and ``sys.getsizeof``: what the interpreter holds alive); pymalloc's arenas (in use
versus allocated: small blocks freed but held); the RSS after ``malloc_trim(0)`` (heap freed
but not returned to the system is given back then). What remains is the interpreter,
native libraries (RocksDB memtables and block caches) and fragmentation.
With ``SLAENGINE_TRACEMALLOC=1`` in the environment tracemalloc also runs from the start
and the dump lists the largest allocation sites by file and line (3-10x slower).
"""

from __future__ import annotations

import collections
import ctypes
import gc
import os
import signal
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DUMP = signal.SIGRTMIN + 3
TOP = 25


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pymalloc_arenas() -> str:
    """The arena lines of ``sys._debugmallocstats()`` (written to the C stderr)."""
    with tempfile.TemporaryFile() as captured:
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        text = captured.read().decode(errors="replace")
    keep = ("arenas", "Total", "bytes in allocated blocks", "bytes in available blocks")
    return "\n".join("  " + line for line in text.splitlines() if any(k in line for k in keep))


def objects_by_type() -> list[str]:
    counts: collections.Counter[str] = collections.Counter()
    sizes: collections.Counter[str] = collections.Counter()
    for obj in gc.get_objects():
        name = type(obj).__qualname__
        counts[name] += 1
        sizes[name] += sys.getsizeof(obj)
    return [
        f"  {size / 1e6:8.1f} MB {counts[name]:>10,}  {name}"
        for name, size in sizes.most_common(TOP)
    ]


def main() -> int:
    dump_dir, argv = Path(sys.argv[1]), sys.argv[2:]
    sys.path.insert(0, str(REPO_ROOT))  # as `python -m slaengine.cli` run from the repository
    from slaengine.cli import main as slaengine_main

    if os.environ.get("SLAENGINE_TRACEMALLOC") == "1":
        tracemalloc.start(1)
    dumps = [0]

    def dump(*_: Any) -> None:
        gc.collect()
        lines = [f"RSS {rss_mb():.0f} MB", "pymalloc:", pymalloc_arenas()]
        lines += ["live objects tracked by gc, by type (getsizeof, not their contents):"]
        lines += objects_by_type()
        if tracemalloc.is_tracing():
            traced, peak = tracemalloc.get_traced_memory()
            lines.append(f"traced {traced / 1e6:.0f} MB (peak {peak / 1e6:.0f} MB); by line:")
            for stat in tracemalloc.take_snapshot().statistics("lineno")[:TOP]:
                lines.append(f"  {stat.size / 1e6:8.1f} MB {stat.count:>10,}  {stat.traceback[0]}")
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        lines.insert(1, f"RSS after malloc_trim(0): {rss_mb():.0f} MB")
        dumps[0] += 1
        (dump_dir / f"dump-{dumps[0]}.txt").write_text("\n".join(lines) + "\n")

    signal.signal(DUMP, dump)
    return slaengine_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
