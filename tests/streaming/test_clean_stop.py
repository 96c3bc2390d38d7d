"""Local table stores survive a restart only after a clean stop; after a crash the changelogs rebuild them.

A crash between a table's RocksDB write and its changelog send left state that the global
view never saw: the SIGKILL test's final answer fell short of batch mode.
"""

from __future__ import annotations

from pathlib import Path

from streams.app import CLEAN_STOP_MARK, discard_stores_after_crash, mark_clean_stop


def stores_with_data(tmp_path: Path) -> Path:
    stores = tmp_path / "faust" / "worker-1"
    (stores / "v1" / "tables").mkdir(parents=True)
    (stores / "v1" / "tables" / "sli-requests-0.db").write_bytes(b"state")
    return stores


def test_stores_left_by_a_crash_are_dropped(tmp_path: Path) -> None:
    stores = stores_with_data(tmp_path)
    discard_stores_after_crash(stores)
    assert not stores.exists()


def test_stores_of_a_clean_stop_are_kept_once(tmp_path: Path) -> None:
    stores = stores_with_data(tmp_path)
    mark_clean_stop(stores)
    discard_stores_after_crash(stores)
    assert (stores / "v1" / "tables" / "sli-requests-0.db").read_bytes() == b"state"
    assert not (stores / CLEAN_STOP_MARK).exists()  # a crash of this run is noticed at the next start
    discard_stores_after_crash(stores)
    assert not stores.exists()


def test_a_first_start_and_a_memory_store_have_nothing_to_drop(tmp_path: Path) -> None:
    stores = tmp_path / "faust" / "worker-1"
    mark_clean_stop(stores)
    discard_stores_after_crash(stores)
    assert not stores.exists()
