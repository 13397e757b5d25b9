"""The files through which the ranks of one multi-process run meet (rank 0 owns the record).

* `metadata/ranks/rank<k>.yaml`: how rank k > 0 ended (attempt, status, error, signal), written
  once, atomically, when its task ends. Rank 0 reads them before it writes the run's end into
  `info.yaml` (`info.combine_rank_ends`). The `attempt` field keeps an earlier attempt's files
  (a requeued job) from counting for this one.
* `<parent>/.mlxp/launches/<launch key>`: the id of the run directory rank 0 allocated, for
  ranks > 0 started without a pinned directory (a plain `torchrun main.py` or `srun python
  main.py` in a hand-written script); every rank of one launch computes the same key from its
  environment (`mlxp_core.run.ranks`). Removed by rank 0 at its end.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any, Dict, Optional

import yaml

from mlxp_core.record.atomic import write_text_atomic
from mlxp_core.record.layout import METADATA, RANKS_DIR, RENDEZVOUS_DIR, STATE_DIR
from mlxp_core.record.yamlio import dump, read_yaml

POLL_S = 0.1


def _rank_file(run_dir: Path, rank: int) -> Path:
    return run_dir / METADATA / RANKS_DIR / f"rank{rank}.yaml"


def write_rank_end(run_dir: Path, rank: int, ending: Dict[str, Any]) -> None:
    """Record how rank `rank` (> 0) ended: `{attempt, status, error?, signal?, end_time}`."""
    path = _rank_file(run_dir, rank)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, dump({"rank": rank, **ending}))


def read_rank_ends(run_dir: Path, world_size: int, attempt: int) -> Dict[int, Dict[str, Any]]:
    """The endings of ranks 1..world_size-1 recorded for `attempt` so far."""
    out: Dict[int, Dict[str, Any]] = {}
    for rank in range(1, world_size):
        path = _rank_file(run_dir, rank)
        try:
            data = read_yaml(path)
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and data.get("attempt") == attempt:
            out[rank] = data
    return out


def wait_rank_ends(run_dir: Path, world_size: int, attempt: int, timeout_s: float
                   ) -> Dict[int, Dict[str, Any]]:
    """`read_rank_ends`, polled until every rank has ended or `timeout_s` has passed."""
    deadline = time.monotonic() + timeout_s
    while True:
        ends = read_rank_ends(run_dir, world_size, attempt)
        if len(ends) == world_size - 1 or time.monotonic() >= deadline:
            return ends
        time.sleep(POLL_S)


def _rendezvous_file(parent: Path, key: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in key)
    return parent / STATE_DIR / RENDEZVOUS_DIR / safe


def publish_run(parent: Path, key: str, log_id: int) -> None:
    """Rank 0: tell the other ranks of launch `key` which run directory is theirs."""
    path = _rendezvous_file(parent, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, f"{log_id}\n")


def find_run(parent: Path, key: str, timeout_s: float, max_age_s: float = 300.0
             ) -> Optional[int]:
    """Ranks > 0: the run id rank 0 published for launch `key`, or None after `timeout_s`.

    A file older than `max_age_s` when the search starts is another launch's (one whose rank 0
    was killed before removing it, with a reused key) and is not taken.
    """
    path = _rendezvous_file(parent, key)
    oldest = time.time() - max_age_s
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(OSError, ValueError):
            if path.stat().st_mtime >= oldest:
                return int(path.read_text().strip())
        if time.monotonic() >= deadline:
            return None
        time.sleep(POLL_S)


def forget_run(parent: Path, key: str) -> None:
    with contextlib.suppress(OSError):
        _rendezvous_file(parent, key).unlink()
