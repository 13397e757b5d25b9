"""What every job of one launch shares (`Plan`), and the `JobSpec` of each job.

Built once per `launch` call from the launcher (its typed parameters and Hydra config) and
how this head process was started; the per-job work (`batch`, `arrays`, `local`) reads it.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from omegaconf import DictConfig

from mlxp_core.errors import MLXPError, UsageAbort
from mlxp_core.hydra_app.defaults import uses_mlxp_output
from mlxp_core.record import layout
from mlxp_core.run.job_config import has_mlxp_callback, mlxp_overrides, primary_config_dir
from mlxp_core.schedulers import Scheduler, get_scheduler
from mlxp_core.schedulers.commands import SubmitError, check_submit_command
from mlxp_core.schedulers.render import JobSpec, render_local_script, render_script
from mlxp_core.settings import (
    effective_settings,
    is_setting_override,
    overrides_to_dict,
    resolve_parent_log,
)
from mlxp_core.submit import arrays, command, handoff
from mlxp_core.submit.params import LauncherParams, LauncherParamsError, build


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

    scheduler: Optional[Scheduler]  # None: mlxp_local
    params: LauncherParams
    config: DictConfig
    invocation: command.Invocation
    hydra_overrides: List[str]
    add_callback: bool
    python: str
    workdir: str
    mlxp_app: bool  # an @mlxp.launch app (mlxp's Hydra output option): no Hydra output dir
    settings_cache: Dict[Tuple[str, ...], Dict[str, Any]] = field(default_factory=dict)
    parent_cache: Dict[Tuple[str, ...], Path] = field(default_factory=dict)

    @property
    def scheduler_name(self) -> str:
        return self.scheduler.name if self.scheduler else "local"

    @property
    def task_name(self) -> str:
        return str(self.config.hydra.job.name)


def make_plan(launcher: Any) -> Plan:
    """The plan of one launch: the launcher's parameters, Hydra config and invocation."""
    config = launcher.config
    name = launcher.scheduler_name
    try:
        params = build(name, launcher.params, handoff.read_spec())
    except LauncherParamsError as exc:
        raise UsageAbort(str(exc)) from None
    scheduler = None if params.local else get_scheduler(name)
    invocation = command.head_invocation()
    if params.interpreter_flags is not None:
        invocation.interpreter_flags = list(params.interpreter_flags)
    return Plan(
        scheduler=scheduler,
        params=params,
        config=config,
        invocation=invocation,
        hydra_overrides=command.forwarded_hydra_overrides(config),
        add_callback=not has_mlxp_callback(config),
        python=params.python or sys.executable,
        workdir=os.getcwd(),
        mlxp_app=uses_mlxp_output(config),
    )


def _mlxp_items(overrides: Sequence[str]) -> Tuple[str, ...]:
    return tuple(o for o in overrides if is_setting_override(o))


def job_settings(plan: Plan, overrides: Sequence[str]) -> Dict[str, Any]:
    """mlxp settings of one job: mlxp.yaml, the head's mlxp overrides, this job's ones."""
    items = _mlxp_items(overrides)
    if items not in plan.settings_cache:
        merged = overrides_to_dict(items, into=mlxp_overrides(plan.config) or {})
        plan.settings_cache[items] = effective_settings(primary_config_dir(plan.config), merged)
    return plan.settings_cache[items]


def parent_log(plan: Plan, overrides: Sequence[str]) -> Path:
    """The parent log directory of a job (its settings may move it)."""
    items = _mlxp_items(overrides)
    parent = plan.parent_cache.get(items)
    if parent is None:
        parent = resolve_parent_log(job_settings(plan, overrides), Path(plan.workdir))
        plan.parent_cache[items] = parent
    return parent


def job_spec(plan: Plan, job: Job) -> JobSpec:
    """The scheduler-neutral description of a job's script (rendered by `schedulers.render`)."""
    assert job.run_dir is not None
    rel = os.path.relpath(job.run_dir, plan.workdir)
    argv = command.job_argv(
        plan.params.launcher_words, plan.python, plan.invocation, job.overrides,
        # an @mlxp.launch app has no Hydra output dir to reproduce: its run dir is the job's
        plan.hydra_overrides if plan.mlxp_app
        else [*plan.hydra_overrides, *command.multirun_job_overrides(plan.config, job.idx)],
        plan.add_callback,
    )
    return JobSpec(
        job_name=rel if not rel.startswith("..") else str(job.run_dir),
        stdout=str(job.run_dir / layout.STDOUT),
        stderr=str(job.run_dir / layout.STDERR),
        workdir=plan.workdir,
        command=argv,
        directives=list(plan.params.directives),
        resources=dict(plan.params.resources),
        setup=list(plan.params.setup),
        teardown=list(plan.params.teardown),
        env={**plan.params.env, layout.RUN_DIR_ENV: str(job.run_dir)},
    )


def render(plan: Plan, spec: JobSpec) -> str:
    if plan.scheduler is None:
        return render_local_script(spec)
    return render_script(plan.scheduler, spec)


def validate(plan: Plan) -> None:
    """Fail before any directory exists: bad resources, missing submit command."""
    probe = Job(idx=0, overrides=[], log_id=1, run_dir=Path(plan.workdir) / "probe")
    try:
        spec = job_spec(plan, probe)
        render(plan, spec)
        if plan.params.array and plan.scheduler is not None:
            first, last = arrays.task_range(plan.scheduler, 2)
            spec.array = (first, last, plan.params.array_parallelism)
            render(plan, spec)
    except (MLXPError, ValueError) as exc:
        raise UsageAbort(f"hydra.launcher: {exc}") from None
    if plan.scheduler is not None and not plan.params.dry_run:
        try:
            check_submit_command(plan.scheduler)
        except SubmitError as exc:
            raise UsageAbort(str(exc)) from None


def jobs_of(job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> List[Job]:
    return [Job(idx, list(ov)) for idx, ov in enumerate(job_overrides, start=initial_job_idx)]
