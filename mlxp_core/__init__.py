"""mlxp-core: launch, log and submit ML experiments, built on Hydra.

The public face is the `mlxp` package (`import mlxp`); this package holds the machinery.
Importing it has no side effects and stays cheap: heavy modules load on first use.
"""

__version__ = "0.1.0"
