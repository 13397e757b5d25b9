"""The launcher's parameters, typed and validated once.

Built from the Hydra launcher config (`hydra.launcher.*`, see
`hydra_plugins/mlxp_launcher/config.py`) and, under `mlxpsub`, the hand-off of the batch
script (`handoff.HandOff`). Every other module reads these fields, never the raw config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

from omegaconf import OmegaConf

from mlxp_core.submit.handoff import HandOff

# the generic resources every scheduler renders in its own syntax (schedulers.base)
RESOURCE_FIELDS = ("partition", "account", "nodes", "cpus", "gpus", "mem", "time",
                   "tasks_per_node", "cpus_per_task", "gpus_per_task",
                   "signal_before_walltime_s")


class LauncherParamsError(ValueError):
    """A `hydra.launcher.*` value is out of range."""


@dataclass
class LauncherParams:
    """`hydra.launcher.*` of an mlxp launcher, plus what `mlxpsub` handed over."""

    scheduler: str  # `local`, or a name in `mlxp_core.schedulers`
    python: Optional[str] = None
    setup: List[str] = field(default_factory=list)
    env: Dict[str, str] = field(default_factory=dict)
    dry_run: bool = False
    directives: List[str] = field(default_factory=list)
    resources: Dict[str, Any] = field(default_factory=dict)  # RESOURCE_FIELDS that are set
    array: bool = False
    array_parallelism: Optional[int] = None
    wait: bool = False
    poll_interval: float = 5.0
    # seconds for the whole submission (every submit command of the sweep); then the command
    # that hangs is killed and the jobs not submitted yet are recorded SUBMIT_FAILED
    submit_timeout: float = 300.0
    max_workers: Optional[int] = None  # mlxp_local only
    # several tasks per job (docs/distributed.md): what starts them, None: the scheduler's
    task_launcher: Optional[str] = None
    # walltime warnings that may requeue the job (preemptions are not counted)
    max_requeues: int = 3
    # from the mlxpsub hand-off
    teardown: List[str] = field(default_factory=list)
    launcher_words: List[str] = field(default_factory=list)
    interpreter_flags: Optional[List[str]] = None
    report: Optional[str] = None

    @property
    def local(self) -> bool:
        return self.scheduler == "local"


def _plain(value: Any) -> Any:
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def build(scheduler: str, raw: Mapping[str, Any], spec: Optional[HandOff]) -> LauncherParams:
    """The typed parameters of a launcher (`raw`: its Hydra config fields) and hand-off."""
    values = {str(k): _plain(v) for k, v in raw.items()}
    params = LauncherParams(
        scheduler=scheduler,
        python=values.get("python"),
        setup=[str(x) for x in values.get("setup") or []],
        env={str(k): str(v) for k, v in (values.get("env") or {}).items()},
        dry_run=bool(values.get("dry_run")),
        directives=[str(x) for x in values.get("directives") or []],
        resources={k: values[k] for k in RESOURCE_FIELDS if values.get(k) not in (None, "")},
        array=bool(values.get("array")),
        array_parallelism=values.get("array_parallelism"),
        wait=bool(values.get("wait")),
        poll_interval=float(values.get("poll_interval") or 5.0),
        submit_timeout=float(300.0 if values.get("submit_timeout") is None
                             else values["submit_timeout"]),
        max_workers=values.get("max_workers"),
        task_launcher=values.get("task_launcher") or None,
        max_requeues=int(values["max_requeues"]) if values.get("max_requeues") is not None
        else 3,
    )
    if spec is not None:
        params.directives = [*spec.directives, *params.directives]
        params.setup = [*spec.setup, *params.setup]
        params.teardown = list(spec.teardown)
        params.launcher_words = list(spec.launcher_words)
        params.python = params.python or spec.python
        params.interpreter_flags = spec.interpreter_flags
        params.report = spec.report
    validate(params)
    return params


def validate(params: LauncherParams) -> None:
    """Range checks of the numbers (Hydra's structured config has checked the types)."""
    if params.max_workers is not None and params.max_workers < 1:
        raise LauncherParamsError(
            f"hydra.launcher.max_workers must be at least 1, got {params.max_workers}")
    if params.array_parallelism is not None and params.array_parallelism < 1:
        raise LauncherParamsError(
            "hydra.launcher.array_parallelism must be at least 1 (or null: no limit), got "
            f"{params.array_parallelism}")
    if not params.submit_timeout > 0:  # NaN too
        raise LauncherParamsError(
            "hydra.launcher.submit_timeout must be a positive number of seconds (the time "
            f"allowed for the whole submission), got {params.submit_timeout}")
    if params.max_requeues < 0:
        raise LauncherParamsError(
            f"hydra.launcher.max_requeues must be 0 or more, got {params.max_requeues}")
    if params.poll_interval <= 0:
        raise LauncherParamsError(
            f"hydra.launcher.poll_interval must be a positive number of seconds, got "
            f"{params.poll_interval}")
