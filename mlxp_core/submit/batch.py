"""What a scheduler launcher does on the head node for each sweep point.

Per job: allocate the run directory, render `<run dir>/script.sh`, submit it, and record
SUBMITTED with the scheduler's job id in `metadata/info.yaml` (`record.info`). With
`array=true` the whole sweep goes as one array (`arrays`); `mlxp_local` runs the same
scripts as background processes (`local`). Nothing of the user's task runs on the head node.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from hydra.core.utils import JobReturn
from omegaconf import OmegaConf

from mlxp_core import gcpause
from mlxp_core.errors import UsageAbort
from mlxp_core.record import info as run_info
from mlxp_core.record import layout
from mlxp_core.record.atomic import create_new
from mlxp_core.record.facts import iso, now
from mlxp_core.schedulers.commands import SubmitError, SubmitTimeout, array_limit, submit
from mlxp_core.schedulers.render import render_local_script
from mlxp_core.submit import arrays, command, handoff, report, waiting
from mlxp_core.submit.plan import (
    Job,
    Plan,
    job_spec,
    jobs_of,
    launcher_record,
    make_plan,
    parent_log,
    render,
    validate,
)

log = logging.getLogger("mlxp")


def allocate(plan: Plan, jobs: Sequence[Job]) -> None:
    """Give every job its run directory: one lock per parent log directory."""
    by_parent: Dict[Any, List[Job]] = {}
    for job in jobs:
        by_parent.setdefault(parent_log(plan, job.overrides), []).append(job)
    for parent, group in by_parent.items():
        for job, (log_id, path) in zip(group, layout.allocate_many(parent, len(group))):
            job.log_id, job.run_dir = log_id, path


def prepare(plan: Plan, job: Job, array_task: bool = False) -> None:
    """Write the job's `script.sh` into its new run directory; `info.yaml` comes with `record`.

    An array task's `script.sh` has no directives: the array script carries them.
    """
    if job.run_dir is None:
        allocate(plan, [job])
    assert job.run_dir is not None
    (job.run_dir / layout.METADATA).mkdir()
    job.spec = job_spec(plan, job)
    script = job.run_dir / layout.SCRIPT
    text = render_local_script(job.spec) if array_task else render(plan, job.spec)
    create_new(script, text.encode("utf-8"), mode=0o777)  # executable, minus the umask
    job.info = run_info.submission_record(job.log_id, job.run_dir, job.overrides,
                                          plan.scheduler_name, script, sweep=plan.sweep,
                                          launcher=launcher_record(plan))


def record(job: Job, status: str, **submit_fields: Any) -> None:
    """Write the head's record of the job into `info.yaml` (see `record.info`)."""
    assert job.run_dir is not None
    job.info = run_info.record_submission(job.run_dir, job.info, status, **submit_fields)
    job.recorded = True


def make_sweep_dir(plan: Plan) -> None:
    """Create `hydra.sweep.dir`, as Hydra's own launchers do: sweepers write there after the
    jobs (Optuna's `optimization_results.yaml`, Hydra's `multirun.yaml`)."""
    sweep_dir = OmegaConf.select(plan.config, "hydra.sweep.dir")
    if sweep_dir:
        Path(str(sweep_dir)).mkdir(parents=True, exist_ok=True)


def discard_unrecorded(jobs: Sequence[Job]) -> None:
    """Remove the run directories of jobs that were never submitted (the head failed)."""
    for job in jobs:
        if job.run_dir is not None and not job.recorded and job.job_id is None:
            shutil.rmtree(job.run_dir, ignore_errors=True)
            log.info("mlxp: removed run directory %s (never submitted)", job.run_dir)


def submit_job(plan: Plan, job: Job, deadline: Optional[float] = None) -> Optional[SubmitError]:
    """Submit one job and record the outcome; the error when it was not submitted."""
    assert plan.scheduler is not None and job.run_dir is not None
    try:
        job.job_id = submit(plan.scheduler, str(job.run_dir / layout.SCRIPT), plan.workdir,
                            env=handoff.without_spec(os.environ), deadline=deadline)
    except SubmitError as exc:
        job.error = str(exc)
        if isinstance(exc, SubmitTimeout):
            job.error += _timeout_hint(plan)
        record(job, run_info.SUBMIT_FAILED, error=job.error)
        return exc
    record(job, run_info.SUBMITTED, job_id=job.job_id, submit_time=iso(now()))
    return None


def _timeout_hint(plan: Plan) -> str:
    return (f" (the whole submission may take hydra.launcher.submit_timeout="
            f"{plan.params.submit_timeout:g} s)")


def launch(launcher: Any, job_overrides: Sequence[Sequence[str]],
           initial_job_idx: int) -> Sequence[JobReturn]:
    """`Launcher.launch` of the scheduler launchers (`mlxp_local`: `submit.local.launch`)."""
    plan = make_plan(launcher)
    assert plan.scheduler is not None
    if not command.can_reinvoke(plan.invocation, launcher.task_function):
        raise UsageAbort(
            f"hydra/launcher=mlxp_{plan.scheduler.name}: jobs re-run the script you started "
            "(python main.py ...), so the task function must be defined in that script"
        )
    validate(plan)
    make_sweep_dir(plan)
    jobs = jobs_of(job_overrides, initial_job_idx)
    with gcpause.paused():
        if plan.params.array:
            _submit_array(plan, jobs)
        else:
            _submit_each(plan, jobs)
        report.write_handoff_report(plan, jobs)
    report.summary(plan, jobs)
    if plan.params.wait and not plan.params.dry_run:
        check_lost = not (plan.params.array and plan.scheduler.array
                          and plan.scheduler.array.tasks_listed_by_own_id)
        waiting.wait(plan.scheduler, jobs, plan.params.poll_interval, check_lost)
        return waiting.results(jobs, plan.workdir, plan.task_name)
    return [report.job_return(plan, job) for job in jobs]


def _submit_each(plan: Plan, jobs: List[Job]) -> None:
    """One submit command per job, all within one deadline (`submit_timeout`): once a
    command hangs past it, the jobs after it are recorded SUBMIT_FAILED without trying."""
    allocate(plan, jobs)
    bar = report.progress(len(jobs), "submitting")
    deadline = time.monotonic() + plan.params.submit_timeout
    hung: Optional[str] = None
    try:
        for job in jobs:
            prepare(plan, job)
            if plan.params.dry_run:
                record(job, run_info.DRY_RUN)
            elif hung is not None:
                job.error = f"not submitted: {hung}"
                record(job, run_info.SUBMIT_FAILED, error=job.error)
            else:
                error = submit_job(plan, job, deadline)
                if isinstance(error, SubmitTimeout):
                    hung = job.error
            if bar is not None:
                bar.update()
    except BaseException:
        discard_unrecorded(jobs)
        raise
    finally:
        if bar is not None:
            bar.close()


def _submit_array(plan: Plan, jobs: List[Job]) -> None:
    """All points as one array submission, or as few as the cluster's array limit allows
    (`arrays.chunks`); each point keeps its own run directory."""
    assert plan.scheduler is not None
    allocate(plan, jobs)
    try:
        for job in jobs:
            prepare(plan, job, array_task=True)
        limit = None if plan.params.dry_run else array_limit(plan.scheduler)
        deadline = time.monotonic() + plan.params.submit_timeout
        for chunk in arrays.chunks(jobs, limit):
            _submit_chunk(plan, chunk, deadline)
    except BaseException:
        discard_unrecorded(jobs)
        raise


def _submit_chunk(plan: Plan, jobs: List[Job], deadline: float) -> None:
    """One array submission of `jobs` (task indexes from the scheduler's first)."""
    assert plan.scheduler is not None
    first, _ = arrays.task_range(plan.scheduler, len(jobs))
    run_dirs = [j.run_dir for j in jobs if j.run_dir is not None]
    log_ids = [j.log_id for j in jobs if j.log_id is not None]
    assert jobs[0].spec is not None
    script = arrays.write_array_script(plan.scheduler, jobs[0].spec, run_dirs, log_ids,
                                       plan.params.array_parallelism)
    if plan.params.dry_run:
        when = iso(now())
        for k, job in enumerate(jobs):
            record(job, run_info.DRY_RUN, **arrays.submitted_info(None, first, k, script, when))
        return
    try:
        array_id = submit(plan.scheduler, str(script), plan.workdir,
                          env=handoff.without_spec(os.environ), deadline=deadline)
    except SubmitError as exc:
        error = str(exc) + (_timeout_hint(plan) if isinstance(exc, SubmitTimeout) else "")
        for job in jobs:
            job.error = error
            record(job, run_info.SUBMIT_FAILED, error=job.error, array_script=str(script))
        return
    when = iso(now())
    for job in jobs:
        job.job_id = array_id
    for k, job in enumerate(jobs):
        record(job, run_info.SUBMITTED,
               **arrays.submitted_info(array_id, first, k, script, when))
