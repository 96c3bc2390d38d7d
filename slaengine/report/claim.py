"""Who generates a month's report when several workers run the scheduler.

``MonthClaim`` is a protocol so a database or Kafka-based lock can replace the
file marker; ``FileMonthClaim`` relies on ``O_CREAT | O_EXCL`` being atomic on a
shared folder: exactly one worker creates ``.claim-YYYY-MM``.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Protocol


class MonthClaim(Protocol):
    def try_claim(self, month: date) -> bool:
        """True for exactly one caller per month (until released)."""

    def mark_done(self, month: date) -> None:
        """The month's report is generated and queued for delivery: never claim it again."""

    def release(self, month: date) -> None:
        """Generation failed: let the next tick (of any worker) try again."""


class AsyncMonthClaim(Protocol):
    """``MonthClaim`` whose answers come from the network (streams.shared_state.KafkaMonthClaim)."""

    async def try_claim(self, month: date) -> bool: ...

    async def mark_done(self, month: date) -> None: ...

    async def release(self, month: date) -> None: ...


class FileMonthClaim:
    """Marker files in the reports folder. A claim left by a crashed worker (not done and
    older than ``stale_after``) is taken over by renaming it away, which only one worker wins."""

    def __init__(
        self,
        folder: str | Path,
        clock: Callable[[], datetime],
        *,
        owner: str = "",
        stale_after: timedelta = timedelta(minutes=30),
    ) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self.owner = owner or f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.stale_after = stale_after

    def marker(self, month: date) -> Path:
        return self.folder / f".claim-{month:%Y-%m}"

    def try_claim(self, month: date) -> bool:
        path = self.marker(month)
        for _ in range(2):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if not self._take_over_stale(path):
                    return False
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self._state("claimed"), handle)
            return True
        return False

    def mark_done(self, month: date) -> None:
        path = self.marker(month)
        tmp = path.with_name(f"{path.name}.{self.owner}.tmp")
        tmp.write_text(json.dumps(self._state("done")), encoding="utf-8")
        os.replace(tmp, path)

    def release(self, month: date) -> None:
        self.marker(month).unlink(missing_ok=True)

    def state_of(self, month: date) -> dict[str, str] | None:
        try:
            return dict(json.loads(self.marker(month).read_text(encoding="utf-8")))
        except (FileNotFoundError, ValueError):
            return None

    def _state(self, state: str) -> dict[str, str]:
        return {"owner": self.owner, "state": state, "at": self.clock().isoformat()}

    def _take_over_stale(self, path: Path) -> bool:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            claimed_at = datetime.fromisoformat(data["at"])
        except FileNotFoundError:
            return True  # released meanwhile: try to create it again
        except (ValueError, KeyError, TypeError):
            return False  # being written right now, or foreign: leave it alone
        if data.get("state") == "done" or self.clock() - claimed_at < self.stale_after:
            return False
        # another worker may have renamed it first; O_EXCL decides between us
        with contextlib.suppress(FileNotFoundError):
            os.rename(path, path.with_name(f"{path.name}.stale-{uuid.uuid4().hex[:8]}"))
        return True
