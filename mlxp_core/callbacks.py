"""`mlxp_core.callbacks.MLXPCallback`: the `_target_` users write in their Hydra config.

Kept at this path for those configs; the callback lives in :mod:`mlxp_core.run.callbacks`.
"""

from mlxp_core.run.callbacks import MLXPCallback

__all__ = ["MLXPCallback"]
