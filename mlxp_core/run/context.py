"""`Context`: what the user's task receives (`ctx.config`, `ctx.mlxp`, `ctx.info`, `ctx.logger`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from omegaconf import DictConfig

from mlxp_core.run.logger import Logger


@dataclass
class Context:
    """The run as the task sees it.

    - `config`: the user's options (config.yaml + command-line overrides), resolved
      (`resolve: true`); attribute access (`cfg.optimizer.lr`) and dict access
      (`cfg["optimizer"]["lr"]`); an `mlxp.ConfigDict` (`as_ConfigDict: true`, MLXP's
      default; `cfg.to_dict()`) or Hydra's DictConfig (`as_ConfigDict: false`).
    - `mlxp`: the effective mlxp settings (`ctx.mlxp.logger.parent_log_dir`), read-only.
    - `info`: facts about the run (status, log_id, log_dir, host, command, git ...), read-only.
    - `logger`: writes metrics, checkpoints and artifacts; None when `use_logger: false`.
    - `info.rank`, `info.local_rank`, `info.world_size`, `info.num_nodes`, `info.nodes`: this
      process's place in a run executed by several processes (docs/distributed.md).
    - `on_checkpoint(fn)`: call `fn()` on the scheduler's walltime/preemption warning.
    """

    config: Any  # mlxp.ConfigDict or DictConfig
    mlxp: DictConfig
    info: DictConfig
    logger: Optional[Logger]

    def on_checkpoint(self, hook: Callable[[], Any]) -> Callable[[], Any]:
        """Register `hook()` to save a checkpoint when the scheduler warns that the walltime is
        near (`hydra.launcher.signal_before_walltime_s`) or the job is preempted.

        Called on rank 0 only, in registration order, within the warning time; the run then
        ends INTERRUPTED and requeues itself, and the next attempt resumes in the same run
        directory (`ctx.logger.load_checkpoint`). Usable as a decorator. See
        docs/distributed.md.
        """
        from mlxp_core.run.active import current_run

        return current_run().on_checkpoint(hook)
