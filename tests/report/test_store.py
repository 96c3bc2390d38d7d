from __future__ import annotations

from datetime import date
from pathlib import Path

from slaengine.report.store import ReportStore


def test_reports_are_listed_newest_first_and_replaced_per_month(tmp_path: Path) -> None:
    store = ReportStore(tmp_path / "reports")
    store.save(date(2026, 9, 1), b"%PDF-september")
    store.save(date(2026, 10, 1), b"%PDF-old")
    store.save(date(2026, 10, 1), b"%PDF-october-regenerated")
    (store.folder / ".claim-2026-10").write_text("{}")  # markers are not reports
    listed = store.list()
    assert [(r.month, r.size_bytes) for r in listed] == [
        (date(2026, 10, 1), len(b"%PDF-october-regenerated")),
        (date(2026, 9, 1), len(b"%PDF-september")),
    ]
    assert store.read(date(2026, 10, 1)) == b"%PDF-october-regenerated"
    assert store.read(date(2026, 8, 1)) is None
    assert not list(store.folder.glob(".tmp-*"))
