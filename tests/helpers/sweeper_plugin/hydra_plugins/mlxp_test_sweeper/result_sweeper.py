"""A minimal test sweeper that prints each job's status and return value, as an optimising
sweeper (Optuna, Nevergrad) would consume them. Used by tests/test_arrays_wait.py only."""

from dataclasses import dataclass
from typing import Any, List, Optional

from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.plugins.launcher import Launcher
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


@dataclass
class ResultSweeperConf:
    _target_: str = "hydra_plugins.mlxp_test_sweeper.result_sweeper.ResultSweeper"


ConfigStore.instance().store(group="hydra/sweeper", name="result_sweeper",
                             node=ResultSweeperConf, provider="mlxp-tests")


class ResultSweeper(Sweeper):
    def __init__(self) -> None:
        self.launcher: Optional[Launcher] = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        from hydra.core.plugins import Plugins

        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: List[str]) -> Any:
        assert self.launcher is not None
        parsed = OverridesParser.create().parse_overrides(arguments)
        sweep = next(o for o in parsed if o.is_sweep_override())
        fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
        key = sweep.get_key_element()
        batch = [[f"{key}={v}", *fixed] for v in sweep.sweep_string_iterator()]
        for ret in self.launcher.launch(batch, initial_job_idx=0):
            try:
                print("RESULT", ret.overrides[0], ret.status.name, repr(ret.return_value))
            except Exception as exc:  # a failed job re-raises its error here
                print("RESULT", ret.overrides[0], ret.status.name, type(exc).__name__, exc)
