"""log_id allocation: unique under 64 concurrent processes, never reused."""

from __future__ import annotations

import multiprocessing as mp
import shutil
from pathlib import Path

from mlxp_core.record import layout as rundir


def _allocate(args: tuple[str, object]) -> int:
    parent, barrier = args
    barrier.wait()  # type: ignore[attr-defined]
    log_id, _ = rundir.allocate(Path(parent))
    return log_id


def test_64_processes_allocate_unique_ids(tmp_path: Path) -> None:
    parent = tmp_path / "logs"
    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(64)
        with ctx.Pool(64) as pool:
            ids = pool.map(_allocate, [(str(parent), barrier)] * 64)
    assert sorted(ids) == list(range(1, 65))
    assert sorted(int(p.name) for p in parent.iterdir() if p.name.isdigit()) == list(range(1, 65))


def test_ids_are_never_reused_after_deleting_the_newest(tmp_path: Path) -> None:
    parent = tmp_path / "logs"
    assert rundir.allocate(parent)[0] == 1
    assert rundir.allocate(parent)[0] == 2
    shutil.rmtree(parent / "2")
    assert rundir.allocate(parent)[0] == 3


def test_counter_is_rebuilt_from_existing_directories(tmp_path: Path) -> None:
    parent = tmp_path / "logs"
    (parent / "5").mkdir(parents=True)
    (parent / "notanid").mkdir()
    assert rundir.allocate(parent)[0] == 6


def test_adopt_existing_and_new_ids(tmp_path: Path) -> None:
    parent = tmp_path / "logs"
    path, existed = rundir.adopt(parent, 10)
    assert not existed and path == parent / "10"
    assert rundir.adopt(parent, 10) == (path, True)
    assert rundir.allocate(parent)[0] == 11
