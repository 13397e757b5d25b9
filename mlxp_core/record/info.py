"""THE owner of `metadata/info.yaml`: the status vocabulary and every write of the file.

Two processes write a run's `info.yaml`: the head that submitted the job (its `submit`
record: scheduler, job id, script) and the job itself (start, end, status, error). Others
write it only to record an end the job could not record itself (a waiting head, the OAR end
notice). The rule that keeps them from losing each other's facts, written once here:

* the head records once, after submitting: it *creates* the file if it does not exist yet
  (`atomic.create_atomic`: a hard link, which fails when the file exists). If the job has
  started meanwhile (arrays start within milliseconds), the head merges under the run's lock:
  the job's record (status, start time) is kept and the head only adds its `submit` fields;
* the job writes under the same lock and always carries over the `submit` fields it finds;
  its first write creates the file the same way, so it never replaces a head record that
  appeared after it looked;
* an end recorded for a job that did not record one (`record_lost`) is written only while
  the run has no end yet, under the lock.

The lock is `metadata/.info.lock` (POSIX `lockf`; see `atomic.locked` for shared
filesystems). Hydra's `JobStatus.COMPLETED` is Hydra's word, never written here.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Optional

import yaml

from mlxp_core.record.atomic import create_atomic, locked, write_bytes_atomic
from mlxp_core.record.facts import iso, now
from mlxp_core.record.layout import METADATA, info_path
from mlxp_core.record.yamlio import dump, read_yaml

# the statuses of a run, as written in info.yaml
SUBMITTED = "SUBMITTED"  # the head submitted the job; it has not started
SUBMIT_FAILED = "SUBMIT_FAILED"  # the scheduler refused the job
DRY_RUN = "DRY_RUN"  # the script was rendered, nothing was submitted
RUNNING = "RUNNING"
COMPLETE = "COMPLETE"
FAILED = "FAILED"
INTERRUPTED = "INTERRUPTED"

STATUSES = (SUBMITTED, SUBMIT_FAILED, DRY_RUN, RUNNING, COMPLETE, FAILED, INTERRUPTED)
# a run in one of these has ended: nothing will change its status unless it is rerun
TERMINAL = frozenset({COMPLETE, FAILED, INTERRUPTED, SUBMIT_FAILED})
# statuses the head writes before the job runs: a job's own record replaces them
NOT_STARTED = frozenset({SUBMITTED, DRY_RUN})

LOCK_NAME = ".info.lock"
Info = Dict[str, Any]


@contextlib.contextmanager
def info_lock(run_dir: Path) -> Iterator[None]:
    """Serialise read-modify-write of `info.yaml` between the head, the job and recorders."""
    with locked(run_dir / METADATA / LOCK_NAME):
        yield


def read_info(run_dir: Path) -> Info:
    """The run's `info.yaml` as a dict; `{}` when it is missing, unreadable or not a mapping."""
    try:
        data = read_yaml(info_path(run_dir))
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def read_status(run_dir: Path) -> str:
    """The run's recorded status, or `UNKNOWN` when `info.yaml` cannot be read."""
    status = read_info(run_dir).get("status")
    return str(status) if status is not None else "UNKNOWN"


def _encode(info: Info) -> bytes:
    return dump(info).encode("utf-8")


# -- the job's writes ---------------------------------------------------------------------


def write_job_record(run_dir: Path, info: Info) -> None:
    """Write the job's record (start, end), keeping the `submit` fields the head recorded.

    `info` is updated in place with the head's `submit` fields found in the file.
    """
    path = info_path(run_dir)
    with info_lock(run_dir):
        data = b""
        for _ in range(2):
            exists = path.exists()
            submitted = read_info(run_dir).get("submit") if exists else None
            if isinstance(submitted, dict):
                info["submit"] = {**(info.get("submit") or {}), **submitted}
            data = _encode(info)
            if exists:
                write_bytes_atomic(path, data)
                return
            if create_atomic(path, data):
                return
        write_bytes_atomic(path, data)  # no hard links here: the head merges under the lock


def start_record(log_id: int, run_dir: Path, previous: Info, facts: Info) -> Info:
    """The RUNNING record of a job's attempt; `previous` is an earlier attempt's (or the head's).

    Keeps the head's `submit` record and the first attempt's start time; counts attempts.
    """
    info: Info = {
        "status": RUNNING,
        "log_id": log_id,
        "log_dir": str(run_dir),
        "start_time": iso(now()),
        "attempt": int(previous.get("attempt", 0)) + 1,
    }
    info.update(facts)
    for key in ("submit", "first_start_time"):
        if key in previous:
            info[key] = previous[key]
    info.setdefault("first_start_time", previous.get("start_time", info["start_time"]))
    return info


def end_record(info: Info, status: str, duration_s: float,
               error: Optional[Dict[str, str]] = None, signal_name: Optional[str] = None) -> Info:
    """Add the ending (status, end time, duration, error or signal) to a job's record."""
    info.update(status=status, end_time=iso(now()), duration_s=round(duration_s, 6))
    if error is not None:
        info["error"] = error
    if signal_name:
        info["signal"] = signal_name
    return info


# -- the head's writes --------------------------------------------------------------------


def submission_record(log_id: Optional[int], run_dir: Path, overrides: Any, scheduler: str,
                      script: Path) -> Info:
    """The head's record of a job before it is submitted (status set by `record_submission`)."""
    return {
        "status": None,
        "log_id": log_id,
        "log_dir": str(run_dir),
        "overrides": list(overrides),
        "submit": {"scheduler": scheduler, "job_id": None, "submit_time": None,
                   "script": str(script)},
    }


def record_submission(run_dir: Path, info: Info, status: str, **submit: Any) -> Info:
    """Write the head's record of a job, once, after submitting it; return what is recorded.

    See the module docstring for how a job that already started keeps its record.
    """
    info["status"] = status
    info["submit"].update(submit)
    if info["submit"].get("submit_time") is None:
        info["submit"]["submit_time"] = iso(now())
    path = info_path(run_dir)
    if create_atomic(path, _encode(info)):
        return info
    with info_lock(run_dir):
        current = read_info(run_dir)
        if current.get("status") not in (None, *NOT_STARTED):
            current["submit"] = {**(current.get("submit") or {}), **info["submit"]}
            info = current  # the job runs already: add to its record, keep its status
        write_bytes_atomic(path, _encode(info))
    return info


# -- an end the job could not record ------------------------------------------------------


def record_lost(run_dir: Path, scheduler: str, cancelled: bool, recorder: str, fact: str,
                belongs: Optional[Callable[[Info], bool]] = None) -> Optional[str]:
    """Record the end of a job that ended without recording one itself; the status written.

    INTERRUPTED when the scheduler says the job was deleted (`cancelled`), else FAILED
    (`JobLost`). Nothing is written (None) when the run has recorded an end meanwhile, or
    when `belongs(info)` says the run is not that job's any more. `recorder` says who noticed
    (`the head`), `fact` what was noticed (`no longer lists job 12`).
    """
    with info_lock(run_dir):
        info = read_info(run_dir)
        if info.get("status") in TERMINAL or (belongs is not None and not belongs(info)):
            return None
        end = now()
        info["end_time"] = iso(end)
        try:  # as the job's own ending records it: from this attempt's start
            start = _dt.datetime.fromisoformat(str(info["start_time"]))
            info["duration_s"] = round((end - start).total_seconds(), 6)
        except (KeyError, TypeError, ValueError):
            pass  # it never started
        if cancelled:
            info["status"] = INTERRUPTED
            info["signal"] = f"SIGKILL ({scheduler}: job deleted; recorded by {recorder})"
        else:
            info["status"] = FAILED
            info["error"] = {
                "type": "JobLost",
                "message": f"{scheduler} {fact} and the job recorded no end (killed "
                           f"without notice, out of memory, or node failure; recorded by "
                           f"{recorder}); see {run_dir / 'log.stderr'}",
                "traceback": "",
            }
        write_bytes_atomic(info_path(run_dir), _encode(info))
        return str(info["status"])
