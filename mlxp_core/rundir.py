"""Run directories: log_id allocation, layout, and atomic metadata files.

Allocation is safe for many processes at once on one (possibly network) filesystem:
`os.mkdir` of the run directory is the atomic step that guarantees uniqueness, and the
counter `<parent>/.mlxp/last_id`, updated under an `fcntl` lock, guarantees that an id is
never handed out again, even after the newest run directory has been deleted.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator, List, Tuple

import yaml

from mlxp_core import yamlwrite

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: mkdir alone still keeps ids unique
    fcntl = None  # type: ignore[assignment]

STATE_DIR = ".mlxp"
COUNTER_FILE = "last_id"
LOCK_FILE = "id.lock"
SUBDIRS = ("metadata", "metrics", "artifacts")
SCRIPT = "script.sh"  # a launcher job's rendered script, in its run directory
RUN_DIR_ENV = "MLXP_RUN_DIR"  # set by a job script: the run directory the head allocated

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


_tmp_counter = itertools.count()


def open_temp(directory: Path, name: str) -> Tuple[int, Path]:
    """A new, empty, uniquely named file next to `name` (mode 0666 minus the umask)."""
    while True:
        tmp = directory / f".{name}.{os.getpid()}.{next(_tmp_counter)}.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _CLOEXEC, 0o666), tmp
        except FileExistsError:  # left by a killed process that had our pid
            continue


def _fill(fd: int, path: Path, data: bytes) -> None:
    """Write all of `data` to the new file `path` open as `fd`, close it; remove it on failure."""
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise


def _temp_copy(path: Path, data: bytes) -> Path:
    """A temporary file next to `path` holding `data`."""
    fd, tmp = open_temp(path.parent, path.name)
    _fill(fd, tmp, data)
    return tmp


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file and `os.replace`."""
    tmp = _temp_copy(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def create_atomic(path: Path, data: bytes) -> bool:
    """Create `path` holding `data` unless it exists; True when this call created it.

    Readers see no file or the whole file: the data goes to a temporary file that is then
    hard-linked to `path` (`link`, unlike `rename`, fails when `path` exists). False means
    nothing was written: `path` exists, or this filesystem has no hard links; the caller then
    takes its locked read-modify-write path (`info_lock`).
    """
    tmp = _temp_copy(path, data)
    try:
        os.link(tmp, path)
    except OSError:  # FileExistsError, or EPERM/ENOTSUP without hard links
        return False
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    return True


def create_new(path: Path, data: bytes, mode: int = 0o666) -> None:
    """Create `path` (which must not exist) with `data`; `mode` is reduced by the umask.

    For files in a directory this process has just created and nobody reads yet (a job's
    `script.sh` before submission): one `open`, no rename. A partial file is removed.
    """
    _fill(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _CLOEXEC, mode), path, data)


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def dump_yaml(data: Any) -> str:
    return yamlwrite.dump(data)


def write_yaml_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, dump_yaml(data))


def read_yaml(path: Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_Loader)


@contextlib.contextmanager
def _locked(parent: Path) -> Iterator[Path]:
    state = parent / STATE_DIR
    state.mkdir(parents=True, exist_ok=True)
    with open(state / LOCK_FILE, "a+b") as lock:
        if fcntl is not None:
            try:
                fcntl.lockf(lock, fcntl.LOCK_EX)
            except OSError:  # a filesystem without locks: mkdir still guarantees uniqueness
                pass
        try:
            yield state
        finally:
            if fcntl is not None:
                with contextlib.suppress(OSError):
                    fcntl.lockf(lock, fcntl.LOCK_UN)


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
    with _locked(parent) as state:
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
    with _locked(parent) as state:
        path = parent / str(log_id)
        existed = path.is_dir()
        if not existed:
            path.mkdir()
        if _read_counter(state, parent) < log_id:
            write_text_atomic(state / COUNTER_FILE, f"{log_id}\n")
    return path, existed


@contextlib.contextmanager
def info_lock(run_dir: Path) -> Iterator[None]:
    """Serialise read-modify-write of `metadata/info.yaml` between the head and the job.

    The head records the scheduler's job id after submitting, possibly while the job already
    runs; the job keeps what the head wrote and the head never overwrites the job's status.
    """
    with open(run_dir / "metadata" / ".info.lock", "a+b") as lock:
        if fcntl is not None:
            with contextlib.suppress(OSError):
                fcntl.lockf(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                with contextlib.suppress(OSError):
                    fcntl.lockf(lock, fcntl.LOCK_UN)


def read_info(run_dir: Path) -> dict:
    path = run_dir / "metadata" / "info.yaml"
    try:
        data = read_yaml(path)
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


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
