"""Is MLXP itself (the `mlxp` distribution on PyPI) installed next to mlxp-core?

Both provide the top-level package `mlxp`: pip installs the second over the first without a
word, so `import mlxp` then mixes files of both. The console scripts (`mlxp`, `mlxpsub`) check
this first, from package metadata only (nothing is imported), and stop with one message.
"""

from __future__ import annotations

from importlib import metadata
from typing import Optional

OTHER = "mlxp"  # MLXP's distribution name; ours is mlxp-core


def conflict() -> Optional[str]:
    """The message to show when MLXP's distribution is installed too, else None."""
    try:
        other = metadata.distribution(OTHER)
    except metadata.PackageNotFoundError:
        return None
    where = getattr(other, "_path", None)
    return (f"MLXP {other.version} (the 'mlxp' distribution{f', {where}' if where else ''}) is "
            "installed in this environment together with mlxp-core; both provide the Python "
            "package 'mlxp', so each install overwrote the other's files. Keep one: "
            "`pip uninstall mlxp` then `pip install --force-reinstall mlxp-core` (mlxp-core "
            "runs MLXP 1.0.5 code unchanged), or use separate virtual environments")
