"""Structured configs stored in Hydra's ConfigStore when Hydra discovers its plugins.

Kept to dataclasses and stdlib imports: Hydra imports this module at every start
(without registering it in sys.modules, so no `from __future__ import annotations` here).
"""

from dataclasses import dataclass
from typing import Optional

from hydra.core.config_store import ConfigStore


@dataclass
class MLXPCallbackConf:
    """`defaults: [/hydra/callbacks: [mlxp]]` gives a plain Hydra app mlxp's run directories."""

    _target_: str = "mlxp_core.callbacks.MLXPCallback"
    # import path (package.module:function) of a function called with config.seed
    seeding_function: Optional[str] = None


ConfigStore.instance().store(
    group="hydra/callbacks", name="mlxp", node={"mlxp": MLXPCallbackConf}, provider="mlxp"
)
