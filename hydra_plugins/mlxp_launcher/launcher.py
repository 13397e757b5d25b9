"""Thin Hydra launchers; the work is done in `mlxp_core.submit` (imported on first launch).

`hydra/launcher=mlxp_slurm` (or `mlxp_oar`, `mlxp_torque`/`mlxp_pbs`, `mlxp_sge`, `mlxp_mwm`,
`mlxp_lsf`) renders one job script per sweep point into its run directory and submits it;
`hydra/launcher=mlxp_local` runs the same scripts as local background processes;
`hydra/launcher=mlxp_inline` runs the jobs one after another in this process
(`mlxp_core.hydra_app.inline`).
"""

from abc import abstractmethod
from typing import Any, Optional, Sequence

from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class _KeepsSetup(Launcher):
    """What Hydra's `setup` hands a launcher, kept (abstract: no `launch`, not a plugin)."""

    def __init__(self) -> None:
        self.config: Optional[DictConfig] = None
        self.hydra_context: Optional[HydraContext] = None
        self.task_function: Optional[TaskFunction] = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function


class MLXPLauncher(_KeepsSetup):
    """Base of the mlxp launchers (abstract, so Hydra does not list it as a plugin)."""

    def __init__(self, **params: Any) -> None:
        super().__init__()
        self.params = params

    @property
    @abstractmethod
    def scheduler_name(self) -> str:
        """`local`, or the name of a description in `mlxp_core.schedulers`."""

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        from mlxp_core.submit import batch

        return batch.launch(self, job_overrides, initial_job_idx)


class LocalLauncher(MLXPLauncher):
    scheduler_name = "local"

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        from mlxp_core.submit import local

        return local.launch(self, job_overrides, initial_job_idx)


class SlurmLauncher(MLXPLauncher):
    scheduler_name = "slurm"


class OARLauncher(MLXPLauncher):
    scheduler_name = "oar"


class TorqueLauncher(MLXPLauncher):
    scheduler_name = "torque"


class SGELauncher(MLXPLauncher):
    scheduler_name = "sge"


class MWMLauncher(MLXPLauncher):
    scheduler_name = "mwm"


class LSFLauncher(MLXPLauncher):
    scheduler_name = "lsf"


class InlineLauncher(_KeepsSetup):
    """Hydra's basic launcher, each job's config derived instead of composed from scratch."""

    def __init__(self) -> None:
        super().__init__()
        self.composer: Any = None  # the mlxp sweeper hands over its composer (hydra_app.sweep)

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        from mlxp_core.hydra_app import inline

        return inline.launch(self, job_overrides, initial_job_idx)
