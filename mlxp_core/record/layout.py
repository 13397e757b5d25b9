"""The run directory tree: file names, id allocation, adopting a directory.

Allocation is safe for many processes at once on one (possibly network) filesystem:
`os.mkdir` of the run directory is the atomic step that guarantees uniqueness, and the
counter `<parent>/.mlxp/last_id`, updated under a lock, guarantees that an id is never handed
out again, even after the newest run directory has been deleted.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from mlxp_core.record.atomic import locked, write_text_atomic

STATE_DIR = ".mlxp"  # <parent>/.mlxp: the id counter and its lock
COUNTER_FILE = "last_id"
LOCK_FILE = "id.lock"
METADATA = "metadata"
METRICS = "metrics"
ARTIFACTS = "artifacts"
SUBDIRS = (METADATA, METRICS, ARTIFACTS)
INFO_FILE = "info.yaml"
CONFIG_FILE = "config.yaml"
SETTINGS_FILE = "mlxp.yaml"
SCRIPT = "script.sh"  # a launcher job's rendered script, in its run directory
STDOUT = "log.stdout"
STDERR = "log.stderr"
RUN_DIR_ENV = "MLXP_RUN_DIR"  # set by a job script: the run directory the head allocated
SWEEP_ENV = "MLXP_SWEEP"  # set by a head for its jobs: the sweep id they record
SCHEDULER_CACHE = "scheduler_cache.json"  # <parent>/.mlxp/: ended jobs' accounting, asked once
ARRAY_DIR = ".arrays"  # <parent>/.arrays: array scripts and their run lists
RUN_LIST_SUFFIX = ".runs.json"
SWEEPS_DIR = ".sweeps"  # <parent>/.sweeps: Hydra's multirun.yaml of each sweep
MAX_LOG_ID = 2**31 - 1  # run ids: 1..MAX_LOG_ID (32-bit signed, as tools store them)
log = logging.getLogger("mlxp")
# multi-process runs (mlxp_core.record.ranks): how ranks > 0 report their end to rank 0
RANKS_DIR = "ranks"  # <run>/metadata/ranks/rank<k>.yaml
RENDEZVOUS_DIR = "launches"  # <parent>/.mlxp/launches/<launch key>: rank 0's run id
REQUEUE_MARKER = ".requeue"  # <run>/metadata/.requeue: the job script exits 99 (rerun)
# walltime warnings (mlxp_core.run.walltime), exported by the job script
WARNING_ENV = "MLXP_SIGNAL_BEFORE_S"  # the scheduler warns N seconds before the walltime
WALLTIME_ENV = "MLXP_WALLTIME_S"  # the walltime requested (`time`), when known
MAX_REQUEUES_ENV = "MLXP_MAX_REQUEUES"  # timeouts that may requeue the job


def rank_stream(rank: int, stream: str) -> str:
    """`log.rank<k>.stdout` / `log.rank<k>.stderr`: one rank's output in the run directory."""
    return f"log.rank{rank}.{stream}"


def info_path(run_dir: Path) -> Path:
    """`<run dir>/metadata/info.yaml`."""
    return run_dir / METADATA / INFO_FILE


def metadata_file(run_dir: Path, name: str) -> Path:
    return run_dir / METADATA / name


def _locked_state(parent: Path) -> Tuple[Path, Any]:
    state = parent / STATE_DIR
    state.mkdir(parents=True, exist_ok=True)
    return state, locked(state / LOCK_FILE)


def is_run_name(name: str) -> bool:
    """Whether `name` is a run directory's name: a run id `1..MAX_LOG_ID`, no leading zero."""
    return (name.isascii() and name.isdigit() and name[0] != "0"
            and len(name) <= len(str(MAX_LOG_ID)) and int(name) <= MAX_LOG_ID)


def _largest_numeric_dir(parent: Path) -> int:
    best = 0
    with os.scandir(parent) as entries:
        for entry in entries:
            if is_run_name(entry.name) and entry.is_dir():
                best = max(best, int(entry.name))
    return best


def _read_counter(state: Path, parent: Path) -> int:
    """The last id handed out; a missing, unreadable or out-of-range counter (`-10`, `1e23`,
    a huge number) is recovered from the largest run directory, with a warning."""
    path = state / COUNTER_FILE
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return _largest_numeric_dir(parent)
    if not text:
        return _largest_numeric_dir(parent)
    try:
        value = int(text)
    except ValueError:
        value = -1
    if 0 <= value <= MAX_LOG_ID:
        return value
    recovered = _largest_numeric_dir(parent)
    log.warning("mlxp: %s holds %r, not a run id (0..%d); continuing from the largest run "
                "directory, %d", path, text[:40], MAX_LOG_ID, recovered)
    return recovered


def check_log_id(log_id: int) -> int:
    """`log_id` if it is a valid run id, else ValueError saying the range."""
    if isinstance(log_id, bool) or not isinstance(log_id, int) or not 1 <= log_id <= MAX_LOG_ID:
        raise ValueError(f"run id {log_id!r} is out of range: run ids are integers from 1 to "
                         f"{MAX_LOG_ID}")
    return log_id


def allocate(parent: Path) -> Tuple[int, Path]:
    """Create a new run directory `<parent>/<id>` with a never-used id; return (id, path)."""
    return allocate_many(parent, 1)[0]


def allocate_many(parent: Path, count: int) -> List[Tuple[int, Path]]:
    """Create `count` new run directories under one lock (a launcher's whole batch)."""
    parent.mkdir(parents=True, exist_ok=True)
    out: List[Tuple[int, Path]] = []
    state, lock = _locked_state(parent)
    with lock:
        log_id = _read_counter(state, parent)
        while len(out) < count:
            log_id += 1
            if log_id > MAX_LOG_ID:
                raise OSError(f"no run id left under {parent}: ids go up to {MAX_LOG_ID}")
            path = parent / str(log_id)
            try:
                path.mkdir()
            except FileExistsError:
                continue
            out.append((log_id, path))
        write_text_atomic(state / COUNTER_FILE, f"{log_id}\n")
    return out


def adopt(parent: Path, log_id: int) -> Tuple[Path, bool]:
    """Use `<parent>/<log_id>` (resume, or a directory pre-allocated by a launcher).

    Returns the path and whether it already existed. The counter is raised so that the
    allocator never hands this id out again.
    """
    check_log_id(log_id)
    parent.mkdir(parents=True, exist_ok=True)
    state, lock = _locked_state(parent)
    with lock:
        path = parent / str(log_id)
        existed = path.is_dir()
        if not existed:
            path.mkdir()
        if _read_counter(state, parent) < log_id:
            write_text_atomic(state / COUNTER_FILE, f"{log_id}\n")
    return path, existed


def make_layout(run_dir: Path) -> None:
    for name in SUBDIRS:
        (run_dir / name).mkdir(exist_ok=True)


def check_writable(parent: Path) -> None:
    """Raise PermissionError/OSError when run directories cannot be created under `parent`."""
    parent.mkdir(parents=True, exist_ok=True)
    state = parent / STATE_DIR
    state.mkdir(exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".probe.", dir=state)
    os.close(fd)
    os.unlink(tmp)


# -- an array's run list: <parent>/.arrays/<first>-<last>.runs.json ---------------------------


def write_run_list(path: Path, first: int, run_dirs: Sequence[Path]) -> None:
    """`{"first": <first task index>, "runs": [<run dir>, ...]}`: task k runs runs[k - first]."""
    write_text_atomic(path, json.dumps(
        {"first": first, "runs": [str(d) for d in run_dirs]}, indent=0) + "\n")


def run_of_task(run_list: Dict[str, Any], index: int) -> Optional[Path]:
    """The run directory of task `index` in a run list, or None."""
    runs = run_list.get("runs")
    first = run_list.get("first")
    if not isinstance(runs, list) or not isinstance(first, int) or not 0 <= index - first < len(
            runs):
        return None
    return Path(runs[index - first])
