"""What every job of one launch shares (`Plan`), and the `JobSpec` of each job.

Built once per `launch` call from the launcher (its typed parameters and Hydra config) and
how this head process was started; the per-job work (`batch`, `arrays`, `local`) reads it.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from omegaconf import DictConfig

from mlxp_core.errors import MLXPError, UsageAbort
from mlxp_core.hydra_app.defaults import uses_mlxp_output
from mlxp_core.record import info as run_info
from mlxp_core.record import layout
from mlxp_core.record.facts import command_line
from mlxp_core.run.job_config import has_mlxp_callback, mlxp_overrides, primary_config_dir
from mlxp_core.schedulers import Scheduler, get_scheduler
from mlxp_core.schedulers.base import JobSpecError, parse_resources
from mlxp_core.schedulers.commands import (
    SubmitError,
    check_submit_command,
    local_gpus,
    max_node_gpus,
)
from mlxp_core.schedulers.render import JobSpec, render_local_script, render_script
from mlxp_core.settings import (
    SCRIPT_DIR_ENV,
    effective_settings,
    is_setting_override,
    overrides_to_dict,
    resolve_parent_log,
)
from mlxp_core.snapshot import SNAPSHOT_ENV
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
    # the sweep this launch is (part of): `record.info.sweep_record`, recorded by every run
    sweep: Dict[str, Any] = field(default_factory=dict)
    settings_cache: Dict[Tuple[str, ...], Dict[str, Any]] = field(default_factory=dict)
    parent_cache: Dict[Tuple[str, ...], Path] = field(default_factory=dict)

    @property
    def scheduler_name(self) -> str:
        return self.scheduler.name if self.scheduler else "local"

    @functools.cached_property
    def task_name(self) -> str:
        """Hydra's job name (read once: an OmegaConf lookup per job costs 80 us)."""
        return str(self.config.hydra.job.name)


def make_plan(launcher: Any) -> Plan:
    """The plan of one launch: the launcher's parameters, Hydra config and invocation."""
    config = launcher.config
    name = launcher.scheduler_name
    spec = handoff.read_spec()
    try:
        params = build(name, launcher.params, spec)
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
        sweep=run_info.sweep_record(
            (spec.sweep_id if spec else None) or run_info.new_sweep_id(),
            (spec.sweep_command if spec else None) or command_line()),
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


# what starts the tasks of an mlxp_local job (hydra.launcher.task_launcher wins)
LOCAL_TASK_LAUNCHER = "mpirun -np {tasks}"


def job_spec(plan: Plan, job: Job) -> JobSpec:
    """The scheduler-neutral description of a job's script (rendered by `schedulers.render`)."""
    assert job.run_dir is not None
    rel = os.path.relpath(job.run_dir, plan.workdir)
    tasks = task_layout(plan)
    argv = command.job_argv(
        tasks.launcher_words, plan.python, plan.invocation, job.overrides,
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
        env={**plan.params.env, layout.RUN_DIR_ENV: str(job.run_dir),
             **({layout.SWEEP_ENV: plan.sweep["id"]} if plan.sweep else {}), **tasks.env,
             # a command running from its code snapshot: its jobs too (mlxp_core.snapshot)
             **{k: os.environ[k] for k in (SNAPSHOT_ENV, SCRIPT_DIR_ENV) if k in os.environ}},
        forward_signal=tasks.forward_signal,
        requeue_exit=tasks.requeue_exit,
    )


@dataclass
class TaskLayout:
    """How a job's command is started (several tasks) and warned before its walltime."""

    launcher_words: List[str]
    env: Dict[str, str]
    forward_signal: Optional[str] = None
    requeue_exit: Optional[int] = None


def task_layout(plan: Plan) -> TaskLayout:
    """The task launcher words (the user's own `srun ...` prefix from mlxpsub wins) and the
    walltime-warning settings the job script carries (docs/distributed.md)."""
    res = parse_resources(plan.params.resources)
    tasks = res.node_tasks * (res.nodes or 1)
    words = list(plan.params.launcher_words)
    if not words and tasks > 1:
        template = plan.params.task_launcher or (
            plan.scheduler.task_launcher if plan.scheduler else LOCAL_TASK_LAUNCHER)
        try:
            text = template.format(tasks=tasks, tasks_per_node=res.node_tasks,
                                   nodes=res.nodes or 1, python=shlex.quote(plan.python))
        except (KeyError, IndexError, ValueError) as exc:
            raise JobSpecError(
                f"task_launcher {template!r}: unknown placeholder {exc}; use {{tasks}}, "
                "{tasks_per_node}, {nodes} or {python}") from None
        words = shlex.split(text)
    env: Dict[str, str] = {}
    layout_ = TaskLayout(words, env)
    if res.signal_before_s and plan.scheduler is not None:
        env[layout.WARNING_ENV] = str(res.signal_before_s)
        env[layout.MAX_REQUEUES_ENV] = str(plan.params.max_requeues)
        if res.time_s:
            env[layout.WALLTIME_ENV] = str(res.time_s)
        sig = plan.scheduler.warning_signal
        layout_.forward_signal = sig[3:] if sig.startswith("SIG") else (sig or None)
        layout_.requeue_exit = plan.scheduler.requeue_exit_status
    return layout_


def launcher_record(plan: Plan) -> Dict[str, Any]:
    """What `mlxp rerun` needs to submit a run's `script.sh` again under a fresh header (the
    body of the script, setup to command, stays as rendered): `submit.launcher` in info.yaml."""
    return {
        "directives": list(plan.params.directives),
        "resources": dict(plan.params.resources),
        "workdir": plan.workdir,
        "array_parallelism": plan.params.array_parallelism,
    }


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
    _check_gpus(plan)
    words = task_layout(plan).launcher_words
    if plan.scheduler is None and words and shutil.which(words[0]) is None:
        raise UsageAbort(
            f"hydra.launcher.task_launcher: {words[0]!r} is not on PATH (it starts the "
            "tasks of each job); install it or give another, e.g. "
            "hydra.launcher.task_launcher='torchrun --nproc-per-node {tasks_per_node} "
            "--no-python'")
    if plan.scheduler is not None and not plan.params.dry_run:
        try:
            check_submit_command(plan.scheduler)
        except SubmitError as exc:
            raise UsageAbort(str(exc)) from None


def _check_gpus(plan: Plan) -> None:
    """More GPUs on a node than the largest node has: an error before anything is submitted
    (mlxp_local: this machine; a scheduler that can list its nodes' GPUs: that list)."""
    res = parse_resources(plan.params.resources)
    wanted = res.node_gpus
    if not wanted:
        return
    if plan.scheduler is None:
        have, where = local_gpus(), "this machine has"
    elif plan.params.dry_run:
        return
    else:
        have, where = max_node_gpus(plan.scheduler), "the largest node of the cluster has"
        if have is None:
            return
    if wanted > have:
        field = ("gpus_per_task" if res.gpus_per_task else "gpus")
        detail = (f"{res.gpus_per_task} per task x {res.node_tasks} tasks per node = {wanted}"
                  if res.gpus_per_task else str(wanted))
        raise UsageAbort(f"hydra.launcher.{field}: {detail} GPUs on one node, but {where} "
                         f"{have}")


def jobs_of(job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> List[Job]:
    return [Job(idx, list(ov)) for idx, ov in enumerate(job_overrides, start=initial_job_idx)]
