"""From a Kafka message to engine updates and dead letters — no Faust, so it is unit-testable.

The agents hand every message here with its topic, partition and offset;
invalid elements come back as dead letters carrying the original bytes, the
source coordinates and a human-readable reason.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slaengine.events import (
    SOURCE_NAMES,
    ResourceEvent,
    decode_message,
    element_offset,
    kind_of_topic,
)
from slaengine.sli.engine import SliEngine


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
        return {
            "source": {"topic": self.topic, "partition": self.partition, "offset": self.offset,
                       "index": self.index},
            "reason": self.reason,
            "detail": self.detail,
            "original_base64": base64.b64encode(self.original or b"").decode("ascii"),
            "element": self.element,
        }

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":"), default=str).encode()


class Pipeline:
    def __init__(self, engine: SliEngine,
                 on_resource: Callable[[ResourceEvent, str, int], None] | None = None) -> None:
        self.engine = engine
        self.on_resource = on_resource
        self.valid: dict[str, int] = {}
        self.invalid: dict[tuple[str, str], int] = {}

    def on_message(self, topic: str, partition: int, offset: int, value: bytes | None,
                   processed_ms: int, appended_ms: int | None = None) -> list[DeadLetter]:
        kind = kind_of_topic(topic)
        source = f"{SOURCE_NAMES.get(kind, kind)}:{partition}"
        events, invalid = decode_message(kind, value, processed_ms)
        for index, event in events:
            position = element_offset(offset, index)
            self.engine.apply(event, source, position, processed_ms, appended_ms)
            if isinstance(event, ResourceEvent) and self.on_resource is not None:
                self.on_resource(event, source, position)
        if events:
            self.valid[kind] = self.valid.get(kind, 0) + len(events)
        letters = []
        for bad in invalid:
            self.invalid[(kind, bad.reason)] = self.invalid.get((kind, bad.reason), 0) + 1
            letters.append(DeadLetter(topic, partition, offset, bad.index, bad.reason, bad.detail,
                                      value, bad.element))
        return letters
