"""Groups of runs and what a group's curve and summary values are: the one place for both.

The HTML report and ``Reader.plot`` call these functions, so the page and a notebook show the
same numbers. Definitions (docs/report.md):

* A *group* is the set of selected runs that share the values of the grouping keys (by
  default the swept config keys: those that vary among the selected runs, minus any key named
  ``seed``). Values are compared by content, so lists and strings group like numbers do.
* A group's *curve* at each x is the mean over the group's runs that have a finite value
  there; several lines of one run at the same x (``--x epoch`` with per-batch lines) are first
  averaged within the run. NaN and +-inf points are left out (counted in the table instead).
* The *band* is mean +- the sample standard deviation (``std``) or the min-max range
  (``minmax``) over those runs, only where at least two runs have a value: a one-run group has
  no band.
* *final* is the mean over the group's runs of each run's last value; *best* is the best point
  of the group's mean curve (lowest, or highest for accuracy-like names).

Cost: one pass of pandas ``groupby`` over the long metric frame (a million rows in about a
second on one core); the metric files themselves are parsed by the Reader, once per file.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

from mlxp_core.report.errors import ReportError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlxp_core.reader import Reader

SEED_NAMES = frozenset({"seed"})
# keys that count progress: an x axis, not a metric (left out of the default metric list)
COUNTERS = frozenset({"epoch", "step", "iter", "iteration", "global_step"})
BANDS = ("std", "minmax", "none")
LINE = "step"  # the reader's column holding the line number of a metric file
_MAX_TOKENS = frozenset({"acc", "accuracy", "score", "auc", "auroc", "f1", "precision", "recall",
                         "reward", "return", "iou", "miou", "bleu", "rouge", "map", "top1",
                         "top5", "r2", "psnr", "ssim"})
_MISSING = ("\0missing",)  # the grouping value of a run that does not have the key


# ---------------------------------------------------------------------------------------------
# Keys and metric names
# ---------------------------------------------------------------------------------------------


def closest(name: str, known: Iterable[str], n: int = 5) -> list[str]:
    """The known names closest to ``name`` (also matching without ``config.``/``info.``)."""
    known = list(known)
    bare = {k.split(".", 1)[1] if k.startswith(("config.", "info.")) else k: k for k in known}
    near = difflib.get_close_matches(name, known, n=n, cutoff=0.5)
    near += [bare[b] for b in difflib.get_close_matches(name, list(bare), n=n, cutoff=0.5)]
    return list(dict.fromkeys(near))[:n]


def resolve_key(name: str, columns: Sequence[str]) -> str:
    """The run column ``name`` means: itself, or ``config.<name>``, or ``info.<name>``."""
    for candidate in (name, f"config.{name}", f"info.{name}"):
        if candidate in columns:
            return candidate
    near = closest(name, [c for c in columns if c != "problems"])
    hint = f"; closest: {', '.join(near)}" if near else ""
    raise ReportError(f"no selected run has the key {name!r} to group by{hint} "
                      "(keys are config.<key>, info.<key>, log_id; `mlxp report --help`)")


def short_names(keys: Sequence[str]) -> list[str]:
    """Readable names for column keys: the shortest unique dotted suffix (``lr`` for
    ``config.optimizer.lr`` unless another key also ends with ``lr``)."""
    parts = [k.split(".") for k in keys]
    out = []
    for p in parts:
        start = 1 if p[0] in ("config", "info") and len(p) > 1 else 0
        for n in range(1, len(p) - start + 1):
            suffix = p[-n:]
            if sum(q[-n:] == suffix for q in parts) == 1:
                break
        out.append(".".join(suffix))
    return out


@dataclass(frozen=True)
class MetricRef:
    """A metric named ``<log_name>.<key>``: the key ``key`` of ``metrics/<log_name>.json``."""

    log_name: str
    key: str

    @property
    def name(self) -> str:
        return f"{self.log_name}.{self.key}"


def metric_catalog(reader: Reader) -> tuple[list[str], list[MetricRef]]:
    """The metric log names and every ``log_name.key`` the Reader's runs have.

    ``Reader.fields()`` lists both the log names and the ``log_name.key`` names, in one
    column; a name that another one extends with ``.`` is a log name.
    """
    summary = getattr(reader, "field_summary", None)  # newer Reader: fields is MLXP's table
    fields = summary() if callable(summary) else reader.fields()
    names = [str(k) for k in fields.loc[fields["kind"] == "metric", "key"]]
    logs = sorted({n for n in names if any(m.startswith(n + ".") for m in names)},
                  key=len, reverse=True)
    metrics = []
    for n in names:
        log_name = next((lg for lg in logs if n.startswith(lg + ".")), None)
        if log_name is not None:
            metrics.append(MetricRef(log_name, n[len(log_name) + 1:]))
    return logs, metrics


def select(reader: Reader, query: str = "") -> pd.DataFrame:
    """The runs matching ``query`` as a pandas DataFrame (one row per run, config and info
    columns), whatever form ``Reader.filter`` returns (pandas, or MLXP's lazy DataFrame,
    whose rows are then matched by log id in ``reader.runs``; metrics are not loaded)."""
    result = reader.filter(query)
    if hasattr(result, "columns") and hasattr(result, "iloc"):
        return result.reset_index(drop=True)
    wanted = {int(row["log_id"]) for row in result}
    runs = reader.runs
    return runs[runs["log_id"].isin(wanted)].reset_index(drop=True)


def parse_metric(name: str, logs: Sequence[str], metrics: Sequence[MetricRef]) -> MetricRef:
    """``train.loss`` -> MetricRef('train', 'loss'); an unknown name gives the closest ones."""
    if name in {m.name for m in metrics}:
        return next(m for m in metrics if m.name == name)
    near = difflib.get_close_matches(name, [m.name for m in metrics], n=5, cutoff=0.5)
    hint = f"; closest: {', '.join(near)}" if near else (
        f"; metrics: {', '.join(m.name for m in metrics[:12])}" if metrics
        else "; no run has metrics")
    raise ReportError(f"no run has the metric {name!r} (a metric is <log_name>.<key>, e.g. "
                      f"train.loss for the key 'loss' of metrics/train.json){hint}")


def direction_of(metric: str) -> str:
    """'max' for accuracy-like names (acc, accuracy, f1, reward ...), else 'min' (losses)."""
    key = metric.rsplit(".", 1)[-1].lower()
    tokens = [t for t in re.split(r"[^a-z0-9]+", key) if t]
    if any(t in _MAX_TOKENS or t.startswith("acc") for t in tokens):
        return "max"
    return "min"


def parse_best_by(spec: str) -> tuple[str, Optional[str]]:
    """``METRIC[:min|max]`` -> (metric, direction or None)."""
    name, sep, direction = spec.rpartition(":")
    if not sep:
        return spec, None
    if direction not in ("min", "max"):
        raise ReportError(f"--best-by {spec!r}: the part after ':' must be 'min' or 'max'")
    return name, direction


# ---------------------------------------------------------------------------------------------
# Groups
# ---------------------------------------------------------------------------------------------


def _value(v: Any) -> Any:
    """A hashable, comparable grouping value (missing values are one value)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return _MISSING
    if hasattr(v, "item") and not isinstance(v, (list, dict, str)):  # numpy scalar
        try:
            v = v.item()
        except (ValueError, TypeError):
            pass
    try:
        import pandas as pd

        if v is pd.NA:
            return _MISSING
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v, sort_keys=True, default=str)
    return v


def display(v: Any) -> str:
    """How a grouping value is shown: as the config has it; a missing key as '(none)'."""
    if v is _MISSING:
        return "(none)"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _sort_key(v: Any) -> tuple[int, Any]:
    if v is _MISSING:
        return (3, "")
    if isinstance(v, bool):
        return (1, int(v))
    if isinstance(v, (int, float)):
        return (0, v)
    return (2, str(v))


def swept_keys(runs: pd.DataFrame) -> list[str]:
    """Config keys whose value differs among ``runs``, minus keys named ``seed``."""
    out = []
    for col in runs.columns:
        if not str(col).startswith("config.") or col.rsplit(".", 1)[-1] in SEED_NAMES:
            continue
        if len({_value(v) for v in runs[col]}) > 1:
            out.append(col)
    return out


@dataclass
class Grouping:
    """The selected runs split into groups, in display order (sorted by the key values)."""

    keys: list[str]  # full column names ([] = one group of every run)
    short: list[str]  # readable names of the keys
    values: list[tuple[Any, ...]]  # per group: the grouping values
    runs: list[list[int]]  # per group: its log ids
    of_run: dict[int, int] = field(default_factory=dict)  # log id -> group index

    def __len__(self) -> int:
        return len(self.runs)

    def label(self, g: int) -> str:
        if not self.keys:
            return "all runs"
        return ", ".join(f"{k}={display(v)}" for k, v in zip(self.short, self.values[g]))

    def shown(self, g: int) -> list[str]:
        return [display(v) for v in self.values[g]]


def group_runs(runs: pd.DataFrame, keys: Sequence[str]) -> Grouping:
    """Split ``runs`` (a Reader result) by the values of ``keys`` (full column names)."""
    ids = [int(i) for i in runs["log_id"]]
    columns = [[_value(v) for v in runs[k]] for k in keys]
    members: dict[tuple[Any, ...], list[int]] = {}
    for row, log_id in enumerate(ids):
        members.setdefault(tuple(c[row] for c in columns), []).append(log_id)
    order = sorted(members, key=lambda t: tuple(_sort_key(v) for v in t))
    grouping = Grouping(list(keys), short_names(keys), order, [members[t] for t in order])
    grouping.of_run = {i: g for g, group in enumerate(grouping.runs) for i in group}
    return grouping


def choose_groups(runs: pd.DataFrame, group_by: Optional[Sequence[str]]) -> Grouping:
    """Groups by ``group_by`` (names as in the config, or full columns); default: swept keys."""
    if group_by is None:
        keys = swept_keys(runs)
    else:
        columns = list(runs.columns)
        keys = list(dict.fromkeys(resolve_key(k, columns) for k in group_by))
    return group_runs(runs, keys)


# ---------------------------------------------------------------------------------------------
# Loading metric frames
# ---------------------------------------------------------------------------------------------


def load_log(reader: Reader, ids: Sequence[int], log_name: str, chunk: int = 500,
             progress: Any = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The long frame and the last-values frame of ``metrics/<log_name>.json`` of ``ids``.

    Read in chunks so that a progress bar can move; the Reader parses each file once and
    keeps it, so the ``last=True`` frame costs no second parse.
    """
    import pandas as pd

    from mlxp_core.reader import UnknownKeyError

    longs, lasts = [], []
    for start in range(0, len(ids), chunk):
        part = list(ids[start:start + chunk])
        try:
            longs.append(reader.metrics(part, log_name))
            lasts.append(reader.metrics(part, log_name, last=True))
        except UnknownKeyError:
            pass  # none of these runs has the file
        if progress is not None:
            progress.update(len(part))
    if not longs:
        return pd.DataFrame({"log_id": [], LINE: []}), pd.DataFrame({"log_id": []})
    return (pd.concat(longs, ignore_index=True, sort=False),
            pd.concat(lasts, ignore_index=True, sort=False))


def numeric(column: pd.Series) -> np.ndarray:
    """A metric column as floats (non-numbers become NaN; booleans are not metrics)."""
    import numpy as np
    import pandas as pd

    if column.dtype == object:
        column = column.map(lambda v: None if isinstance(v, (bool, str, list, dict)) else v)
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


# ---------------------------------------------------------------------------------------------
# Aggregation
# ---------------------------------------------------------------------------------------------


@dataclass
class Curve:
    """One group's curve of one metric."""

    group: int  # index in the Grouping
    x: np.ndarray
    mean: np.ndarray
    lo: Optional[np.ndarray]  # None: no band (fewer than two runs, or band 'none')
    hi: Optional[np.ndarray]
    n: np.ndarray  # runs with a finite value at each x


@dataclass
class GroupStat:
    """One group's summary of one metric."""

    runs: int  # runs of the group that have the metric
    final: float  # mean over those runs of each run's last value (finite ones only)
    best: float  # best point of the mean curve
    best_x: float
    nonfinite: int  # runs whose last value is NaN or +-inf


@dataclass
class MetricSummary:
    """Everything the report shows about one metric."""

    metric: MetricRef
    x_label: str
    direction: str  # 'min' or 'max'
    band: str
    curves: dict[int, Curve]  # group index -> curve (groups with data only)
    stats: dict[int, GroupStat]
    logy: bool
    dropped_points: int  # +-inf points left out of the curves (a NaN cannot be told from
    #                      a line without the key in the Reader's frame)

    @property
    def name(self) -> str:
        return self.metric.name


def x_column(frame: pd.DataFrame, metric: MetricRef, x: Optional[str]) -> Optional[str]:
    """The column of ``frame`` holding the x values: the logged key ``x`` of the metric's
    file (``epoch`` or ``train.epoch``), or the line number; None if the file lacks ``x``."""
    if x is None:
        return LINE
    key = x[len(metric.log_name) + 1:] if x.startswith(metric.log_name + ".") else x
    column = f"{metric.log_name}.{key}"
    if column in frame.columns:
        return column
    if key == LINE:
        return LINE
    return None


def summarize(frame: pd.DataFrame, lasts: pd.DataFrame, metric: MetricRef, x_col: str,
              grouping: Grouping, direction: str, band: str = "std",
              logy: Optional[bool] = None) -> MetricSummary:
    """Curves and per-group values of ``metric`` from the Reader's long and last frames."""
    import numpy as np
    import pandas as pd

    if band not in BANDS:
        raise ReportError(f"band must be one of {', '.join(BANDS)}, not {band!r}")
    x_label = "step (line of the metrics file)" if x_col == LINE else x_col
    summary = MetricSummary(metric, x_label, direction, band, {}, {}, False, 0)
    if metric.name not in frame.columns or frame.empty:
        return summary
    values = numeric(frame[metric.name])
    xs = frame[LINE].to_numpy(dtype=float) if x_col == LINE else numeric(frame[x_col])
    ids = frame["log_id"].to_numpy()
    groups = pd.Series(ids).map(grouping.of_run).to_numpy(dtype=float, na_value=np.nan)
    present = ~np.isnan(values) & np.isfinite(xs) & ~np.isnan(groups)
    finite = present & np.isfinite(values)
    summary.dropped_points = int(present.sum() - finite.sum())
    data = pd.DataFrame({"g": groups[finite].astype(np.int64), "run": ids[finite],
                         "x": xs[finite], "v": values[finite]})
    if x_col != LINE and not data.empty:  # several lines of a run at one x: their mean
        data = data.groupby(["g", "run", "x"], sort=False, as_index=False)["v"].mean()
    agg = data.groupby(["g", "x"], sort=True)["v"].agg(["mean", "std", "min", "max", "count"])
    agg = agg.reset_index()
    g_col = agg["g"].to_numpy()
    bounds = np.flatnonzero(np.diff(g_col)) + 1
    runs_with = data.groupby("g")["run"].nunique() if not data.empty else pd.Series(dtype=int)
    for rows in np.split(np.arange(len(agg)), bounds) if len(agg) else []:
        g = int(g_col[rows[0]])
        part = agg.iloc[rows]
        mean = part["mean"].to_numpy(dtype=float)
        count = part["count"].to_numpy()
        lo = hi = None
        if band != "none" and int(runs_with.get(g, 0)) > 1:
            if band == "std":
                spread = part["std"].to_numpy(dtype=float)
                lo, hi = mean - spread, mean + spread
            else:
                lo, hi = part["min"].to_numpy(dtype=float), part["max"].to_numpy(dtype=float)
            lo = np.where(count > 1, lo, np.nan)
            hi = np.where(count > 1, hi, np.nan)
        summary.curves[g] = Curve(g, part["x"].to_numpy(dtype=float), mean, lo, hi, count)
    # per run: has the metric (a value that is not NaN somewhere), and its last value
    has = pd.Series(ids[present]).unique()
    last_of = dict(zip(lasts["log_id"].to_numpy(), numeric(lasts[metric.name])))
    per_group: dict[int, list[float]] = {}
    for log_id in has:
        g = grouping.of_run.get(int(log_id))
        if g is not None:
            per_group.setdefault(g, []).append(last_of.get(log_id, float("nan")))
    for g, finals in per_group.items():
        arr = np.asarray(finals, dtype=float)
        ok = np.isfinite(arr)
        curve = summary.curves.get(g)
        best = best_x = float("nan")
        if curve is not None and len(curve.mean):
            i = int(np.argmin(curve.mean) if direction == "min" else np.argmax(curve.mean))
            best, best_x = float(curve.mean[i]), float(curve.x[i])
        summary.stats[g] = GroupStat(len(arr), float(arr[ok].mean()) if ok.any() else
                                     float("nan"), best, best_x, int((~ok).sum()))
    summary.logy = wants_log(summary) if logy is None else bool(logy)
    return summary


def wants_log(summary: MetricSummary) -> bool:
    """Log y-scale when every mean value is positive and they span two decades or more."""
    import numpy as np

    means = [c.mean for c in summary.curves.values() if len(c.mean)]
    if not means:
        return False
    allv = np.concatenate(means)
    return bool((allv > 0).all() and allv.max() / allv.min() >= 100.0)


def rank(grouping: Grouping, summary: Optional[MetricSummary]) -> list[int]:
    """Group indices, best first by ``summary``'s final value; groups without it last, in
    display order. Without a summary: display order."""
    order = list(range(len(grouping)))
    if summary is None:
        return order
    sign = 1.0 if summary.direction == "min" else -1.0

    def key(g: int) -> tuple[int, float, int]:
        stat = summary.stats.get(g)
        if stat is None or not math.isfinite(stat.final):
            return (1, 0.0, g)
        return (0, sign * stat.final, g)

    return sorted(order, key=key)
