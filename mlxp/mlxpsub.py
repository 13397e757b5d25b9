"""MLXP's ``mlxp.mlxpsub`` module: the ``mlxpsub`` command (``main``), see docs/mlxpsub.md."""

import sys
from typing import List, Optional

from mlxp_core.cli.mlxpsub import main as _main

__all__ = ["main", "mlxpsub"]


def main(argv: Optional[List[str]] = None) -> int:
    """``mlxpsub script.sh``: submit the script's sweeps; the exit status (0 = all submitted)."""
    return _main(argv)


def mlxpsub() -> None:
    """Run ``mlxpsub`` with this process's command line and exit with its status."""
    sys.exit(_main(sys.argv[1:]))
