"""Structured configs stored in Hydra's ConfigStore when Hydra discovers its plugins.

Kept to dataclasses and stdlib imports: Hydra imports this module at every start
(without registering it in sys.modules, so no `from __future__ import annotations` here).
"""

from dataclasses import dataclass, field, make_dataclass
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from mlxp_core.run import CALLBACK_TARGET  # a constant: nothing else is imported


@dataclass
class MLXPCallbackConf:
    """`defaults: [/hydra/callbacks: [mlxp]]` gives a plain Hydra app mlxp's run directories."""

    _target_: str = CALLBACK_TARGET
    # import path (package.module:function) of a function called with config.seed
    seeding_function: Optional[str] = None


@dataclass
class MLXPSweeperConf:
    """`hydra/sweeper=mlxp`: the basic sweeper's sweep, each job's config checked cheaply."""

    _target_: str = "hydra_plugins.mlxp_launcher.sweeper.MLXPSweeper"
    # jobs per launch call; null: the whole sweep in one call
    max_batch_size: Optional[int] = None
    # sweep overrides added before the command line's (as hydra.sweeper.params of the basic one)
    params: Optional[Dict[str, str]] = None


@dataclass
class InlineLauncherConf:
    """`hydra/launcher=mlxp_inline`: the jobs run one after another in this process."""

    _target_: str = "hydra_plugins.mlxp_launcher.launcher.InlineLauncher"


@dataclass
class LauncherConf:
    """Fields shared by every mlxp launcher (`hydra/launcher=mlxp_<scheduler>`)."""

    _target_: str = MISSING
    # interpreter used in the job script; null: the interpreter running the sweep
    python: Optional[str] = None
    # shell lines run in the job before the command (module load, conda activate, export ...)
    setup: List[str] = field(default_factory=list)
    # environment variables exported in the job script
    env: Dict[str, str] = field(default_factory=dict)
    # render the scripts into the run directories, submit nothing
    dry_run: bool = False


@dataclass
class SchedulerLauncherConf(LauncherConf):
    """A batch scheduler: one rendered `script.sh` per job, submitted with its own command."""

    # raw directive lines in the scheduler's own syntax, without the prefix
    directives: List[str] = field(default_factory=list)
    # generic resources, rendered into each scheduler's syntax (null: not requested)
    partition: Optional[str] = None  # queue (OAR, SGE, PBS, LSF, Moab) / partition (SLURM)
    account: Optional[str] = None
    nodes: Optional[int] = None
    cpus: Optional[int] = None  # cores per task
    gpus: Optional[int] = None
    mem: Optional[str] = None  # e.g. 4G, 500M
    time: Optional[str] = None  # walltime: HH:MM:SS, D-HH:MM:SS, or minutes
    # submit the whole sweep as one job array (SLURM --array, SGE -t, OAR --array, ...)
    array: bool = False
    # with array: at most this many tasks running at once (SLURM %N); null: no limit
    array_parallelism: Optional[int] = None
    # wait for the jobs and return their results to Hydra (for optimising sweepers)
    wait: bool = False
    # seconds between two looks at the jobs while waiting
    poll_interval: float = 5.0
    # several processes per job (docs/distributed.md): tasks on each node, CPUs and GPUs of
    # each task (cpus_per_task is `cpus`); more than one task: the command starts through
    # `task_launcher` (null: srun on SLURM, `mpirun -np {tasks}` elsewhere)
    tasks_per_node: Optional[int] = None
    cpus_per_task: Optional[int] = None
    gpus_per_task: Optional[int] = None
    task_launcher: Optional[str] = None
    # the scheduler warns the job N seconds before its walltime: the run calls its checkpoint
    # hook, ends INTERRUPTED and requeues itself (at most max_requeues times for timeouts)
    signal_before_walltime_s: Optional[int] = None
    max_requeues: int = 3
    # seconds allowed for the whole submission (all submit commands of the sweep); a command
    # still running then is killed and the jobs not yet submitted are recorded SUBMIT_FAILED
    submit_timeout: float = 300.0


@dataclass
class LocalLauncherConf(LauncherConf):
    """Run the rendered job scripts as local background processes and wait for them."""

    _target_: str = "hydra_plugins.mlxp_launcher.launcher.LocalLauncher"
    # jobs running at once; null: the number of CPUs
    max_workers: Optional[int] = None
    # several processes per job, started by task_launcher (null: `mpirun -np {tasks}`;
    # e.g. "torchrun --nproc-per-node {tasks_per_node} --no-python")
    tasks_per_node: Optional[int] = None
    gpus_per_task: Optional[int] = None
    task_launcher: Optional[str] = None


def _scheduler_conf(class_name: str) -> Any:
    return make_dataclass(
        f"{class_name}Conf",
        [("_target_", str, field(default=f"hydra_plugins.mlxp_launcher.launcher.{class_name}"))],
        bases=(SchedulerLauncherConf,),
    )


_STORE = ConfigStore.instance()
_STORE.store(group="hydra/callbacks", name="mlxp", node={"mlxp": MLXPCallbackConf}, provider="mlxp")
for _name, _cls in [("slurm", "SlurmLauncher"), ("oar", "OARLauncher"),
                    ("torque", "TorqueLauncher"), ("pbs", "TorqueLauncher"),
                    ("sge", "SGELauncher"), ("mwm", "MWMLauncher"), ("lsf", "LSFLauncher")]:
    _STORE.store(group="hydra/launcher", name=f"mlxp_{_name}", node=_scheduler_conf(_cls),
                 provider="mlxp")
_STORE.store(group="hydra/launcher", name="mlxp_local", node=LocalLauncherConf, provider="mlxp")
_STORE.store(group="hydra/launcher", name="mlxp_inline", node=InlineLauncherConf, provider="mlxp")
_STORE.store(group="hydra/sweeper", name="mlxp", node=MLXPSweeperConf, provider="mlxp")
