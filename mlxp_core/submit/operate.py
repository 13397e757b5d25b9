"""`mlxp cancel` and `mlxp rerun`: act on the runs of a sweep through its scheduler.

Cancel: one listing call (which runs are still queued or running), then ONE cancel command
per scheduler for all of them: a whole array by its array id when every live task of it is
selected, else each task by its own id (`123_4`, `13.2`, OAR's task job id). Runs whose job
had not started are recorded INTERRUPTED at once (`record.info.record_not_started`: they will
never run); running ones record their own interruption (the scheduler's signal, or OAR's end
notification), and a later `mlxp status` records any that could not.

Rerun: the selected runs that ended without completing (FAILED, INTERRUPTED, SUBMIT_FAILED;
never one the scheduler still lists as queued or running) are submitted again, into the same
run directories, as ONE array per group of runs that share their launcher settings (split
by the cluster's array limit). The decision: rerun does NOT re-render a run's `script.sh`;
the body the head rendered at submission (setup lines, exports, `MLXP_RUN_DIR`, the exact
command of that point with its overrides) is run again as it is, by a new array script in
`.arrays/rerun-<time>-<first>-<last>.sh` whose directives are rendered afresh from the
launcher settings each run recorded at submission (`submit.launcher`: directives, generic
resources, working directory, array parallelism), with `--mem` / `--time` raised where asked.
So a rerun needs no Hydra, no config and no source tree, and cannot drift from the point
that ran. The job then adopts its run directory (`MLXP_RUN_DIR`) and resumes: attempt + 1,
`first_start_time` kept, the last checkpoint loaded by the task.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from mlxp_core.record import info as run_info
from mlxp_core.record.facts import iso, now
from mlxp_core.record.layout import SCRIPT
from mlxp_core.schedulers import SCHEDULERS, Scheduler, parse_resources
from mlxp_core.schedulers.base import JobSpecError
from mlxp_core.schedulers.commands import (
    SubmitError,
    array_limit,
    base_id,
    cancel_jobs,
    submit,
)
from mlxp_core.schedulers.render import JobSpec
from mlxp_core.submit import arrays, handoff
from mlxp_core.submit.truth import LIVE, Refresh, RunView, refresh

log = logging.getLogger("mlxp")
CANCEL_RECORDER = "mlxp cancel"
RERUN_KINDS = {"failed": run_info.FAILED, "interrupted": run_info.INTERRUPTED,
               "missing": run_info.SUBMIT_FAILED}


# -- cancel ---------------------------------------------------------------------------------


@dataclass
class Cancelled:
    """What `cancel` did."""

    commands: List[str] = field(default_factory=list)  # the cancel command lines run
    failures: List[str] = field(default_factory=list)  # what a failing command said
    not_started: List[int] = field(default_factory=list)  # recorded INTERRUPTED now
    running: List[int] = field(default_factory=list)  # signalled: they record their end
    already_ended: List[int] = field(default_factory=list)
    unknown: List[int] = field(default_factory=list)  # no scheduler listing: not cancelled
    refresh: Optional[Refresh] = None


def cancel_ids(scheduler: Scheduler, selected: Sequence[Tuple[RunView, Any]],
               all_live: Sequence[Any]) -> List[str]:
    """The ids to give the cancel command: whole arrays where every live task is selected."""
    ids: List[str] = []
    by_array: Dict[str, List[Tuple[RunView, Any]]] = {}
    for run, state in selected:
        if run.task is None:
            ids.append(str(run.job_id))  # as submitted (a listing may shorten it: TORQUE)
        else:
            by_array.setdefault(base_id(str(run.job_id)), []).append((run, state))
    tasks_own = bool(scheduler.array and scheduler.array.tasks_listed_by_own_id)
    for array_id, members in by_array.items():
        live_tasks = {_task_id(scheduler, s) for s in all_live
                      if s.job_id == array_id and s.task is not None}
        chosen = {_task_id(scheduler, s) for _, s in members if s is not None}
        if not tasks_own and live_tasks and live_tasks <= chosen:
            ids.append(str(members[0][0].job_id))  # the whole array, as submitted
        else:
            ids += sorted(chosen, key=_natural)
    return list(dict.fromkeys(ids))


def _task_id(scheduler: Scheduler, state: Any) -> str:
    """The id the cancel command takes for one array task (OAR: the task's own job id)."""
    if scheduler.task_id_format and state.task is not None:
        return scheduler.task_id_format.format(job=state.job_id, task=state.task)
    return str(state.own_id)


def _natural(text: str) -> Tuple[Any, ...]:
    import re

    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))


def cancel(parent: Path, runs: Sequence[RunView]) -> Cancelled:
    """Cancel the jobs of `runs` that are still queued or running (module docstring)."""
    out = Cancelled()
    live = [r for r in runs if r.status in LIVE and r.job_id and r.scheduler in SCHEDULERS]
    out.already_ended = [r.log_id for r in runs if r.status in run_info.TERMINAL]
    out.refresh = found = refresh(parent, live, accounting_for_ended=False)
    by_scheduler: Dict[str, List[Tuple[RunView, Any]]] = {}
    for run in live:
        if run.log_id in found.recorded:
            out.already_ended.append(run.log_id)  # it had ended: recorded by the refresh
            continue
        if str(run.scheduler) in found.unavailable:
            out.unknown.append(run.log_id)
            continue
        state = found.live.get(run.log_id)
        if state is None:
            out.unknown.append(run.log_id)  # left the queue, accounting not in yet
            continue
        by_scheduler.setdefault(str(run.scheduler), []).append((run, state))
    for name, selected in by_scheduler.items():
        scheduler = SCHEDULERS[name]
        ids = cancel_ids(scheduler, selected, found.listings.get(name, []))
        ok, said = cancel_jobs(scheduler, ids)
        out.commands.append(" ".join([*scheduler.cancel_command, *ids]))
        if not ok:
            out.failures.append(f"{name}: {said or 'failed'}")
        for run, state in selected:
            if state.phase != "RUNNING":
                written = run_info.record_not_started(run.run_dir, scheduler.cancel_command[0],
                                                      recorder=CANCEL_RECORDER)
                if written:
                    out.not_started.append(run.log_id)
                    continue
            out.running.append(run.log_id)
    return out


# -- rerun ----------------------------------------------------------------------------------


@dataclass
class Rerun:
    """What `rerun` did (or, with dry_run, would do)."""

    groups: List[Dict[str, Any]] = field(default_factory=list)  # one per array submitted
    skipped: List[Tuple[int, str]] = field(default_factory=list)  # (log id, why)
    failures: List[str] = field(default_factory=list)
    refresh: Optional[Refresh] = None


def raised_resources(mem: Optional[str], walltime: Optional[str]) -> Dict[str, Any]:
    """`--mem` / `--time` as generic resources (validated: JobSpecError names the bad one)."""
    values = {k: v for k, v in (("mem", mem), ("time", walltime)) if v}
    parse_resources(values)
    return values


def _launcher(info: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    launcher = (info.get("submit") or {}).get("launcher")
    return launcher if isinstance(launcher, dict) else None


def select(runs: Sequence[RunView], kinds: Sequence[str], found: Refresh
           ) -> Tuple[List[Tuple[RunView, Dict[str, Any]]], List[Tuple[int, str]]]:
    """The runs to resubmit (with their info.yaml read now) and the ones left, with why."""
    wanted = {RERUN_KINDS[k] for k in kinds}
    chosen: List[Tuple[RunView, Dict[str, Any]]] = []
    skipped: List[Tuple[int, str]] = []
    for run in runs:
        info = run_info.read_info(run.run_dir)
        status = str(info.get("status"))
        if status not in wanted:
            continue
        scheduler = (info.get("submit") or {}).get("scheduler")
        if scheduler not in SCHEDULERS:
            skipped.append((run.log_id, "not submitted to a scheduler: resume it with its "
                                        f"command and +mlxp.logger.log_id={run.log_id}"))
            continue
        if found.listed_live(str(scheduler), run) is not None:
            skipped.append((run.log_id, f"{scheduler} still lists its job as queued or "
                                        "running"))
            continue
        if _launcher(info) is None or not (run.run_dir / SCRIPT).is_file():
            skipped.append((run.log_id, "submitted without recorded launcher settings or "
                                        f"without {SCRIPT}: submit that point again"))
            continue
        chosen.append((run, info))
    return chosen, skipped


def _group_key(info: Dict[str, Any], raised: Dict[str, Any]) -> str:
    launcher = dict(_launcher(info) or {})
    launcher["resources"] = {**(launcher.get("resources") or {}), **raised}
    return json.dumps([info["submit"]["scheduler"], launcher], sort_keys=True, default=str)


def rerun(parent: Path, runs: Sequence[RunView], kinds: Sequence[str],
          mem: Optional[str] = None, walltime: Optional[str] = None,
          dry_run: bool = False) -> Rerun:
    """Resubmit the selected runs (module docstring); nothing is written with `dry_run`."""
    raised = raised_resources(mem, walltime)
    out = Rerun()
    out.refresh = found = refresh(parent, runs, accounting_for_ended=False, always_list=True)
    chosen, out.skipped = select(runs, kinds, found)
    groups: Dict[str, List[Tuple[RunView, Dict[str, Any]]]] = {}
    for run, info in chosen:
        groups.setdefault(_group_key(info, raised), []).append((run, info))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    limits: Dict[str, Optional[int]] = {}
    for members in groups.values():
        first_info = members[0][1]
        scheduler = SCHEDULERS[first_info["submit"]["scheduler"]]
        launcher = dict(_launcher(first_info) or {})
        resources = {**(launcher.get("resources") or {}), **raised}
        if scheduler.name not in limits:
            limits[scheduler.name] = None if dry_run else array_limit(scheduler)
        for chunk in arrays.chunks(members, limits[scheduler.name]):
            out.groups.append(_submit_group(parent, scheduler, launcher, resources,
                                            list(chunk), raised, stamp, dry_run, out))
    return out


def _submit_group(parent: Path, scheduler: Scheduler, launcher: Dict[str, Any],
                  resources: Dict[str, Any], members: List[Tuple[RunView, Dict[str, Any]]],
                  raised: Dict[str, Any], stamp: str, dry_run: bool, out: Rerun
                  ) -> Dict[str, Any]:
    log_ids = [run.log_id for run, _ in members]
    group: Dict[str, Any] = {"scheduler": scheduler.name, "runs": log_ids,
                             "resources": resources, "job_id": None, "script": None}
    if dry_run:
        return group
    workdir = str(launcher.get("workdir") or parent.parent)
    run_dirs = [run.run_dir for run, _ in members]
    first, _ = arrays.task_range(scheduler, len(members))
    template = JobSpec(job_name=f"{parent.name}/rerun", stdout="/", stderr="/",
                       workdir=workdir, command=["true"],
                       directives=list(launcher.get("directives") or []),
                       resources=dict(resources))
    name = f"rerun-{stamp}-{log_ids[0]}-{log_ids[-1]}"
    try:  # a setting the scheduler cannot express: nothing is touched
        script = arrays.write_array_script(scheduler, template, run_dirs, log_ids,
                                           launcher.get("array_parallelism"), name=name)
    except (JobSpecError, OSError) as exc:
        out.failures.append(f"runs {log_ids[0]}..{log_ids[-1]} not resubmitted: {exc}")
        group["runs"] = []
        return group
    group["script"] = str(script)
    attempts = {}
    for run, info in members:
        attempts[run.log_id] = int(info.get("attempt") or 0)
        resubmission = int((info.get("submit") or {}).get("resubmissions", 0)) + 1
        run_info.keep_logs(run.run_dir, resubmission)
    error = None
    job_id = None
    try:
        job_id = submit(scheduler, str(script), workdir, env=handoff.without_spec(os.environ))
    except SubmitError as exc:
        error = run_info.shorten(str(exc))
        out.failures.append(error)
    group["job_id"] = job_id
    when = iso(now())
    for k, (run, _) in enumerate(members):
        if error is not None:
            run_info.record_resubmission(run.run_dir, attempts[run.log_id],
                                         run_info.SUBMIT_FAILED, raised or None, error=error)
        else:
            run_info.record_resubmission(
                run.run_dir, attempts[run.log_id], run_info.SUBMITTED, raised or None,
                **arrays.submitted_info(job_id, first, k, Path(group["script"]), when))
    return group
