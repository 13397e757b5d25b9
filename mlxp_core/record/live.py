"""The live-run lock: one process at a time writes a run directory.

A run holds `metadata/.run.lock` for its whole life: a POSIX `lockf` lock on an open file,
which the kernel releases when the process ends in any way (kill -9 included), so there is
no stale lock to clean after a crash. Next to it, `metadata/.run.owner` records who holds it
(host, pid, scheduler job id, start time) for the message a refused resume prints, and its
modification time is a heartbeat refreshed every `HEARTBEAT_S` seconds by one daemon thread
per process.

What this relies on:

* on one machine and on local filesystems, `lockf` (fcntl record locks) is exact;
* on NFS, `lockf` goes through the NFS lock manager (NLM for NFSv3, built into NFSv4): coherent
  between hosts when the lock daemon runs (the default on clusters);
* where locks are not coherent between hosts (NFS mounted with `nolock`/`local_lock`, some
  FUSE or parallel filesystems), the owner record is the fallback: a resume is refused when
  the owner is another host whose heartbeat is fresher than `STALE_AFTER_S` and whose run is
  still RUNNING. A requeued attempt of the same scheduler job is not refused (the scheduler
  has ended the previous one). A node that died less than `STALE_AFTER_S` ago therefore
  blocks a manual resume for at most that long.

POSIX locks belong to the process: a second `open`+`close` of the lock file in the same
process would drop it, which is why only this module opens it, once per run.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Set

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks
    fcntl = None  # type: ignore[assignment]

from mlxp_core.record.atomic import write_text_atomic
from mlxp_core.record.info import RUNNING, read_status
from mlxp_core.record.layout import METADATA

LOCK_FILE = ".run.lock"
OWNER_FILE = ".run.owner"
HEARTBEAT_S = 30.0
STALE_AFTER_S = 3 * HEARTBEAT_S
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class RunBusy(RuntimeError):
    """Another live process writes this run directory; the message names it."""


class RunDirectoryGone(RuntimeError):
    """The run directory was removed (or replaced) while the run ran."""


def _owner(run_dir: Path) -> Dict[str, Any]:
    try:
        data = json.loads((run_dir / METADATA / OWNER_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _heartbeat_age(run_dir: Path) -> float:
    try:
        return time.time() - (run_dir / METADATA / OWNER_FILE).stat().st_mtime
    except OSError:
        return float("inf")


def _describe(run_dir: Path, owner: Dict[str, Any]) -> str:
    host = owner.get("host", "an unknown host")
    pid = owner.get("pid", "?")
    job = f", scheduler job {owner['job_id']}" if owner.get("job_id") else ""
    since = f", since {owner['start_time']}" if owner.get("start_time") else ""
    return f"{run_dir} is in use by process {pid} on {host}{job}{since}"


# one heartbeat thread per process, started by the first run and shared by the next ones
# (an inline sweep runs hundreds of runs in one process)
_beating: Set[RunLock] = set()
_beat_lock = threading.Lock()
_beat_thread: Optional[threading.Thread] = None


def _beat_forever() -> None:
    while True:
        time.sleep(HEARTBEAT_S)
        with _beat_lock:
            held = list(_beating)
        for lock in held:
            if lock.still_ours():
                with contextlib.suppress(OSError):
                    os.utime(lock.run_dir / METADATA / OWNER_FILE)


def _start_heartbeat(lock: RunLock) -> None:
    global _beat_thread
    with _beat_lock:
        _beating.add(lock)
        if _beat_thread is None or not _beat_thread.is_alive():  # none yet, or forked
            _beat_thread = threading.Thread(target=_beat_forever, name="mlxp-heartbeat",
                                            daemon=True)
            _beat_thread.start()


@dataclass(eq=False)
class RunLock:
    """The lock of one run directory, held by this process until `release`."""

    run_dir: Path
    fd: int
    ino: tuple[int, int]

    def still_ours(self) -> bool:
        """Whether the run directory is still the one this lock was taken in (not removed,
        not replaced by a new directory of the same name)."""
        try:
            st = os.stat(self.run_dir / METADATA / LOCK_FILE)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == self.ino

    def check(self) -> None:
        """RunDirectoryGone when the directory was removed or replaced."""
        if not self.still_ours():
            raise RunDirectoryGone(
                f"the run directory {self.run_dir} was removed (or replaced) while the run "
                "ran; nothing more is written there")

    def release(self, remove_owner: bool = True) -> None:
        """Drop the lock (the process may go on); the owner record goes with it."""
        with _beat_lock:
            _beating.discard(self)
        if remove_owner and self.still_ours():
            with contextlib.suppress(OSError):
                (self.run_dir / METADATA / OWNER_FILE).unlink()
        with contextlib.suppress(OSError):
            os.close(self.fd)


def acquire(run_dir: Path, job_id: Optional[str] = None, heartbeat: bool = True) -> RunLock:
    """Take the live-run lock of `run_dir` (its `metadata/` must exist) or raise RunBusy.

    `job_id`: the scheduler job of this process, recorded and used to recognise a requeue.
    """
    meta = run_dir / METADATA
    fd = os.open(meta / LOCK_FILE, os.O_RDWR | os.O_CREAT | _CLOEXEC, 0o666)
    try:
        if fcntl is not None:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except (BlockingIOError, PermissionError):
                raise RunBusy(_describe(run_dir, _owner(run_dir))) from None
            except OSError:
                pass  # no locks on this filesystem: the owner record below is the check
        owner = _owner(run_dir)
        host = socket.gethostname()
        if owner and owner.get("pid") != os.getpid() and (
                owner.get("host") != host and _heartbeat_age(run_dir) < STALE_AFTER_S
                and not (job_id and owner.get("job_id") == job_id)
                and read_status(run_dir) == RUNNING):
            raise RunBusy(_describe(run_dir, owner) + " (its heartbeat is "
                          f"{_heartbeat_age(run_dir):.0f} s old; locks on this filesystem do "
                          "not reach that host)")
        st = os.fstat(fd)
        write_text_atomic(meta / OWNER_FILE, json.dumps({
            "host": host, "pid": os.getpid(), "job_id": job_id,
            "start_time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }) + "\n")
    except BaseException:
        os.close(fd)
        raise
    lock = RunLock(run_dir, fd, (st.st_dev, st.st_ino))
    if heartbeat:
        _start_heartbeat(lock)
    return lock

