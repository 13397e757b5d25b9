"""Small helpers of the Reader: problems, GC pause, cache directory, DataFrame dtypes."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("mlxp.reader")


@dataclass(frozen=True)
class Problem:
    """Something wrong in one run directory, found while indexing it or loading its metrics."""

    log_id: Optional[int]  # None: an entry of the logs directory that is not a run
    log_dir: str
    file: str  # relative to the run directory ('.' for the directory itself)
    message: str
    severity: str  # 'warning' (data is missing or was skipped) or 'note' (expected, e.g. a
    #               run being created, or a partial last metric line of a killed job)

    def __str__(self) -> str:
        return f"{self.severity}: {os.path.join(self.log_dir, self.file)}: {self.message}"


def user_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "mlxp", "reader")


def log_new(problems: list[Problem]) -> None:
    """One warning for the new warnings of a call, one info line for the new notes."""
    for severity, emit in (("warning", log.warning), ("note", log.info)):
        found = [p for p in problems if p.severity == severity]
        if found:
            more = f"; and {len(found) - 3} more" if len(found) > 3 else ""
            emit("mlxp reader: %d %s(s) while reading metrics: %s%s (see reader.report())",
                 len(found), severity, "; ".join(str(p) for p in found[:3]), more)


def problem_text(problems: Optional[list[tuple[str, str, str]]]) -> Optional[str]:
    if not problems:
        return None
    return "; ".join(f"{file}: {message}" for file, message, _ in problems)




def nullable_dtypes(frame: pd.DataFrame, columns: Mapping[str, Sequence[Any]]) -> dict[str, str]:
    """Columns of ints or booleans with missing values: 'Int64' / 'boolean' instead of
    float64 / object, so that seeds stay 1, 2, 3 and not 1.0, 2.0, 3.0."""
    out = {}
    for name, dtype in frame.dtypes.items():
        kind = getattr(dtype, "kind", "")
        if kind == "f" and frame[name].hasnans:
            types = set(map(type, columns[name]))
            if types == {int, type(None)}:
                out[str(name)] = "Int64"
        elif kind == "O":
            types = set(map(type, columns[name]))
            if types == {bool, type(None)}:
                out[str(name)] = "boolean"
    return out
