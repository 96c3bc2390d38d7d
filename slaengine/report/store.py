"""The folder of generated reports: one PDF per month, written atomically and durably."""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

_NAME = re.compile(r"sla-report-(\d{4})-(\d{2})\.pdf")


@dataclass(frozen=True)
class StoredReport:
    month: date
    path: Path
    size_bytes: int
    created_at: datetime

    def to_json(self) -> dict[str, object]:
        return {
            "month": f"{self.month:%Y-%m}",
            "file": self.path.name,
            "size_bytes": self.size_bytes,
            "created_at": self.created_at.isoformat(),
        }


class ReportStore:
    """``<folder>/sla-report-YYYY-MM.pdf``; a newer report of a month replaces the older one."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def path_for(self, month: date) -> Path:
        return self.folder / f"sla-report-{month:%Y-%m}.pdf"

    def save(self, month: date, pdf: bytes) -> Path:
        """Write via a temporary file, fsync and rename, so readers never see half a PDF and
        a crash never leaves an empty one."""
        target = self.path_for(month)
        write_durably(target, pdf)
        return target

    def read(self, month: date) -> bytes | None:
        try:
            return self.path_for(month).read_bytes()
        except FileNotFoundError:
            return None

    def list(self) -> list[StoredReport]:
        """Generated reports, newest month first."""
        found = []
        for path in self.folder.iterdir():
            match = _NAME.fullmatch(path.name)
            if not match:
                continue
            stat = path.stat()
            found.append(
                StoredReport(
                    date(int(match.group(1)), int(match.group(2)), 1),
                    path,
                    stat.st_size,
                    datetime.fromtimestamp(stat.st_mtime, UTC),
                )
            )
        return sorted(found, key=lambda report: report.month, reverse=True)


def write_durably(path: Path, content: bytes) -> None:
    """Write ``content`` to a temporary file, fsync it, rename it over ``path`` and fsync the
    folder: after a crash or power loss ``path`` holds either the old or the new content."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with tmp.open("wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
