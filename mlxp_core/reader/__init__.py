"""Read the results of many runs: an incremental index, a query language, pandas results.

    from mlxp_core.reader import Reader        # also: mlxp.Reader
    reader = Reader("./logs")
    runs = reader.filter("info.status == 'COMPLETE' & config.seed in [1, 2]")
    train = reader.metrics(runs, "train")      # log_id, step, train.<key> ...

See docs/reader.md.
"""

from mlxp_core.reader._util import Problem
from mlxp_core.reader.artifacts import Artifact
from mlxp_core.reader.errors import QueryError, QuerySyntaxError, ReaderError, UnknownKeyError
from mlxp_core.reader.reader import Reader

__all__ = [
    "Artifact",
    "Problem",
    "QueryError",
    "QuerySyntaxError",
    "Reader",
    "ReaderError",
    "UnknownKeyError",
]
