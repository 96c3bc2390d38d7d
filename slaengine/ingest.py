"""Decode a message and apply its events: the one path shared by batch mode and streaming.

Streaming (streams/pipeline.py) adds what only a live worker needs around it (replay
skipping, cardinality limits, dead letters, logging); batch mode (slaengine/batch.py) counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from slaengine.events import MAX_BATCH, Decoded, Event, InvalidElement, decode_message
from slaengine.sli.engine import SliEngine


@dataclass(frozen=True, slots=True)
class Rejected:
    """A decoded event that was not applied: over a limit (``too_many_series``) or it failed
    (``internal_error``, with the exception)."""

    index: int
    event: Event
    reason: str
    detail: str
    error: Exception | None = None


@dataclass(slots=True)
class Applied:
    applied: int = 0
    invalid: list[InvalidElement] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


def apply_message(
    engine: SliEngine,
    kind: str,
    value: bytes | None,
    source: str,
    offset: int,
    now_ms: int,
    *,
    processed_ms: int | None = None,
    appended_ms: int | None = None,
    admit: Callable[[Event], str | None] | None = None,
    on_applied: Callable[[Event, str, int], None] | None = None,
) -> Applied:
    """Decode ``value`` (a ``kind`` message; ``now_ms`` bounds future timestamps) and apply its
    events
    at ``offset`` of ``source``. ``admit`` says why an event may not be applied (None: it may);
    ``on_applied`` sees each applied event with its source and element offset. Never raises for one
    event."""
    return apply_decoded(
        engine,
        decode_message(kind, value, now_ms),
        source,
        offset,
        processed_ms=processed_ms,
        appended_ms=appended_ms,
        admit=admit,
        on_applied=on_applied,
    )


def apply_decoded(
    engine: SliEngine,
    decoded: Decoded,
    source: str,
    offset: int,
    *,
    processed_ms: int | None = None,
    appended_ms: int | None = None,
    admit: Callable[[Event], str | None] | None = None,
    on_applied: Callable[[Event, str, int], None] | None = None,
) -> Applied:
    """``apply_message`` of a message already decoded (batch mode reads each line's JSON once)."""
    events, invalid = decoded
    applied = 0
    rejected: list[Rejected] = []
    apply = engine.apply
    first = offset * MAX_BATCH  # element_offset(offset, 0)
    for index, event in events:
        try:
            if admit is not None and (refusal := admit(event)) is not None:
                rejected.append(Rejected(index, event, "too_many_series", refusal))
                continue
            apply(event, source, first + index, processed_ms, appended_ms)
            if on_applied is not None:
                on_applied(event, source, first + index)
            applied += 1
        except Exception as err:  # noqa: BLE001 - one element's failure must not lose the others
            rejected.append(
                Rejected(index, event, "internal_error", f"{type(err).__name__}: {err}", err)
            )
    return Applied(applied, invalid, rejected)
