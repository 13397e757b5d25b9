"""Console scripts: `mlxp` (status, cancel, rerun, logs, report) and `mlxpsub`.

The top of the import graph: nothing in `mlxp_core` imports this package.
"""
