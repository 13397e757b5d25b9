"""`Context`: what the user's task receives (`ctx.config`, `ctx.mlxp`, `ctx.info`, `ctx.logger`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from omegaconf import DictConfig

from mlxp_core.run.logger import Logger


@dataclass
class Context:
    """The run as the task sees it.

    - `config`: the user's options (config.yaml + command-line overrides), resolved;
      attribute access (`cfg.optimizer.lr`) and dict access (`cfg["optimizer"]["lr"]`).
    - `mlxp`: the effective mlxp settings (`ctx.mlxp.logger.parent_log`), read-only.
    - `info`: facts about the run (status, log_id, log_dir, host, command, git ...), read-only.
    - `logger`: writes metrics, checkpoints and artifacts; None when `use_logger: false`.
    """

    config: DictConfig
    mlxp: DictConfig
    info: DictConfig
    logger: Optional[Logger]
