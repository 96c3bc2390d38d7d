"""From a Kafka message to engine updates and dead letters — no Faust, so it is unit-testable.

The agents hand every message here with its topic, partition and offset. Every
element of a message is either applied or dead-lettered, and nothing raises:
invalid elements, names beyond the cardinality limits (``too_many_series``) and
anything unexpected (``internal_error``) become bounded dead letters carrying
the offending element, the source coordinates and a human-readable reason.

Messages at or below a partition's applied high-water mark (``applied``,
persisted with the state by streams/app.py) are replays of work already done:
they are skipped whole, so their dead letters are produced exactly once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slaengine.events import (
    SOURCE_NAMES,
    Event,
    ResourceEvent,
    event_to_json,
    kind_of_topic,
    source_id,
)
from slaengine.ingest import apply_message
from slaengine.sli.engine import SliEngine
from streams.limits import SeriesLimits

log = logging.getLogger(__name__)

ORIGINAL_CAP = 64 * 1024  # bytes of the original message kept in a whole-message letter
ELEMENT_CAP = 64 * 1024  # characters of the offending element's JSON kept in a letter
DETAIL_CAP = 500
MAX_LETTER_BYTES = 256 * 1024  # well under the producer's 1 MB request limit
LOG_EVERY_S = 60.0  # at most one log line per reason and minute


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    index: int | None
    reason: str
    detail: str
    original: bytes | None
    element: Any = None

    def to_json(self) -> dict[str, Any]:
        """The letter, bounded: a batch element's letter carries the element, not the batch's bytes
        (a copy per bad element multiplied the input); a whole message's bytes are cut at
        ORIGINAL_CAP.
        Size and sha256 of the original are always there, to find and match the message."""
        original = self.original or b""
        kept = original[:ORIGINAL_CAP] if self.index is None else b""
        letter: dict[str, Any] = {
            "source": {
                "topic": self.topic,
                "partition": self.partition,
                "offset": self.offset,
                "index": self.index,
            },
            "reason": self.reason,
            "detail": self.detail[:DETAIL_CAP],
            "original_base64": base64.b64encode(kept).decode("ascii"),
            "original_size": len(original),
        }
        if len(kept) < len(original):
            letter["original_truncated"] = True
            letter["original_sha256"] = hashlib.sha256(original).hexdigest()
        letter.update(_bounded_element(self.element))
        return letter

    def to_bytes(self) -> bytes:
        data = json.dumps(self.to_json(), separators=(",", ":")).encode()
        if (
            len(data) > MAX_LETTER_BYTES
        ):  # cannot happen with the caps above; never exceed it anyway
            letter = self.to_json()
            letter.update(original_base64="", element=None, element_truncated=True)
            letter.pop("element_text", None)
            data = json.dumps(letter, separators=(",", ":")).encode()
        return data


def _bounded_element(element: Any) -> dict[str, Any]:
    """``{"element": ...}`` when it is strict JSON within ELEMENT_CAP; else its text, cut, with
    size and hash.

    (NaN/Infinity and too-deep nesting are not strict JSON: they come as ``element_text``.)
    """
    try:
        text = json.dumps(element, separators=(",", ":"), allow_nan=False)
    except (ValueError, TypeError, RecursionError):
        text = None
    if text is not None and len(text) <= ELEMENT_CAP:
        return {"element": element}
    if text is None:
        try:
            text = json.dumps(element, separators=(",", ":"), default=repr)
        except (ValueError, TypeError, RecursionError):
            text = repr(element)[: ELEMENT_CAP + 1]
    cut = len(text) > ELEMENT_CAP
    bounded: dict[str, Any] = {
        "element": None,
        "element_text": text[: ELEMENT_CAP if not cut else 4096],
    }
    if cut:
        bounded.update(
            element_truncated=True,
            element_size=len(text),
            element_sha256=hashlib.sha256(text.encode()).hexdigest(),
        )
    return bounded


class Pipeline:
    def __init__(
        self,
        engine: SliEngine,
        on_resource: Callable[[ResourceEvent, str, int], None] | None = None,
        limits: SeriesLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.on_resource = on_resource
        self.limits = limits if limits is not None else SeriesLimits.of_config(engine.config)
        self.clock = clock
        self.valid: dict[str, int] = {}
        self.invalid: dict[tuple[str, str], int] = {}
        self.applied: dict[str, int] = {}  # source partition → highest message offset handled
        self.replayed = 0  # messages skipped as replays of handled ones
        self._logged: dict[str, tuple[float, int]] = {}  # reason → (last log time, letters since)
        self._on_applied = self._resource_applied if on_resource is not None else None

    def _resource_applied(self, event: Event, source: str, position: int) -> None:
        if self.on_resource is not None and type(event) is ResourceEvent:
            self.on_resource(event, source, position)

    def on_message(
        self,
        topic: str,
        partition: int,
        offset: int,
        value: bytes | None,
        processed_ms: int,
        appended_ms: int | None = None,
    ) -> list[DeadLetter]:
        """Apply a message's valid elements; return a dead letter for each of the others. Never
        raises."""
        kind = kind_of_topic(topic)
        source = source_id(SOURCE_NAMES.get(kind, kind), partition)
        if offset <= self.applied.get(source, -1):
            self.replayed += 1
            return []
        try:
            outcome = apply_message(
                self.engine,
                kind,
                value,
                source,
                offset,
                processed_ms,
                processed_ms=processed_ms,
                appended_ms=appended_ms,
                admit=self.limits.admit,
                on_applied=self._on_applied,
            )
            letters = [
                DeadLetter(
                    topic, partition, offset, bad.index, bad.reason, bad.detail, value, bad.element
                )
                for bad in outcome.invalid
            ]
            for rejected in outcome.rejected:
                index = _index(value, rejected.index)
                if rejected.error is None:
                    letters.append(
                        DeadLetter(
                            topic,
                            partition,
                            offset,
                            index,
                            rejected.reason,
                            rejected.detail,
                            value,
                            event_to_json(rejected.event),
                        )
                    )
                else:
                    letters.append(
                        self._internal_error(
                            topic,
                            partition,
                            offset,
                            index,
                            value,
                            _event_json(rejected.event),
                            rejected.error,
                        )
                    )
            if outcome.applied:
                self.valid[kind] = self.valid.get(kind, 0) + outcome.applied
        except Exception as err:  # noqa: BLE001 - a bug in decoding must not stop the partition
            letters = [self._internal_error(topic, partition, offset, None, value, None, err)]
        self.applied[source] = offset
        if letters:
            for letter in letters:
                self.invalid[(kind, letter.reason)] = self.invalid.get((kind, letter.reason), 0) + 1
                self._log(letter)
        return letters

    def _internal_error(
        self,
        topic: str,
        partition: int,
        offset: int,
        index: int | None,
        value: bytes | None,
        element: Any,
        err: Exception,
    ) -> DeadLetter:
        if self._should_log("internal_error"):
            log.error(
                "internal error on %s[%d]@%d (dead-lettered as internal_error)",
                topic,
                partition,
                offset,
                exc_info=err,
            )
        return DeadLetter(
            topic,
            partition,
            offset,
            index,
            "internal_error",
            f"{type(err).__name__}: {err}"[:DETAIL_CAP],
            value,
            element,
        )

    def _should_log(self, reason: str) -> bool:
        now = self.clock()
        last, since = self._logged.get(reason, (-LOG_EVERY_S, 0))
        if now - last >= LOG_EVERY_S:
            self._logged[reason] = (now, 0)
            return True
        self._logged[reason] = (last, since + 1)
        return False

    def _log(self, letter: DeadLetter) -> None:
        if letter.reason == "internal_error":
            return  # logged with its traceback when it was made
        since = self._logged.get(letter.reason, (0.0, 0))[1]
        if self._should_log(letter.reason):
            log.warning(
                "dead-lettered %s[%d]@%d: %s: %s%s",
                letter.topic,
                letter.partition,
                letter.offset,
                letter.reason,
                letter.detail[:200],
                f" ({since} more of this reason in the last minute)" if since else "",
            )


def _index(value: bytes | None, index: int) -> int | None:
    """The element's index in a batch message; None for a single-object message (as
    decode_message)."""
    return index if value and value.lstrip()[:1] == b"[" else None


def _event_json(event: Any) -> Any:
    try:
        return event_to_json(event)
    except Exception:  # noqa: BLE001 - the letter still says what failed
        return repr(event)[:ELEMENT_CAP]
