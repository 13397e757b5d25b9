"""The run directory tree: file names, id allocation, adopting a directory.

Allocation is safe for many processes at once on one (possibly network) filesystem:
`os.mkdir` of the run directory is the atomic step that guarantees uniqueness, and the
counter `<parent>/.mlxp/last_id`, updated under a lock, guarantees that an id is never handed
out again, even after the newest run directory has been deleted.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from mlxp_core.record.atomic import locked, write_text_atomic

STATE_DIR = ".mlxp"  # <parent>/.mlxp: the id counter and its lock
COUNTER_FILE = "last_id"
LOCK_FILE = "id.lock"
SUBDIRS = ("metadata", "metrics", "artifacts")
METADATA = "metadata"
INFO_FILE = "info.yaml"
CONFIG_FILE = "config.yaml"
SETTINGS_FILE = "mlxp.yaml"
SCRIPT = "script.sh"  # a launcher job's rendered script, in its run directory
STDOUT = "log.stdout"
STDERR = "log.stderr"
RUN_DIR_ENV = "MLXP_RUN_DIR"  # set by a job script: the run directory the head allocated
ARRAY_DIR = ".arrays"  # <parent>/.arrays: array scripts and their run lists
RUN_LIST_SUFFIX = ".runs.json"
SWEEPS_DIR = ".sweeps"  # <parent>/.sweeps: Hydra's multirun.yaml of each sweep


def info_path(run_dir: Path) -> Path:
    """`<run dir>/metadata/info.yaml`."""
    return run_dir / METADATA / INFO_FILE


def metadata_file(run_dir: Path, name: str) -> Path:
    return run_dir / METADATA / name


def _locked_state(parent: Path) -> Tuple[Path, Any]:
    state = parent / STATE_DIR
    state.mkdir(parents=True, exist_ok=True)
    return state, locked(state / LOCK_FILE)


def _largest_numeric_dir(parent: Path) -> int:
    best = 0
    with os.scandir(parent) as entries:
        for entry in entries:
            if entry.name.isdigit() and entry.is_dir():
                best = max(best, int(entry.name))
    return best


def _read_counter(state: Path, parent: Path) -> int:
    try:
        return int((state / COUNTER_FILE).read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        return _largest_numeric_dir(parent)


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
