"""`hydra/sweeper=mlxp`: Hydra's basic sweep without composing every job on the head.

The work is done in `mlxp_core.hydra_app.sweep` (imported on first use: Hydra imports this module at
every start).
"""

from typing import Any, Dict, List, Optional, Sequence

from hydra.plugins.launcher import Launcher
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class MLXPSweeper(Sweeper):
    """The basic sweeper's expansion, batching and failure semantics; cheap validation."""

    def __init__(
        self, max_batch_size: Optional[int] = None, params: Optional[Dict[str, str]] = None
    ) -> None:
        self.max_batch_size = max_batch_size
        self.params: Dict[str, str] = dict(params or {})
        self.hydra_context: Optional[HydraContext] = None
        self.config: Optional[DictConfig] = None
        self.launcher: Optional[Launcher] = None
        self.composer: Any = None  # hydra_app.sweep.Composer, made on first use

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        from hydra.core.plugins import Plugins

        self.hydra_context = hydra_context
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: List[str]) -> Any:
        from mlxp_core.hydra_app import sweep

        return sweep.run_sweep(self, arguments)

    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        from mlxp_core.hydra_app import sweep

        assert self.hydra_context is not None and self.config is not None
        sweep.composer_for(self, self.hydra_context.config_loader, self.config).check_all(batch)
