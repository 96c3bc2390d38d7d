"""Batch mode: the streaming engine's code run over an NDJSON event log, without Kafka.

Each line is one event (or a JSON array batch) of any kind; its kind is told
by its fields. Lines are applied in file order with offset = line number, the
same way the agents apply a partition's messages.
"""

from __future__ import annotations

import gc
import gzip
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from slaengine.config import SlaConfig
from slaengine.errors import SlaEngineError
from slaengine.events import (
    ORDERS_TOPIC,
    PROJECTIONS_TOPIC,
    REQUESTS_TOPIC,
    RESOURCES_TOPIC,
    SOURCE_NAMES,
    Event,
    ResourceEvent,
    decode_read,
    read_message,
    source_id,
)
from slaengine.ingest import apply_decoded
from slaengine.sli.engine import SliEngine


def kind_of_event(obj: Any) -> str:
    """The topic an event object belongs to, told by its fields."""
    if isinstance(obj, list) and obj:
        obj = obj[0]
    if isinstance(obj, dict):
        if "order_id" in obj:
            return ORDERS_TOPIC
        if "resource" in obj:
            return RESOURCES_TOPIC
        if "projection" in obj:
            return PROJECTIONS_TOPIC
    return REQUESTS_TOPIC


GZIP_MAGIC = b"\x1f\x8b"


def open_event_log(path: str | Path) -> IO[bytes]:
    """The log's bytes; gzip is recognised by its magic bytes, whatever the file is named."""
    path = Path(path)
    try:
        handle = path.open("rb")
        if handle.read(2) == GZIP_MAGIC:
            handle.close()
            return gzip.open(path, "rb")  # type: ignore[return-value]
        handle.seek(0)
        return handle
    except OSError as err:
        raise SlaEngineError(f"cannot read event log {path}: {err.strerror}") from err


def iter_lines(path: str | Path) -> Iterator[tuple[int, bytes]]:
    try:
        yield from _iter_lines(path)
    except (OSError, EOFError) as err:  # a truncated or corrupt gzip stream
        raise SlaEngineError(f"cannot read event log {path}: {err}") from err


def _iter_lines(path: str | Path) -> Iterator[tuple[int, bytes]]:
    with open_event_log(path) as handle:
        for number, line in enumerate(handle, start=1):
            line = line.strip()
            if line:
                yield number, line


@dataclass
class BatchResult:
    engine: SliEngine
    valid: int = 0
    invalid: Counter[str] = field(default_factory=Counter)
    resources: list[ResourceEvent] = field(default_factory=list)

    def keep_resource(self, event: Event, source: str, offset: int) -> None:
        if type(event) is ResourceEvent:
            self.resources.append(event)

    @property
    def invalid_total(self) -> int:
        return sum(self.invalid.values())


def run_batch(
    path: str | Path,
    config: SlaConfig,
    now_ms: int,
    at_ms: int | None = None,
    *,
    keep_resources: bool = True,
) -> BatchResult:
    """Apply every event of the log to a fresh engine (``now_ms`` bounds future timestamps).

    Compaction then keeps the detail that windows evaluated at ``at_ms`` need. The resource events
    are kept in ``BatchResult.resources`` for capacity forecasts, unless ``keep_resources`` is
    False.
    """
    result = BatchResult(SliEngine(config))
    engine, invalid = result.engine, result.invalid
    on_applied = result.keep_resource if keep_resources else None
    sources = {kind: source_id(short_name, 0) for kind, short_name in SOURCE_NAMES.items()}
    valid = 0
    with _cycle_collector_paused():
        for number, raw in iter_lines(path):
            message = read_message(raw)  # read once: its fields tell its kind
            kind = kind_of_event(message.document)
            outcome = apply_decoded(
                engine,
                decode_read(kind, message, now_ms),
                sources[kind],
                number,
                on_applied=on_applied,
            )
            valid += outcome.applied
            if outcome.invalid or outcome.rejected:
                invalid.update(bad.reason for bad in outcome.invalid)
                invalid.update(rejected.reason for rejected in outcome.rejected)
    result.valid = valid
    engine.maintain(at_ms)
    return result


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """A month's state is ~1M small objects (buckets, sketches, orders), none part of a
    reference cycle: Python's cycle collector would only walk them, again and again as they
    grow (~10 % of a batch run)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def resource_events(path: str | Path, now_ms: int) -> list[ResourceEvent]:
    """The resource events ``run_batch`` keeps (valid ones, in file order), without the SLIs.

    Only lines that could hold a ``resource`` key are parsed: the word itself, or a ``\\u``
    escape that could spell it.
    """
    resources: list[ResourceEvent] = []
    for raw in lines_containing(path, (b"resource", b"\\u")):
        message = read_message(raw)
        if kind_of_event(message.document) == RESOURCES_TOPIC:
            events, _ = decode_read(RESOURCES_TOPIC, message, now_ms)
            resources.extend(event for _, event in events if type(event) is ResourceEvent)
    return resources


CHUNK_BYTES = 1 << 22


def lines_containing(path: str | Path, needles: tuple[bytes, ...]) -> Iterator[bytes]:
    """The lines of ``iter_lines`` that hold any of ``needles``, in order: searched in chunks of
    the log at C speed, 20x faster than looking into each line when few lines have them."""
    try:
        with open_event_log(path) as handle:
            while chunk := handle.read(CHUNK_BYTES):
                chunk += handle.readline()  # up to the end of the chunk's last line
                starts = set()
                for needle in needles:
                    found = chunk.find(needle)
                    while found >= 0:
                        starts.add(chunk.rfind(b"\n", 0, found) + 1)
                        line_end = chunk.find(b"\n", found)
                        found = -1 if line_end < 0 else chunk.find(needle, line_end)
                for start in sorted(starts):
                    line_end = chunk.find(b"\n", start)
                    line = chunk[start : line_end if line_end >= 0 else len(chunk)].strip()
                    if line:
                        yield line
    except (OSError, EOFError) as err:  # a truncated or corrupt gzip stream
        raise SlaEngineError(f"cannot read event log {path}: {err}") from err
