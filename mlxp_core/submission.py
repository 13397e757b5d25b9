"""What an mlxp launcher does on the head node for each sweep point.

Per job: allocate the run directory (the core's allocator), render `<run dir>/script.sh`,
submit it (or, for `mlxp_local`, run it in the background), and record SUBMITTED with the
scheduler's job id in `metadata/info.yaml`. Nothing of the user's task runs on the head node.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from hydra.core.utils import JobReturn
from omegaconf import DictConfig, OmegaConf

from mlxp_core import arrays, gcpause, jobcommand, rundir, runinfo, submitreport, waiting
from mlxp_core.callbacks import mlxp_overrides, primary_config_dir
from mlxp_core.errors import MLXPError, UsageAbort
from mlxp_core.render import JobSpec, render_local_script, render_script
from mlxp_core.run import RUN_DIR_ENV
from mlxp_core.rundir import SCRIPT
from mlxp_core.schedulers import Scheduler, get_scheduler
from mlxp_core.settings import effective_settings, overrides_to_dict, resolve_parent_log
from mlxp_core.submit import SubmitError, check_submit_command, submit

log = logging.getLogger("mlxp")

DRY_RUN = "DRY_RUN"
RESOURCE_FIELDS = ("partition", "account", "nodes", "cpus", "gpus", "mem", "time")


@dataclass
class Job:
    """One sweep point as the head prepares it."""

    idx: int
    overrides: List[str]
    log_id: Optional[int] = None
    run_dir: Optional[Path] = None
    spec: Optional[JobSpec] = None
    job_id: Optional[str] = None
    error: Optional[str] = None
    info: Dict[str, Any] = field(default_factory=dict)
    recorded: bool = False  # info.yaml written by the head


@dataclass
class Plan:
    """Everything shared by the jobs of one `launch` call."""

    scheduler: Optional[Scheduler]
    params: Dict[str, Any]
    config: DictConfig
    invocation: jobcommand.Invocation
    flags: List[str]
    hydra_overrides: List[str]
    add_callback: bool
    launcher_words: List[str]
    python: str
    workdir: str
    decorated: bool  # started through @mlxp.launch (mlxp's Hydra defaults are in place)
    settings_cache: Dict[Tuple[str, ...], Dict[str, Any]] = field(default_factory=dict)
    parent_cache: Dict[Tuple[str, ...], Path] = field(default_factory=dict)


def _params(launcher: Any) -> Dict[str, Any]:
    params = {
        k: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v
        for k, v in launcher.params.items()
    }
    from mlxp_core.mlxpsub import load_spec

    spec = load_spec()
    if spec:
        params["directives"] = [*spec.get("directives", []), *params.get("directives", [])]
        params["setup"] = [*spec.get("setup", []), *params.get("setup", [])]
        params["teardown"] = list(spec.get("teardown", []))
        params["launcher_words"] = list(spec.get("launcher_words", []))
        params["python"] = params.get("python") or spec.get("python")
        params["interpreter_flags"] = spec.get("interpreter_flags")
        params["report"] = spec.get("report")
    return params


def make_plan(launcher: Any) -> Plan:
    config = launcher.config
    params = _params(launcher)
    name = launcher.scheduler_name
    scheduler = None if name == "local" else get_scheduler(name)
    invocation = jobcommand.head_invocation()
    if params.get("interpreter_flags") is not None:
        invocation.interpreter_flags = list(params["interpreter_flags"])
    from mlxp_core.launch import decorated
    return Plan(
        scheduler=scheduler,
        params=params,
        config=config,
        invocation=invocation,
        flags=jobcommand.path_flags(),
        hydra_overrides=jobcommand.forwarded_hydra_overrides(config),
        add_callback=not jobcommand.has_mlxp_callback(config),
        launcher_words=list(params.get("launcher_words") or []),
        python=params.get("python") or sys.executable,
        workdir=os.getcwd(),
        decorated=decorated(),
    )


def _mlxp_items(overrides: Sequence[str]) -> Tuple[str, ...]:
    return tuple(o for o in overrides
                 if "=" in o and o.lstrip("+~").split("=", 1)[0].startswith("mlxp."))


def _job_settings(plan: Plan, overrides: Sequence[str]) -> Dict[str, Any]:
    """mlxp settings of one job: mlxp.yaml, the head's mlxp overrides, this job's ones."""
    items = _mlxp_items(overrides)
    if items not in plan.settings_cache:
        plan.settings_cache[items] = _compute_settings(plan, items)
    return plan.settings_cache[items]


def _compute_settings(plan: Plan, items: Sequence[str]) -> Dict[str, Any]:
    merged = overrides_to_dict(items, into=mlxp_overrides(plan.config) or {})
    return effective_settings(primary_config_dir(plan.config), merged)


def _spec(plan: Plan, job: Job) -> JobSpec:
    assert job.run_dir is not None
    rel = os.path.relpath(job.run_dir, plan.workdir)
    command = jobcommand.job_argv(
        plan.launcher_words, plan.python, plan.invocation, plan.flags,
        job.overrides,
        # an @mlxp.launch app has no Hydra output dir to reproduce: its run dir is the job's
        plan.hydra_overrides if plan.decorated
        else [*plan.hydra_overrides, *jobcommand.multirun_job_overrides(plan.config, job.idx)],
        plan.add_callback,
    )
    return JobSpec(
        job_name=rel if not rel.startswith("..") else str(job.run_dir),
        stdout=str(job.run_dir / "log.stdout"),
        stderr=str(job.run_dir / "log.stderr"),
        workdir=plan.workdir,
        command=command,
        directives=list(plan.params.get("directives") or []),
        resources={k: plan.params.get(k) for k in RESOURCE_FIELDS if plan.params.get(k)},
        setup=list(plan.params.get("setup") or []),
        teardown=list(plan.params.get("teardown") or []),
        env={**{str(k): str(v) for k, v in (plan.params.get("env") or {}).items()},
             RUN_DIR_ENV: str(job.run_dir)},
    )


def render(plan: Plan, spec: JobSpec) -> str:
    if plan.scheduler is None:
        return render_local_script(spec)
    return render_script(plan.scheduler, spec)


def _validate(plan: Plan) -> None:
    """Fail before any directory exists: bad resources, missing submit command."""
    probe = Job(idx=0, overrides=[], log_id=1, run_dir=Path(plan.workdir) / "probe")
    try:
        spec = _spec(plan, probe)
        render(plan, spec)
        if plan.params.get("array") and plan.scheduler is not None:
            first, last = arrays.task_range(plan.scheduler, 2)
            spec.array = (first, last, plan.params.get("array_parallelism"))
            render(plan, spec)
    except (MLXPError, ValueError) as exc:
        raise UsageAbort(f"hydra.launcher: {exc}") from None
    if plan.scheduler is not None and not plan.params.get("dry_run"):
        try:
            check_submit_command(plan.scheduler)
        except SubmitError as exc:
            raise UsageAbort(str(exc)) from None


def allocate(plan: Plan, jobs: Sequence[Job]) -> None:
    """Give every job its run directory: one lock per parent log directory."""
    by_parent: Dict[Path, List[Job]] = {}
    for job in jobs:
        items = _mlxp_items(job.overrides)
        parent = plan.parent_cache.get(items)
        if parent is None:
            parent = resolve_parent_log(_job_settings(plan, job.overrides), Path(plan.workdir))
            plan.parent_cache[items] = parent
        by_parent.setdefault(parent, []).append(job)
    for parent, group in by_parent.items():
        for job, (log_id, path) in zip(group, rundir.allocate_many(parent, len(group))):
            job.log_id, job.run_dir = log_id, path


def prepare(plan: Plan, job: Job, array_task: bool = False) -> None:
    """Write the job's `script.sh` into its new run directory; `info.yaml` comes with `record`.

    An array task's `script.sh` has no directives: the array script carries them.
    """
    if job.run_dir is None:
        allocate(plan, [job])
    assert job.run_dir is not None
    (job.run_dir / "metadata").mkdir()
    job.spec = _spec(plan, job)
    script = job.run_dir / SCRIPT
    text = render_local_script(job.spec) if array_task else render(plan, job.spec)
    rundir.create_new(script, text.encode("utf-8"), mode=0o777)  # executable, minus the umask
    job.info = {
        "status": None,
        "log_id": job.log_id,
        "log_dir": str(job.run_dir),
        "overrides": list(job.overrides),
        "submit": {
            "scheduler": plan.scheduler.name if plan.scheduler else "local",
            "job_id": None,
            "submit_time": None,
            "script": str(script),
        },
    }


def record(job: Job, status: str, **submit: Any) -> None:
    """Write the head's record of the job into `info.yaml`, once, after submission.

    The job may have started already (arrays start within milliseconds): its own record is
    then kept (status, start time) and the head only adds its `submit` fields, under the lock.
    """
    assert job.run_dir is not None
    job.info["status"] = status
    job.info["submit"].update(submit)
    if job.info["submit"].get("submit_time") is None:
        job.info["submit"]["submit_time"] = runinfo.iso(runinfo.now())
    path = job.run_dir / "metadata" / "info.yaml"
    if rundir.create_atomic(path, rundir.dump_yaml(job.info).encode("utf-8")):
        job.recorded = True
        return
    with rundir.info_lock(job.run_dir):
        current = rundir.read_info(job.run_dir)
        if current.get("status") not in (None, runinfo.SUBMITTED, DRY_RUN):
            merged = current  # the job runs already: add to its record, keep its status
            merged["submit"] = {**(merged.get("submit") or {}), **job.info["submit"]}
            job.info = merged
        rundir.write_yaml_atomic(path, job.info)
    job.recorded = True


def discard_unrecorded(jobs: Sequence[Job]) -> None:
    """Remove the run directories of jobs that were never submitted (the head failed)."""
    for job in jobs:
        if job.run_dir is not None and not job.recorded and job.job_id is None:
            shutil.rmtree(job.run_dir, ignore_errors=True)
            log.info("mlxp: removed run directory %s (never submitted)", job.run_dir)


def submit_job(plan: Plan, job: Job) -> None:
    assert plan.scheduler is not None and job.run_dir is not None
    env = {k: v for k, v in os.environ.items() if k != "MLXPSUB_SPEC"}
    try:
        job.job_id = submit(plan.scheduler, str(job.run_dir / SCRIPT), plan.workdir, env=env)
    except SubmitError as exc:
        job.error = str(exc)
        record(job, runinfo.SUBMIT_FAILED, error=job.error)
        return
    record(job, runinfo.SUBMITTED, job_id=job.job_id, submit_time=runinfo.iso(runinfo.now()))


def launch(launcher: Any, job_overrides: Sequence[Sequence[str]],
           initial_job_idx: int) -> Sequence[JobReturn]:
    plan = make_plan(launcher)
    if plan.scheduler is None:
        from mlxp_core import local_executor

        return local_executor.launch(launcher, plan, job_overrides, initial_job_idx)
    if not jobcommand.can_reinvoke(plan.invocation, launcher.task_function):
        raise UsageAbort(
            f"hydra/launcher=mlxp_{plan.scheduler.name}: jobs re-run the script you started "
            "(python main.py ...), so the task function must be defined in that script"
        )
    _validate(plan)
    jobs = [Job(idx, list(ov)) for idx, ov in enumerate(job_overrides, start=initial_job_idx)]
    with gcpause.paused():
        if plan.params.get("array"):
            _submit_array(plan, jobs)
        else:
            _submit_each(plan, jobs)
        submitreport.write_report(plan, jobs)
    submitreport.summary(plan, jobs)
    if plan.params.get("wait") and not plan.params.get("dry_run"):
        assert plan.scheduler is not None
        check_lost = not (plan.params.get("array") and plan.scheduler.array
                          and plan.scheduler.array.tasks_listed_by_own_id)
        waiting.wait(plan.scheduler, jobs, float(plan.params.get("poll_interval") or 5.0),
                     check_lost)
        return waiting.results(jobs, plan.workdir,
                               str(OmegaConf.select(plan.config, "hydra.job.name")))
    task_name = str(OmegaConf.select(plan.config, "hydra.job.name"))
    return [submitreport.job_return(plan, job, task_name) for job in jobs]


def _submit_each(plan: Plan, jobs: List[Job]) -> None:
    allocate(plan, jobs)
    bar = submitreport.progress(len(jobs))
    try:
        for job in jobs:
            prepare(plan, job)
            if plan.params.get("dry_run"):
                record(job, DRY_RUN)
            else:
                submit_job(plan, job)
            if bar is not None:
                bar.update()
    except BaseException:
        discard_unrecorded(jobs)
        raise
    finally:
        if bar is not None:
            bar.close()


def _submit_array(plan: Plan, jobs: List[Job]) -> None:
    """All points as one array submission; each keeps its own run directory."""
    assert plan.scheduler is not None
    first, _ = arrays.task_range(plan.scheduler, len(jobs))
    allocate(plan, jobs)
    try:
        for job in jobs:
            prepare(plan, job, array_task=True)
        run_dirs = [j.run_dir for j in jobs if j.run_dir is not None]
        log_ids = [j.log_id for j in jobs if j.log_id is not None]
        assert jobs[0].spec is not None
        script = arrays.write_array_script(plan.scheduler, jobs[0].spec, run_dirs, log_ids,
                                           plan.params.get("array_parallelism"))
        if plan.params.get("dry_run"):
            when = runinfo.iso(runinfo.now())
            for k, job in enumerate(jobs):
                record(job, DRY_RUN, **arrays.submitted_info(None, first, k, script, when))
            return
        env = {k: v for k, v in os.environ.items() if k != "MLXPSUB_SPEC"}
        try:
            array_id = submit(plan.scheduler, str(script), plan.workdir, env=env)
        except SubmitError as exc:
            for job in jobs:
                job.error = str(exc)
                record(job, runinfo.SUBMIT_FAILED, error=job.error, array_script=str(script))
            return
        when = runinfo.iso(runinfo.now())
        for job in jobs:
            job.job_id = array_id
        for k, job in enumerate(jobs):
            record(job, runinfo.SUBMITTED,
                   **arrays.submitted_info(array_id, first, k, script, when))
    except BaseException:
        discard_unrecorded(jobs)
        raise
