"""MLXP's exceptions (``mlxp.errors``), mapped onto mlxp-core's: see mlxp_core.compat.errors."""

from mlxp_core.compat.errors import *  # noqa: F403
from mlxp_core.compat.errors import __all__ as _compat_names
from mlxp_core.errors import MLXPError

__all__ = [*_compat_names, "MLXPError"]
