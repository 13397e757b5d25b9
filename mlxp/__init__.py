"""mlxp: launch, log and read ML experiments (the public face of mlxp-core).

    import mlxp

    @mlxp.launch(config_path="./configs", seeding_function=seeding_function)
    def train(ctx: mlxp.Context) -> None: ...

MLXP 1.0.5's public names and modules (`mlxp.logger`, `mlxp.launcher`, `mlxp.reader`,
`mlxp.mlxpsub`, `mlxp.errors`, ...) are here too: docs/mlxp_compat.md.
"""

from typing import Any

from mlxp_core import __version__
from mlxp_core.compat.config_dict import ConfigDict
from mlxp_core.hydra_app.launch import launch
from mlxp_core.run.active import current_run
from mlxp_core.run.context import Context
from mlxp_core.run.logger import DefaultLogger, Logger
from mlxp_core.run.ranks import distributed_env

__all__ = ["ConfigDict", "Context", "DataFrame", "DefaultLogger", "GitVM", "Logger", "Reader",
           "__version__", "current_run", "distributed_env", "launch"]


def __getattr__(name: str) -> Any:
    # the Reader pulls in pandas: load it only when asked for
    if name == "Reader":
        from mlxp_core.reader import Reader

        return Reader
    if name == "DataFrame":
        from mlxp_core.reader.dataframe import DataFrame

        return DataFrame
    if name == "GitVM":
        from mlxp_core.snapshot import GitVM

        return GitVM
    raise AttributeError(f"module 'mlxp' has no attribute {name!r}")
