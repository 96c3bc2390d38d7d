"""Silences and maintenance windows: matchers plus a time window during which alerts are muted.

Config silences (routing.yaml ``silences:``) are read-only; API silences are persisted to a JSON
file under the data dir, written atomically so a crash never leaves half a file. A silenced
alert is still tracked by its group, so it notifies once the silence expires if still firing.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from slaengine.errors import SlaEngineError
from slaengine.router.config import SilenceConfig
from slaengine.router.matchers import InvalidMatcherError, Matcher, match_all, parse_matchers

SilenceState = Literal["pending", "active", "expired"]
EXPIRED_RETENTION = timedelta(days=5)


class InvalidSilenceError(SlaEngineError, ValueError):
    """A silence request is malformed (matchers, window or author): fix the request."""


class SilenceNotFoundError(SlaEngineError, KeyError):
    """No silence has this id (it may have been garbage-collected after expiring)."""


@dataclass(frozen=True)
class Silence:
    silence_id: str
    matchers: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    source: Literal["api", "config"] = "api"

    def parsed_matchers(self) -> tuple[Matcher, ...]:
        return parse_matchers(self.matchers)

    def state(self, now: datetime) -> SilenceState:
        if now < self.starts_at:
            return "pending"
        return "active" if now < self.ends_at else "expired"

    def mutes(self, labels: Mapping[str, str], now: datetime) -> bool:
        return self.state(now) == "active" and match_all(self.parsed_matchers(), labels)

    def to_json(self, now: datetime | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.silence_id,
            "matchers": list(self.matchers),
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "created_by": self.created_by,
            "comment": self.comment,
            "source": self.source,
        }
        if now is not None:
            data["state"] = self.state(now)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Silence:
        return cls(
            data["id"],
            tuple(data["matchers"]),
            datetime.fromisoformat(data["starts_at"]),
            datetime.fromisoformat(data["ends_at"]),
            data["created_by"],
            data.get("comment", ""),
            data.get("source", "api"),
        )


def validate_silence(
    matchers: Sequence[str], starts_at: datetime, ends_at: datetime, created_by: str, now: datetime
) -> None:
    if not matchers:
        raise InvalidSilenceError("a silence needs at least one matcher")
    try:
        parsed = parse_matchers(matchers)
    except InvalidMatcherError as err:
        raise InvalidSilenceError(str(err)) from err
    if all(matcher.matches({}) for matcher in parsed):
        # like Alertmanager: a silence must not match every alert by accident
        raise InvalidSilenceError("at least one matcher must not match the empty string")
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise InvalidSilenceError("starts_at and ends_at need a timezone")
    if ends_at <= starts_at:
        raise InvalidSilenceError("ends_at must be after starts_at")
    if ends_at <= now:
        raise InvalidSilenceError("ends_at is in the past")
    if not created_by.strip():
        raise InvalidSilenceError("created_by must name who created the silence")


def new_silence(
    matchers: Sequence[str],
    starts_at: datetime,
    ends_at: datetime,
    created_by: str,
    comment: str,
    now: datetime,
) -> Silence:
    """A validated silence with a fresh id (what every silence store's ``create`` stores)."""
    validate_silence(matchers, starts_at, ends_at, created_by, now)
    return Silence(str(uuid.uuid4()), tuple(matchers), starts_at, ends_at, created_by, comment)


class SilenceStore:
    """All silences; ``path=None`` keeps API silences in memory only (tests, dry runs)."""

    def __init__(self, path: Path | None = None, configured: Iterable[SilenceConfig] = ()) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._configured = [
            Silence(
                f"config-{index}",
                tuple(item.matchers),
                item.starts_at,
                item.ends_at,
                item.created_by,
                item.comment,
                "config",
            )
            for index, item in enumerate(configured)
        ]
        self._api: dict[str, Silence] = {}
        if path is not None and path.exists():
            try:
                items = json.loads(path.read_text(encoding="utf-8"))
                self._api = {item["id"]: Silence.from_json(item) for item in items}
            except (OSError, ValueError, KeyError, TypeError) as err:
                raise SlaEngineError(f"cannot read silences file {path}: {err}") from err

    def create(
        self,
        matchers: Sequence[str],
        starts_at: datetime,
        ends_at: datetime,
        created_by: str,
        comment: str,
        now: datetime,
    ) -> Silence:
        silence = new_silence(matchers, starts_at, ends_at, created_by, comment, now)
        with self._lock:
            self._api[silence.silence_id] = silence
            self._save()
        return silence

    def expire(self, silence_id: str, now: datetime) -> Silence:
        with self._lock:
            if silence_id.startswith("config-") and any(
                s.silence_id == silence_id for s in self._configured
            ):
                raise InvalidSilenceError("this silence is defined in routing.yaml; edit the file")
            silence = self._api.get(silence_id)
            if silence is None:
                raise SilenceNotFoundError(f"no silence with id {silence_id!r}")
            if silence.state(now) != "expired":
                # a pending silence expires before it starts; keep the window well-formed
                silence = replace(silence, ends_at=now, starts_at=min(silence.starts_at, now))
                self._api[silence_id] = silence
                self._save()
            return silence

    def listing(self, now: datetime, include_expired: bool = False) -> list[Silence]:
        with self._lock:
            everything = [*self._configured, *self._api.values()]
        return sorted(
            (s for s in everything if include_expired or s.state(now) != "expired"),
            key=lambda s: (s.starts_at, s.silence_id),
        )

    def muting(self, labels: Mapping[str, str], now: datetime) -> list[Silence]:
        """The active silences that mute an alert with ``labels``."""
        with self._lock:
            everything = [*self._configured, *self._api.values()]
        return [silence for silence in everything if silence.mutes(labels, now)]

    def collect_garbage(self, now: datetime) -> int:
        with self._lock:
            stale = [key for key, s in self._api.items() if s.ends_at + EXPIRED_RETENTION < now]
            for key in stale:
                del self._api[key]
            if stale:
                self._save()
        return len(stale)

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(self.path.suffix + ".tmp")
        with temporary.open("w", encoding="utf-8") as handle:
            json.dump([s.to_json() for s in self._api.values()], handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)
