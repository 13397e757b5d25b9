"""What the scheduler says about a sweep's runs, asked cheaply (`mlxp status`, `cancel`, `rerun`).

One refresh makes, per scheduler that has runs not ended:

* ONE listing call for every job of the user (`squeue`, `qstat`, `oarstat`, `bjobs`,
  `showq`): never one call per job, so a refresh over 10,000 runs costs the controller what
  one `squeue` costs;
* at most ONE accounting call (`sacct -j a,b,c`, `qacct -b <since>`, `oarstat -f -j a -j b`),
  for the jobs that left the listing without their run recording an end, and for ended runs
  that have no `accounting` yet. Answers are kept in `<parent>/.mlxp/scheduler_cache.json`,
  and written into the run's `info.yaml` (`accounting`: elapsed, CPU time, max RSS,
  requested memory and time, GPUs, the scheduler's state and reason), so a job is never
  asked about again.

A job that left the queue without recording its end is recorded here, through
`record.info.record_lost`: FAILED with the scheduler's reason (TIMEOUT, OUT_OF_MEMORY,
NODE_FAIL, PREEMPTED) or INTERRUPTED when it was cancelled. The rule that decides, once:

* the listing answered and does not list the job, or lists it as ended;
* the run, read again under its lock, still records no end and is still that job's;
* the scheduler's accounting (or its listing of ended jobs) gives the reason; a scheduler
  without accounting (or with it disabled) cannot: the run is recorded FAILED (`JobLost`) as
  a waiting head records it. A scheduler whose accounting has not caught up yet (Grid
  Engine writes it a few seconds after the end) is asked again at the next refresh.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from mlxp_core.record import info as run_info
from mlxp_core.record.atomic import write_text_atomic
from mlxp_core.record.layout import SCHEDULER_CACHE, STATE_DIR
from mlxp_core.schedulers import SCHEDULERS, Scheduler
from mlxp_core.schedulers.commands import (
    ENDED,
    JobState,
    accounting,
    base_id,
    list_jobs,
)

log = logging.getLogger("mlxp")
RECORDER = "mlxp status"
LIVE = (run_info.SUBMITTED, run_info.RUNNING)
ENDED_RUN = (run_info.COMPLETE, run_info.FAILED, run_info.INTERRUPTED)
# an ended run the accounting does not know after this long is not asked about again
FORGET_AFTER_S = 600.0
# accounting found disabled is not asked again for this long
DISABLED_FOR_S = 86400.0
CACHE_KEEP_S = 30 * 86400.0

# the Reader keys a RunView is made of
KEYS = ("log_id", "log_dir", "info.status", "info.sweep.id", "info.sweep.command",
        "info.submit.scheduler", "info.submit.job_id", "info.submit.array_task_index",
        "info.submit.submit_time", "info.scheduler.job_id", "info.end_time",
        "info.start_time", "info.accounting.state", "info.accounting.reason",
        "info.error.type", "info.error.reason", "info.error.message", "info.signal",
        "info.overrides", "info.hostname", "info.attempt")


@dataclass
class RunView:
    """One run as the Reader indexed it (the fields operating a sweep needs)."""

    log_id: int
    log_dir: str
    status: str
    sweep: Optional[str] = None
    sweep_command: Optional[str] = None
    scheduler: Optional[str] = None
    job_id: Optional[str] = None
    task: Optional[str] = None
    own_id: Optional[str] = None  # the running attempt's own job id (scheduler.job_id)
    submit_time: Optional[str] = None
    start_time: Optional[str] = None
    end_time: Optional[str] = None
    acct_state: Optional[str] = None
    reason: Optional[str] = None
    error: Optional[str] = None
    signal: Optional[str] = None
    overrides: List[str] = field(default_factory=list)
    host: Optional[str] = None
    attempt: Optional[int] = None

    @property
    def run_dir(self) -> Path:
        return Path(self.log_dir)

    @property
    def key(self) -> Tuple[str, Optional[str]]:
        return (base_id(str(self.job_id)), self.task)


def views(columns: Dict[str, List[Any]]) -> List[RunView]:
    """RunViews from `Reader.select(KEYS, query)` (one pass over the columns)."""
    n = len(columns["log_id"])
    empty: List[Any] = [None] * n
    cols = [columns.get(key, empty) for key in KEYS]
    out = []
    for (log_id, log_dir, status, sweep, sweep_command, scheduler, job, task, submit_time,
         own, end_time, start_time, acct_state, acct_reason, error_type, error_reason,
         message, signal, overrides, host, attempt) in zip(*cols):
        out.append(RunView(
            log_id=int(log_id), log_dir=log_dir, status=str(status or "UNKNOWN"), sweep=sweep,
            sweep_command=sweep_command, scheduler=scheduler,
            job_id=None if job is None else str(job),
            task=None if task is None else str(task),
            own_id=None if own is None else str(own), submit_time=submit_time,
            start_time=start_time, end_time=end_time, acct_state=acct_state,
            reason=error_reason or acct_reason,
            error=f"{error_type}: {message}" if error_type else None, signal=signal,
            overrides=list(overrides or ()), host=host, attempt=attempt))
    return out


@dataclass
class Refresh:
    """What one refresh learnt: live jobs by run, what it recorded, the calls it made."""

    live: Dict[int, JobState] = field(default_factory=dict)  # log_id -> queued/running job
    ended: Dict[int, JobState] = field(default_factory=dict)  # log_id -> how its job ended
    recorded: Dict[int, str] = field(default_factory=dict)  # log_id -> status written now
    accounted: int = 0  # runs given their accounting now
    calls: Dict[str, int] = field(default_factory=dict)  # "list" / "acct" -> count
    unavailable: Dict[str, str] = field(default_factory=dict)  # scheduler -> why
    # scheduler -> every job its listing showed (for callers that look further)
    listings: Dict[str, List[JobState]] = field(default_factory=dict)
    _indexes: Dict[str, Any] = field(default_factory=dict, repr=False)

    def listed_live(self, scheduler: str, run: RunView) -> Optional[JobState]:
        """The queued or running job of `run` in that scheduler's listing, if any."""
        states = self.listings.get(scheduler)
        if states is None or not run.job_id:
            return None
        if scheduler not in self._indexes:
            self._indexes[scheduler] = _index(states)
        found = _find(run, *self._indexes[scheduler])
        return found if found is not None and found.phase != ENDED else None


# -- the cache of ended jobs ----------------------------------------------------------------


class Cache:
    """`<parent>/.mlxp/scheduler_cache.json`: `{"jobs": {"<sched>:<job>:<task>": state},
    "disabled": {"<sched>": time}}`. Written atomically; a lost cache only costs a call."""

    def __init__(self, parent: Path) -> None:
        self.path = parent / STATE_DIR / SCHEDULER_CACHE
        self.changed = False
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            data = {}
        self.jobs: Dict[str, Dict[str, Any]] = data.get("jobs") or {}
        self.disabled: Dict[str, float] = data.get("disabled") or {}

    @staticmethod
    def key(scheduler: str, job: Tuple[str, Optional[str]]) -> str:
        return f"{scheduler}:{job[0]}:{job[1] if job[1] is not None else ''}"

    def get(self, scheduler: str, job: Tuple[str, Optional[str]]) -> Optional[Dict[str, Any]]:
        return self.jobs.get(self.key(scheduler, job))

    def put(self, scheduler: str, state: JobState) -> None:
        self.jobs[self.key(scheduler, state.key)] = {**state.to_dict(), "cached": time.time()}
        self.changed = True

    def forget(self, scheduler: str, job: Tuple[str, Optional[str]]) -> None:
        self.jobs[self.key(scheduler, job)] = {"unknown": True, "cached": time.time()}
        self.changed = True

    def missing_for_long(self, scheduler: str, job: Tuple[str, Optional[str]]) -> bool:
        """Whether a job gone from the listing has been unknown to the accounting for more
        than FORGET_AFTER_S (then it is recorded lost without a reason); notes it if new."""
        key = "missing:" + self.key(scheduler, job)
        since = self.jobs.get(key, {}).get("cached")
        if since is None:
            self.jobs[key] = {"unknown": True, "cached": time.time()}
            self.changed = True
            return False
        return time.time() - since > FORGET_AFTER_S

    def accounting_off(self, scheduler: str) -> bool:
        return time.time() - self.disabled.get(scheduler, 0.0) < DISABLED_FOR_S

    def save(self) -> None:
        if not self.changed:
            return
        old = time.time() - CACHE_KEEP_S
        jobs = {k: v for k, v in self.jobs.items() if v.get("cached", 0) > old}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.path, json.dumps({"jobs": jobs, "disabled": self.disabled}))
        except OSError as exc:
            log.info("mlxp: cannot write %s: %s", self.path, exc)


def _state(data: Dict[str, Any]) -> JobState:
    return JobState(**{k: v for k, v in data.items() if k in JobState.__dataclass_fields__})


def accounting_record(state: JobState) -> Dict[str, Any]:
    """What `info.yaml` keeps of an ended job (`accounting`; Reader columns
    `info.accounting.*`)."""
    out: Dict[str, Any] = {"job": state.own_id, "state": state.state,
                           "reason": state.reason}
    for name in ("exit_code", "elapsed_s", "cpu_s", "max_rss_mb", "req_mem_mb",
                 "time_limit_s", "cpus", "gpus", "node"):
        value = getattr(state, name)
        if value is not None:
            out[name] = value
    return {k: v for k, v in out.items() if v is not None}


# -- one refresh ----------------------------------------------------------------------------


def _index(states: Sequence[JobState]) -> Tuple[Dict[Tuple[str, Optional[str]], JobState],
                                                 Dict[str, JobState]]:
    by_key: Dict[Tuple[str, Optional[str]], JobState] = {}
    by_own: Dict[str, JobState] = {}
    for state in states:
        by_key.setdefault(state.key, state)
        by_own.setdefault(state.own_id, state)
    return by_key, by_own


def _find(run: RunView, by_key: Dict[Tuple[str, Optional[str]], JobState],
          by_own: Dict[str, JobState]) -> Optional[JobState]:
    found = by_key.get(run.key)
    if found is None and run.task is None and run.job_id is not None:
        found = by_own.get(base_id(run.job_id)) or by_own.get(run.job_id)
    return found


def _epoch(iso_time: Optional[str]) -> Optional[float]:
    import datetime as _dt

    try:
        return _dt.datetime.fromisoformat(str(iso_time)).timestamp()
    except (TypeError, ValueError):
        return None


def refresh(parent: Path, runs: Sequence[RunView], accounting_for_ended: bool = True,
            always_list: bool = False) -> Refresh:
    """Ask each scheduler about `runs` (see the module docstring); record what it says.

    `always_list`: make the listing call even when no run is live (`mlxp rerun` checks that
    none of the runs it resubmits is queued or running again, e.g. requeued).
    """
    out = Refresh()
    cache = Cache(parent)
    by_scheduler: Dict[str, List[RunView]] = {}
    for run in runs:
        if run.scheduler in SCHEDULERS and run.job_id and run.status in (*LIVE, *ENDED_RUN):
            by_scheduler.setdefault(str(run.scheduler), []).append(run)
    for name, group in by_scheduler.items():
        _refresh_one(SCHEDULERS[name], group, cache, out, accounting_for_ended, always_list)
    cache.save()
    return out


def _refresh_one(scheduler: Scheduler, runs: List[RunView], cache: Cache, out: Refresh,
                 accounting_for_ended: bool, always_list: bool = False) -> None:
    name = scheduler.name
    live = [r for r in runs if r.status in LIVE]
    ended = [r for r in runs if r.status in ENDED_RUN and r.acct_state is None] \
        if accounting_for_ended else []
    answers: Dict[int, JobState] = {}
    uncached: List[RunView] = []
    for run in ended:
        cached = cache.get(name, run.key)
        if cached is None:
            uncached.append(run)
        elif not cached.get("unknown"):
            answers[run.log_id] = _state(cached)
    gone: List[RunView] = []
    listed_ok = False
    if live or uncached or always_list:  # ONE call; it also shows ended jobs (squeue -t all)
        states = list_jobs(scheduler)
        out.calls["list"] = out.calls.get("list", 0) + 1
        if states is None:
            out.unavailable[name] = (f"`{scheduler.list_command[0]}` did not answer"
                                     if scheduler.list_command else "no listing command")
        else:
            listed_ok = True
            out.listings[name] = states
            by_key, by_own = _index(states)
            for run in live:
                found = _find(run, by_key, by_own)
                if found is not None and found.phase != ENDED:
                    out.live[run.log_id] = found
                    continue
                gone.append(run)
                if found is not None:
                    answers[run.log_id] = found
                    cache.put(name, found)
            for run in uncached:
                found = _find(run, by_key, by_own)
                if found is not None and found.phase == ENDED:
                    answers[run.log_id] = found
                    cache.put(name, found)
    # what is still unknown: the cache, then ONE accounting call
    asked: List[RunView] = []
    for run in [*gone, *uncached]:
        if run.log_id in answers:
            continue
        cached = cache.get(name, run.key)
        if cached is not None:
            if not cached.get("unknown"):
                answers[run.log_id] = _state(cached)
            continue
        asked.append(run)
    acct_known = bool(scheduler.acct_command) and not cache.accounting_off(name)
    if asked and acct_known:
        ids = sorted({base_id(r.own_id or r.job_id or "") if scheduler.acct_id_option
                      and r.task is not None else base_id(r.job_id or "") for r in asked})
        since = min((t for t in (_epoch(r.submit_time) for r in asked) if t), default=None)
        found_states = accounting(scheduler, ids, since=since)
        out.calls["acct"] = out.calls.get("acct", 0) + 1
        if found_states is None:
            from mlxp_core.schedulers import commands

            if name in commands._acct_off:
                cache.disabled[name] = time.time()
                cache.changed = True
            acct_known = False
        else:
            by_key, by_own = _index(found_states)
            for run in asked:
                found = _find(run, by_key, by_own)
                if found is None and scheduler.acct_id_option and run.own_id:
                    found = by_own.get(run.own_id)
                if found is not None:
                    answers[run.log_id] = found
                    cache.put(name, found)
                elif run.status in ENDED_RUN:
                    ended_at = _epoch(run.end_time)
                    if ended_at is None or time.time() - ended_at > FORGET_AFTER_S:
                        cache.forget(name, run.key)
    elif asked and not acct_known:
        for run in asked:
            if run.status in ENDED_RUN:
                cache.forget(name, run.key)  # nothing will ever tell more
    for run in gone:
        answer = answers.get(run.log_id)
        if not listed_ok:
            continue
        if answer is None and acct_known and not cache.missing_for_long(name, run.key):
            continue  # the accounting has not caught up yet: ask again next time
        what = f"no longer lists job {answer.own_id if answer else run.job_id}"
        status = run_info.record_lost(
            run.run_dir, name, cancelled=bool(answer and answer.reason == "CANCELLED"),
            recorder=RECORDER, fact=what, belongs=_same_job(run),
            reason=answer.reason if answer else None,
            accounting=accounting_record(answer) if answer else None)
        if status is not None:
            out.recorded[run.log_id] = status
            run.status = status
        if answer is not None:
            out.ended[run.log_id] = answer
    for run in ended:
        answer = answers.get(run.log_id)
        if answer is None:
            continue
        out.ended[run.log_id] = answer
        if run_info.record_accounting(run.run_dir, accounting_record(answer), str(run.job_id)):
            out.accounted += 1
            run.acct_state = answer.state


def _same_job(run: RunView) -> Any:
    def belongs(info: Dict[str, Any]) -> bool:
        submit = info.get("submit") or {}
        return str(submit.get("job_id")) == str(run.job_id)
    return belongs
