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
import errno
import logging
import os
import secrets
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import yaml

from mlxp_core.record.atomic import create_atomic, locked, write_bytes_atomic
from mlxp_core.record.facts import command_line, iso, now
from mlxp_core.record.layout import ARTIFACTS, METADATA, METRICS, SWEEP_ENV, info_path
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
MLXP_DATE = "%d/%m/%Y"  # MLXP's start_date/end_date (local time)
# disk held for the job's final record while it runs; given back when the disk is full
RESERVE_NAME = ".reserve"
RESERVE_BYTES = 32 * 1024
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
Info = Dict[str, Any]
log = logging.getLogger("mlxp")
# what a head keeps of a scheduler's message in info.yaml (and prints): a rejected
# 1,500-task array must not leave 1,500 copies of a long text anywhere
MAX_MESSAGE_CHARS = 2000
# how a scheduler says a job ended (its accounting), in mlxp's words (`accounting.reason`)
END_REASONS = ("COMPLETED", "FAILED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "CANCELLED",
               "PREEMPTED")


def shorten(message: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`message` cut to `limit` characters, saying how much was cut."""
    if len(message) <= limit:
        return message
    return f"{message[:limit]}... ({len(message) - limit} more characters)"


# -- sweeps: every submission (and every local command) records one ------------------------


def new_sweep_id() -> str:
    """A sweep id: its start time and 4 random hex digits (`20261207-101502-3fa1`): sorts by
    time, unique without a shared counter (several parent log directories, several hosts)."""
    return f"{now().strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def sweep_record(sweep_id: str, command: str) -> Info:
    """The `sweep` field of info.yaml: which submission (or local command) a run is part of."""
    return {"id": sweep_id, "command": command}


_process_sweep: Dict[int, Info] = {}


def process_sweep() -> Info:
    """The sweep of the runs this process starts without a head's record.

    A head passes its sweep id to its jobs in `MLXP_SWEEP` (`layout.SWEEP_ENV`; popped, so the
    task's own children start their own); otherwise every run started by this process (a
    local `@mlxp.launch` sweep runs its points in one process) shares one new id. Made on
    first use, never at import.
    """
    pid = os.getpid()
    if pid not in _process_sweep:
        given = os.environ.pop(SWEEP_ENV, None)
        _process_sweep[pid] = sweep_record(given or new_sweep_id(), command_line())
    return dict(_process_sweep[pid])


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


def reserve_space(run_dir: Path) -> None:
    """Hold `RESERVE_BYTES` of real disk blocks in `metadata/.reserve` for the final record.

    Written (not sparse), so the blocks exist; when the disk fills up while the run runs,
    `write_job_record` deletes this file and writes the final status into the space freed.
    Nothing is reserved when the disk is already full (the run then fails at its first write).
    """
    path = run_dir / METADATA / RESERVE_NAME
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except OSError:
        return
    try:
        os.write(fd, bytes(RESERVE_BYTES))
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(path)
    finally:
        os.close(fd)


def release_reserve(run_dir: Path) -> None:
    """Give back the reserve (at the end of the run, or to write on a full disk)."""
    with contextlib.suppress(OSError):
        (run_dir / METADATA / RESERVE_NAME).unlink()


def _write_in_place(path: Path, data: bytes) -> None:
    """Overwrite `path` from its first byte and cut it to `data`'s length.

    The last resort on a full disk: rewriting bytes of existing blocks allocates nothing on
    block filesystems (ext4, xfs, tmpfs, NFS servers on them); not atomic, so used only when
    the atomic write has failed for lack of space.
    """
    fd = os.open(path, os.O_WRONLY)
    try:
        view = memoryview(data)
        offset = 0
        while offset < len(data):
            offset += os.pwrite(fd, view[offset:], offset)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


def write_job_record(run_dir: Path, info: Info) -> None:
    """Write the job's record (start, end), keeping the `submit` fields the head recorded.

    `info` is updated in place with the head's `submit` fields found in the file. On a full
    disk (ENOSPC, EDQUOT) the reserve is given back and the write retried; if that fails
    too, the record is rewritten in place of the existing file's blocks.
    """
    try:
        _write_job_record(run_dir, info)
    except OSError as exc:
        if exc.errno not in _DISK_FULL:
            raise
        release_reserve(run_dir)
        try:
            _write_job_record(run_dir, info)
        except OSError as again:
            if again.errno not in _DISK_FULL or not info_path(run_dir).is_file():
                raise
            _write_in_place(info_path(run_dir), _encode(info))
        log.debug("mlxp: %s written on a full disk", info_path(run_dir))


def _write_job_record(run_dir: Path, info: Info) -> None:
    path = info_path(run_dir)
    with info_lock(run_dir):
        data = b""
        for _ in range(2):
            exists = path.exists()
            current = read_info(run_dir) if exists else {}
            submitted = current.get("submit")
            if isinstance(submitted, dict):
                info["submit"] = {**(info.get("submit") or {}), **submitted}
            if isinstance(current.get("sweep"), dict):  # the head's sweep wins
                info["sweep"] = current["sweep"]
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
    started = now()
    info: Info = {
        "status": RUNNING,
        "log_id": log_id,
        "log_dir": str(run_dir),
        "start_time": iso(started),  # ISO 8601 with zone (MLXP: %H:%M:%S, without the date)
        "start_date": started.strftime(MLXP_DATE),
        "attempt": int(previous.get("attempt", 0)) + 1,
    }
    info.update(facts)
    # MLXP 1.0.5's Reader finds a run's files from these (`info.logger.log_id` ...)
    info["logger"] = {
        "log_id": log_id,
        "log_dir": str(run_dir),
        "metrics_dir": str(run_dir / METRICS),
        "metadata_dir": str(run_dir / METADATA),
        "artifacts_dir": str(run_dir / ARTIFACTS),
    }
    for key in ("submit", "first_start_time", "version_manager", "sweep"):
        if key in previous:
            info[key] = previous[key]
    if not isinstance(info.get("sweep"), dict):
        info["sweep"] = process_sweep()
    info.setdefault("first_start_time", previous.get("start_time", info["start_time"]))
    # earlier attempts (requeue, resume): one line each, and the requeues counted so far
    history = _attempt_history(previous)
    if history:
        info["attempts"] = history
    if isinstance(previous.get("requeues"), dict):
        info["requeues"] = dict(previous["requeues"])
    return info


_ATTEMPT_FIELDS = ("start_time", "end_time", "status", "signal", "interruption")


def _attempt_history(previous: Info) -> List[Info]:
    """`previous`'s `attempts` list, plus `previous` itself when it was an attempt that ended."""
    history = [dict(a) for a in previous.get("attempts") or [] if isinstance(a, dict)]
    if previous.get("status") in TERMINAL and "start_time" in previous:
        entry: Info = {"attempt": previous.get("attempt", len(history) + 1)}
        entry.update({k: previous[k] for k in _ATTEMPT_FIELDS if k in previous})
        job = previous.get("scheduler")
        if isinstance(job, dict) and job.get("job_id"):
            entry["job_id"] = job["job_id"]
        if isinstance(previous.get("error"), dict):
            entry["error"] = previous["error"].get("type")
        history.append(entry)
    return history


def end_record(info: Info, status: str, duration_s: float,
               error: Optional[Dict[str, str]] = None, signal_name: Optional[str] = None,
               interruption: Optional[Info] = None, ranks: Optional[List[str]] = None) -> Info:
    """Add the ending (status, end time, duration, error or signal) to a job's record.

    `interruption`: what the run did on the scheduler's walltime/preemption warning
    (reason, checkpoint, requeue; see `mlxp_core.run.active`); `ranks`: the status of each rank
    of a multi-process run (`combine_rank_ends`).
    """
    ended = now()
    info.update(status=status, end_time=iso(ended), end_date=ended.strftime(MLXP_DATE),
                duration_s=round(duration_s, 6))
    if error is not None:
        info["error"] = error
    if signal_name:
        info["signal"] = signal_name
    if interruption is not None:
        info["interruption"] = interruption
        if interruption.get("requeued"):
            counts = info.setdefault("requeues", {})
            reason = str(interruption.get("reason"))
            counts[reason] = int(counts.get(reason, 0)) + 1
    if ranks is not None:
        info["ranks"] = ranks
    return info


RANK_NO_END = "NO_END"  # a rank that recorded no end (in `ranks`)


def combine_rank_ends(world_size: int, status: str, error: Optional[Dict[str, Any]],
                      signal_name: Optional[str], others: Dict[int, Info]
                      ) -> Tuple[str, Optional[Dict[str, Any]], Optional[str], List[str]]:
    """The run's ending from rank 0's own and the other ranks' (`others[k]`: rank k's file).

    A run is COMPLETE only if every rank completed. Any interrupted rank makes it INTERRUPTED
    (the signal recorded once: rank 0's, else the first interrupted rank's); otherwise any
    failed rank makes it FAILED with the error of the rank that failed first (`error.rank`);
    a rank that recorded no end makes a completed run FAILED (`RankLost`).
    Returns (status, error, signal, the status of each rank).
    """
    ends: Dict[int, Info] = {0: {"status": status, "error": error, "signal": signal_name,
                                 "end_time": iso(now())}}
    ends.update(others)
    summary = [str(ends[k].get("status")) if k in ends else RANK_NO_END
               for k in range(world_size)]
    interrupted = [k for k in sorted(ends) if ends[k].get("status") == INTERRUPTED]
    failed = sorted((k for k in ends if ends[k].get("status") == FAILED),
                    key=lambda k: (str(ends[k].get("end_time")), k))
    missing = [k for k in range(world_size) if k not in ends]
    if interrupted:
        first = 0 if 0 in interrupted else interrupted[0]
        sig = ends[first].get("signal")
        sig = sig if first == 0 or not sig else f"{sig} (rank {first})"
        return INTERRUPTED, error if status == FAILED else None, sig, summary
    if failed:
        first = failed[0]
        err = dict(ends[first].get("error") or {"type": "RankFailed", "message": "",
                                                 "traceback": ""})
        err["rank"] = first
        return FAILED, err, None, summary
    if missing:
        ranks = ", ".join(str(k) for k in missing)
        return FAILED, {
            "type": "RankLost", "rank": missing[0],
            "message": f"rank(s) {ranks} of {world_size} recorded no end (killed without "
                       "notice, or still running when rank 0 stopped waiting: "
                       "distributed.rank_end_timeout_s); see the log.rank<k>.stderr files",
            "traceback": ""}, None, summary
    return status, error, signal_name, summary


# -- the head's writes --------------------------------------------------------------------


def submission_record(log_id: Optional[int], run_dir: Path, overrides: Any, scheduler: str,
                      script: Path, sweep: Optional[Info] = None,
                      launcher: Optional[Info] = None) -> Info:
    """The head's record of a job before it is submitted (status set by `record_submission`).

    `sweep`: the submission's `sweep_record`; `launcher`: what `mlxp rerun` needs to submit
    the run's `script.sh` again (directives, generic resources, working directory, array
    parallelism), recorded as `submit.launcher`.
    """
    info: Info = {
        "status": None,
        "log_id": log_id,
        "log_dir": str(run_dir),
        "overrides": list(overrides),
        "submit": {"scheduler": scheduler, "job_id": None, "submit_time": None,
                   "script": str(script)},
    }
    if sweep is not None:
        info["sweep"] = dict(sweep)
    if launcher is not None:
        info["submit"]["launcher"] = dict(launcher)
    return info


def record_submission(run_dir: Path, info: Info, status: str, **submit: Any) -> Info:
    """Write the head's record of a job, once, after submitting it; return what is recorded.

    See the module docstring for how a job that already started keeps its record.
    """
    info["status"] = status
    if isinstance(submit.get("error"), str):
        submit["error"] = shorten(submit["error"])
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
            if "sweep" in info:
                current["sweep"] = info["sweep"]
            info = current  # the job runs already: add to its record, keep its status
        write_bytes_atomic(path, _encode(info))
    return info


# -- an end the job could not record ------------------------------------------------------


def record_not_started(run_dir: Path, signal_name: str, recorder: str = "the head"
                       ) -> Optional[str]:
    """Record INTERRUPTED for a job cancelled before it started (its head was interrupted).

    Written only while the run is still SUBMITTED/DRY_RUN (a job that started records its own
    end); returns the status written, or None.
    """
    with info_lock(run_dir):
        info = read_info(run_dir)
        if info.get("status") not in NOT_STARTED:
            return None
        info["status"] = INTERRUPTED
        info["end_time"] = iso(now())
        info["signal"] = f"{signal_name} (cancelled before start; recorded by {recorder})"
        write_bytes_atomic(info_path(run_dir), _encode(info))
        return INTERRUPTED


def record_lost(run_dir: Path, scheduler: str, cancelled: bool, recorder: str, fact: str,
                belongs: Optional[Callable[[Info], bool]] = None,
                reason: Optional[str] = None, accounting: Optional[Info] = None
                ) -> Optional[str]:
    """Record the end of a job that ended without recording one itself; the status written.

    INTERRUPTED when the scheduler says the job was deleted (`cancelled`), else FAILED
    (`JobLost`). Nothing is written (None) when the run has recorded an end meanwhile, or
    when `belongs(info)` says the run is not that job's any more. `recorder` says who noticed
    (`the head`), `fact` what was noticed (`no longer lists job 12`). `reason`: how the
    scheduler says the job ended (one of `END_REASONS`: TIMEOUT, OUT_OF_MEMORY ...), recorded
    as `error.reason` and in the message; `accounting`: what it used (`record_accounting`).
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
        elif reason and reason not in ("FAILED", "COMPLETED"):
            info["status"] = FAILED
            info["error"] = {
                "type": "JobLost",
                "reason": reason,
                "message": f"{scheduler} {fact}: it ended {reason}, and the job recorded no "
                           f"end (recorded by {recorder}); see {run_dir / 'log.stderr'}",
                "traceback": "",
            }
        else:
            info["status"] = FAILED
            info["error"] = {
                "type": "JobLost",
                "message": f"{scheduler} {fact} and the job recorded no end (killed "
                           f"without notice, out of memory, or node failure; recorded by "
                           f"{recorder}); see {run_dir / 'log.stderr'}",
                "traceback": "",
            }
            if reason:
                info["error"]["reason"] = reason
        if accounting:
            info["accounting"] = dict(accounting)
        write_bytes_atomic(info_path(run_dir), _encode(info))
        return str(info["status"])


# -- after the fact: the scheduler's accounting, a resubmission -----------------------------


def record_accounting(run_dir: Path, accounting: Info, job_id: str) -> bool:
    """Add what the scheduler's accounting says about the run's ended job (`accounting`:
    state, reason, elapsed_s, cpu_s, max_rss_mb, req_mem_mb, time_limit_s, gpus, node ...).

    Written only while the run has ended and is still that job's (`submit.job_id`), so a
    rerun submitted meanwhile is never given its previous attempt's figures. True if written.
    """
    with info_lock(run_dir):
        info = read_info(run_dir)
        submit = info.get("submit") or {}
        if info.get("status") not in TERMINAL or str(submit.get("job_id")) != str(job_id):
            return False
        info["accounting"] = dict(accounting)
        write_bytes_atomic(info_path(run_dir), _encode(info))
        return True


# the fields of an ended attempt that a resubmission clears (its history keeps them)
_ENDING_FIELDS = ("end_time", "duration_s", "error", "signal", "interruption", "accounting",
                  "ranks")


def keep_logs(run_dir: Path, resubmission: int) -> None:
    """Before a run is submitted again: its job output moves to `log.stdout.<n>` /
    `log.stderr.<n>` (`n`: the resubmission's number), so the new job starts fresh files."""
    from mlxp_core.record.layout import STDERR, STDOUT

    for name in (STDOUT, STDERR):
        with contextlib.suppress(FileNotFoundError):
            os.replace(run_dir / name, run_dir / f"{name}.{resubmission}")


def record_resubmission(run_dir: Path, attempt_before: int, status: str,
                        resources: Optional[Info] = None, **submit: Any) -> Info:
    """The head's record of a run it has just submitted again (`mlxp rerun`); what is written.

    One write, after the submission, under the run's lock. While the run still holds the
    attempt it had (`attempt_before`): the ended attempt moves to `attempts`, its ending
    fields go, the status becomes `status` (SUBMITTED, or SUBMIT_FAILED with `error`), and
    the new submission replaces `submit` (the earlier job ids kept in
    `submit.previous_job_ids`; `resources`: the raised ones, in `submit.launcher`). If the new
    job has started meanwhile (its own record counts one more attempt), only the `submit`
    fields are added to its record: the head/job merge rule of the module docstring.
    """
    if isinstance(submit.get("error"), str):
        submit["error"] = shorten(submit["error"])
    with info_lock(run_dir):
        info = read_info(run_dir)
        old = dict(info.get("submit") or {})
        previous = [str(j) for j in old.get("previous_job_ids") or []]
        started = int(info.get("attempt") or 0) > attempt_before
        if old.get("job_id") and str(old["job_id"]) != str(submit.get("job_id")):
            previous.append(str(old["job_id"]))  # (a started job carried the old submit over)
        new = {k: v for k, v in old.items() if k not in (
            "job_id", "error", "array_task_index", "array_script", "submit_time")}
        new.update(previous_job_ids=previous,
                   resubmissions=int(old.get("resubmissions", 0)) + 1)
        if resources:
            launcher = dict(new.get("launcher") or {})
            launcher["resources"] = {**(launcher.get("resources") or {}), **resources}
            new["launcher"] = launcher
        new.update(submit)
        if new.get("submit_time") is None:
            new["submit_time"] = iso(now())
        info["submit"] = new
        if not started:
            history = _attempt_history(info)
            if history:
                info["attempts"] = history
            for key in _ENDING_FIELDS:
                info.pop(key, None)
            info["status"] = status
        write_bytes_atomic(info_path(run_dir), _encode(info))
        return info
