"""Read a ``ds,y`` CSV into a daily series; finer than daily is resampled (daily max or last)."""

from __future__ import annotations

import csv
import math
from datetime import UTC, datetime
from pathlib import Path

from forecasting.exceptions import ForecastInputError
from forecasting.series import DailyAggregate, DailySeries, ResourceHistory

REQUIRED_COLUMNS = ("ds", "y")


def parse_timestamp(raw: str) -> datetime:
    return datetime.fromisoformat(raw.strip())


def read_points(path: str | Path) -> list[tuple[datetime, float]]:
    """(timestamp, value) pairs; errors name the file, line and column."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip() for name in reader.fieldnames or []]
            if not header:
                raise ForecastInputError(f"{path}: empty file (expected a header ds,y)")
            reader.fieldnames = header
            missing = [c for c in REQUIRED_COLUMNS if c not in header]
            if missing:
                raise ForecastInputError(
                    f"{path}: missing column {missing[0]!r} (header has: {', '.join(header)})"
                )
            points = [parse_row(path, reader.line_num, row) for row in reader]
    except OSError as err:
        raise ForecastInputError(f"{path}: cannot read: {err.strerror}") from err
    except UnicodeDecodeError as err:
        raise ForecastInputError(f"{path}: not a UTF-8 text file") from err
    if not points:
        raise ForecastInputError(f"{path}: no data rows after the header")
    return points


def parse_row(path: str | Path, line: int, row: dict[str, str | None]) -> tuple[datetime, float]:
    raw_ds, raw_y = row.get("ds"), row.get("y")
    if raw_ds is None or raw_y is None:
        raise ForecastInputError(f"{path}:{line}: too few columns (expected ds and y)")
    try:
        ts = parse_timestamp(raw_ds)
    except ValueError as err:
        raise ForecastInputError(
            f"{path}:{line}: column ds: cannot parse {raw_ds!r} as a date or timestamp"
        ) from err
    try:
        value = float(raw_y)
    except ValueError as err:
        raise ForecastInputError(f"{path}:{line}: column y: {raw_y!r} is not a number") from err
    if not math.isfinite(value):
        raise ForecastInputError(f"{path}:{line}: column y: {raw_y!r} is not a finite number")
    if value < 0:
        raise ForecastInputError(
            f"{path}:{line}: column y: {raw_y!r} is negative (a resource size, count or "
            f"utilisation cannot be below 0)"
        )
    return ts, value


def read_csv_series(
    path: str | Path, timezone: str = "UTC", aggregate: DailyAggregate = "max"
) -> DailySeries:
    history = ResourceHistory(timezone, retention_days=None)
    for ts, value in sorted(read_points(path), key=lambda point: _sort_key(point[0])):
        history.observe("csv", ts, value)
    return history.series("csv", aggregate)


def _sort_key(ts: datetime) -> float:
    return (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).timestamp()  # naive means UTC
