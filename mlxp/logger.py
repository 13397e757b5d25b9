"""MLXP's ``mlxp.logger`` module: ``Logger`` and ``DefaultLogger`` (docs/mlxp_compat.md).

``Logger(parent_log_dir, forced_log_id=-1, log_streams_to_file=False)`` creates (or, with a
forced id, adopts) ``<parent_log_dir>/<id>``; ``ctx.logger`` in a task is one of these.
"""

from mlxp_core.run.logger import DefaultLogger, Logger

__all__ = ["DefaultLogger", "Logger"]
