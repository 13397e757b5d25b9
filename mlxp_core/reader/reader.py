"""The Reader: index the runs of a parent_log, query them, load metrics and artifacts.

    reader = Reader("./logs")                        # MLXP's Reader(src_dir, dst_dir, ...)
    runs = reader.filter("info.status == 'COMPLETE' & config.optimizer.lr > 0.01")
    runs[0]["train.loss"]                            # mlxp.DataFrame: lazy metric columns
    train = reader.metrics(runs, "train")            # extension: long frame log_id, step, train.*

MLXP 1.0.5's Reader API is this Reader's API; the pandas-first methods are extensions. See
docs/reader.md.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import re
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

from mlxp_core import gcpause
from mlxp_core.reader import index as _index
from mlxp_core.reader._util import (
    Problem,
    log_new,
    nullable_dtypes,
    problem_text,
    user_cache_dir,
)
from mlxp_core.reader.artifacts import Artifact, find, list_artifacts
from mlxp_core.reader.dataframe import (
    LAZYARTIFACT,
    LAZYDATA,
    DataDict,
    DataFrame,
    _Source,
    artifact_column,
)
from mlxp_core.reader.errors import ReaderError, UnknownKeyError, unknown_key_message
from mlxp_core.reader.metrics import MetricCache, build_frame
from mlxp_core.reader.query import compile_query
from mlxp_core.record.layout import MAX_LOG_ID

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("mlxp.reader")
RunRef = Union[int, str, "os.PathLike[str]", "pd.Series", "pd.DataFrame", Iterable[int], None]
RUN_COLUMNS = ("log_id", "log_dir")
RESULT_FORMATS = ("datadict", "pandas")  # MLXP's DataFrameType values
SEARCHABLE_PREFIXES = ("info.", "config.")  # MLXP's SearchableKeys
_LOG_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*\Z")


class Reader:
    """Index of the runs under ``src_dir``, cached and refreshed incrementally.

    MLXP's arguments (``mlxp.Reader(src_dir, dst_dir=None, parser=DefaultParser(),
    refresh=True)``):

    Args:
        src_dir: the directory holding the run directories (``<src_dir>/<log_id>/``); also
            ``parent_log=`` (our earlier name).
        dst_dir: where to keep the index cache (MLXP: its ``database.json``). Default:
            ``<src_dir>/.mlxp/`` when writable, else the per-user cache directory
            (``$XDG_CACHE_HOME/mlxp/reader``). Also ``cache_dir=``.
        parser: None for our query language (a superset of MLXP's), or an object with
            ``parse(query_string)`` returning a predicate on a run's flattened fields (a dict);
            MLXP's own parsers return such predicates (TinyDB queries).
        refresh: True: re-scan ``src_dir`` (incrementally: only new and changed runs are
            read). False: use the cached index as it is when there is one (MLXP's stale
            database), else scan.

    Extensions:
        cache: False keeps the index in memory only (every Reader re-reads every run).
        deep_check: compare the full signature of every run, not only the ``metadata/``
            mtime of finished runs (slower; for logs edited by hand or by other tools).
        rebuild: ignore any cache and re-read every run.
    """

    def __init__(self, src_dir: Union[str, os.PathLike[str], None] = None,
                 dst_dir: Optional[Union[str, os.PathLike[str]]] = None,
                 parser: Any = None, refresh: bool = True, *,
                 cache: bool = True, deep_check: bool = False, rebuild: bool = False,
                 parent_log: Union[str, os.PathLike[str], None] = None,
                 cache_dir: Optional[Union[str, os.PathLike[str]]] = None) -> None:
        if (src_dir is None) == (parent_log is None):
            raise TypeError("Reader() takes the logs directory once: Reader(src_dir) "
                            "(or parent_log=)")
        if dst_dir is not None and cache_dir is not None:
            raise TypeError("Reader(): give dst_dir or cache_dir, not both (the same setting)")
        if parser is not None and not callable(getattr(parser, "parse", None)):
            raise TypeError(f"Reader(parser=...): an object with a parse(query_string) method, "
                            f"got {type(parser).__name__}")
        source = src_dir if src_dir is not None else parent_log
        if isinstance(source, (str, os.PathLike)) and not os.fspath(source):
            raise ValueError("Reader(''): the logs directory is empty; give the parent log "
                             "directory, e.g. Reader('./logs') ('.' for the working directory)")
        self.parent_log = os.path.abspath(os.fspath(source))  # type: ignore[arg-type]
        if not os.path.isdir(self.parent_log):
            raise FileNotFoundError(f"src_dir '{self.parent_log}' is not a directory")
        cache_dir = dst_dir if dst_dir is not None else cache_dir
        self._cache_dir = os.path.abspath(os.fspath(cache_dir)) if cache_dir else None
        self.parser = parser
        self._use_cache = cache
        self._index = _index.Index()
        self._pos: dict[int, int] = {}
        self._frame: Optional[pd.DataFrame] = None
        self._metrics = MetricCache()
        self._metric_problems: dict[tuple[int, str, str], Problem] = {}
        self._listed_keys: dict[tuple[int, str], list[str]] = {}
        self.cache_path: Optional[str] = None
        self.stats: dict[str, Any] = {}
        self.refresh(deep_check=deep_check, rebuild=rebuild, scan=refresh or rebuild)

    @property
    def src_dir(self) -> str:
        """The logs directory, absolute (MLXP's name; also ``parent_log``)."""
        return self.parent_log

    @property
    def dst_dir(self) -> Optional[str]:
        """The directory of the index cache file in use (None: in memory only)."""
        return os.path.dirname(self.cache_path) if self.cache_path else None

    # -- index --------------------------------------------------------------------------------

    def _cache_candidates(self) -> list[str]:
        if not self._use_cache:
            return []
        digest = hashlib.sha1(self.parent_log.encode("utf-8", "surrogateescape")).hexdigest()
        name = f"reader_index-{digest[:16]}.json"
        if self._cache_dir:
            return [os.path.join(self._cache_dir, name)]
        return [os.path.join(self.parent_log, ".mlxp", "reader_index.json"),
                os.path.join(user_cache_dir(), name)]

    def refresh(self, deep_check: bool = False, rebuild: bool = False,
                scan: bool = True) -> Reader:
        """Re-scan ``parent_log``: read new and changed runs, drop deleted ones.

        ``scan=False``: keep a cached index as it is (no look at the runs), if there is one.
        """
        started = time.perf_counter()
        stats: dict[str, Any] = dict(runs_read=0, yaml_files_parsed=0, runs_stat_checked=0,
                                     runs_fully_checked=0)
        candidates = self._cache_candidates()
        with gcpause.paused():
            old = self._index if self._index.ids else None
            loaded_from = None
            if old is None and not rebuild and candidates:
                existing = [(os.stat(p).st_mtime_ns, p) for p in candidates if os.path.isfile(p)]
                if existing:
                    loaded_from = max(existing)[1]
                    old = _index.load_cache(loaded_from)
            if rebuild:
                old = None
            if not scan and old is not None:
                new, changed = old, False
            else:
                new, changed = _index.refresh(old, self.parent_log, stats, deep=deep_check)
            self._index = new
            written = None
            if (changed or old is None) and new.ids:
                written = self._save(candidates)
            elif loaded_from and old is not None:
                self.cache_path = loaded_from  # up to date: nothing to write
        self._frame = None
        self._listed_keys = {}
        self._pos = new.position()
        stats.update(runs=len(new.ids), cache_loaded=loaded_from if old is not None else None,
                     cache_written=written, seconds=round(time.perf_counter() - started, 6),
                     metric_files_parsed=self._metrics.parsed)
        self.stats = stats
        log.debug("mlxp reader: %s", self.stats)
        self._warn_problems()
        return self

    def _save(self, candidates: Sequence[str]) -> Optional[str]:
        errors = []
        for path in candidates:
            try:
                _index.save_cache(self._index, path)
            except OSError as exc:
                errors.append(f"{path}: {exc.strerror or exc}")
                continue
            if path != candidates[0]:
                log.info("mlxp reader: cannot write the index cache in %s (%s); using %s",
                         self.parent_log, errors[0], path)
            self.cache_path = path
            return path
        if errors:
            log.warning("mlxp reader: cannot write the index cache (%s); the index stays in "
                        "memory and the next Reader re-reads every run; pass cache_dir= to "
                        "choose a writable place", "; ".join(errors))
        self.cache_path = None
        return None

    def _warn_problems(self) -> None:
        warnings = [p for p in self.problems if p.severity == "warning"]
        if warnings:
            runs = sorted({p.log_id for p in warnings})
            shown = "; ".join(f"{p.log_id}/{p.file}: {p.message}" for p in warnings[:3])
            more = f"; and {len(warnings) - 3} more" if len(warnings) > 3 else ""
            log.warning("mlxp reader: %d problem(s) in %d run(s) of %s: %s%s "
                        "(see reader.report())", len(warnings), len(runs), self.parent_log,
                        shown, more)

    # -- runs ---------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._index.ids)

    def __repr__(self) -> str:
        status = Counter(self._index.columns.get("info.status", ()))
        parts = ", ".join(f"{n} {s}" for s, n in sorted(status.items(), key=lambda x: str(x[0])))
        return f"Reader('{self.parent_log}': {len(self)} runs{': ' + parts if parts else ''})"

    @property
    def log_ids(self) -> list[int]:
        return list(self._index.ids)

    @property
    def keys(self) -> list[str]:
        """The columns of the result, which are also the keys a query can use."""
        return [*RUN_COLUMNS, *self._index.columns, "problems"]

    def _column(self, key: str) -> Sequence[Any]:
        if key == "log_id":
            return self._index.ids
        if key == "log_dir":
            return [f"{self.parent_log}{os.sep}{i}" for i in self._index.ids]
        if key == "problems":
            return [problem_text(p) for p in self._index.problems]
        return self._index.columns[key]

    @property
    def runs(self) -> pd.DataFrame:
        """Every run: one row per run, ordered by log_id (a copy, yours to change)."""
        return self._all().copy()

    def _all(self) -> pd.DataFrame:
        if self._frame is None:
            import pandas as pd

            with gcpause.paused():
                columns = {k: self._column(k) for k in self.keys}
                frame = pd.DataFrame(columns)
                for name, dtype in nullable_dtypes(frame, columns).items():
                    frame[name] = pd.array(columns[name], dtype=dtype)
                self._frame = frame
        return self._frame

    def filter(self, query_string: str = "", result_format: str = "datadict", *,
               query: Optional[str] = None) -> Union[DataFrame, pd.DataFrame]:
        """The runs matching ``query_string`` (docs/reader.md), ordered by log_id.

        ``result_format``: ``"datadict"`` (default): an ``mlxp.DataFrame`` whose metric and
        artifact columns load on access; ``"pandas"``: a pandas DataFrame with every column
        loaded (MLXP's ``toPandas(lazy=False)``). ``query=`` is our earlier name of the query.
        """
        if query is not None:
            if query_string:
                raise TypeError("filter(): give query_string or query, not both")
            query_string = query
        if result_format not in RESULT_FORMATS:
            raise ValueError(f"result_format {result_format!r} is not one of "
                             f"{', '.join(map(repr, RESULT_FORMATS))}")
        positions = self._match(query_string)
        result = DataFrame(_source=_Source(self, positions))
        if result_format == "pandas":
            return result.toPandas(lazy=False)
        return result

    def select(self, keys: Sequence[str], query_string: str = "") -> dict[str, list[Any]]:
        """Extension: the values of ``keys`` for the runs matching ``query_string``, as plain
        lists (one per key, ordered by log_id; None where a run lacks the key), without
        building a DataFrame: what ``mlxp status`` reads over thousands of runs.

        ``keys`` may name keys no run has (a list of Nones). Raises as :meth:`filter` does
        for a bad query.
        """
        positions = self._match(query_string)
        out: dict[str, list[Any]] = {}
        for key in keys:
            if key in RUN_COLUMNS or key in self._index.columns:
                column = self._column(key)
                out[key] = [column[p] for p in positions]
            else:
                out[key] = [None] * len(positions)
        return out

    def _match(self, query_string: str) -> list[int]:
        if self.parser is None:
            mask = compile_query(query_string, self.keys)(self._column, len(self))
            return [i for i, keep in enumerate(mask) if keep]
        if not isinstance(query_string, str):
            raise TypeError(f"a query is a string, got {type(query_string).__name__}")
        if not query_string.strip():
            return list(range(len(self)))
        predicate = self.parser.parse(query_string)
        return [i for i in range(len(self)) if predicate(self._flat(i))]

    def _flat(self, pos: int) -> dict[str, Any]:
        """A run's fields as MLXP's database documents them (flat keys, lazy placeholders)."""
        return self._datadict(pos).flattened()

    def _datadict(self, pos: int) -> DataDict:
        """The row of the run at ``pos``: its own fields, metrics and artifact directories."""
        index = self._index
        log_id = index.ids[pos]
        run_dir = f"{self.parent_log}{os.sep}{log_id}"
        values: dict[str, Any] = {"log_id": log_id, "log_dir": run_dir}
        columns = index.columns
        for key in index.schemas[index.schema_of[pos]]:
            value = columns[key][pos]
            if type(value) in (list, dict):
                value = copy.deepcopy(value)
            values[key] = value
        loaders: dict[str, Callable[[], Any]] = {}
        for log_name, keys in (index.metrics[pos] or {}).items():
            path = f"{run_dir}{os.sep}metrics{os.sep}{log_name}.json"
            for key in keys or self._metric_keys(pos, log_name):
                loaders[f"{log_name}.{key}"] = partial(self._metric_values, log_id, path,
                                                       log_name, key)
        art_dirs: dict[str, list[tuple[str, str]]] = {}
        for atype, name in index.artifacts[pos] or ():
            art_dirs.setdefault(artifact_column(atype, name), []).append((atype, name))
        for column, names in art_dirs.items():
            loaders[column] = partial(_artifact_dict, log_id, run_dir, names)
        row = DataDict(values, loaders)
        for column in art_dirs:
            row._values[column] = LAZYARTIFACT
        return row

    def _metric_keys(self, pos: int, log_name: str) -> list[str]:
        """The keys of a metric file the index lists without keys (runs with no
        ``metrics/.keys/metrics.yaml``, e.g. MLXP's): from MLXP's ``.keys/<log_name>.yaml``,
        else from the file itself. Kept until the next refresh."""
        log_id = self._index.ids[pos]
        found = self._listed_keys.get((log_id, log_name))
        if found is None:
            from mlxp_core.reader import _yaml

            metrics = f"{self.parent_log}{os.sep}{log_id}{os.sep}metrics{os.sep}"
            found = []
            try:
                with open(f"{metrics}.keys{os.sep}{log_name}.yaml", "rb") as f:
                    listed = _yaml.load(f.read())
                if isinstance(listed, dict):
                    found = [str(k) for k in listed]
            except (OSError, _yaml.YAMLError):
                pass
            if not found:
                mf = self._metrics.get(f"{metrics}{log_name}.json")
                found = list(mf.columns) if mf is not None else []
            self._listed_keys[(log_id, log_name)] = found
        return found

    def _metric_values(self, log_id: int, path: str, log_name: str, key: str) -> list[Any]:
        """MLXP's metric column: the values of ``key`` in the lines that have it."""
        mf = self._metrics.get(path)
        self.stats["metric_files_parsed"] = self._metrics.parsed
        if mf is None:
            raise ReaderError(f"run {log_id}: metrics/{log_name}.json does not exist (listed "
                              "in metrics/.keys)")
        new: list[Problem] = []
        for message, severity in mf.notes:
            self._note(new, log_id, f"metrics/{log_name}.json", message, severity)
        log_new(new)
        column = mf.columns.get(key)
        if column is None:
            return []
        return [v for v in column if v is not None]

    def _keys_of(self, positions: Sequence[int]) -> list[str]:
        """The union of the row keys of these runs, in MLXP's column order."""
        index = self._index
        fields: dict[str, None] = dict.fromkeys(RUN_COLUMNS)
        lazy: dict[str, None] = {}
        schemas = dict.fromkeys(index.schema_of[p] for p in positions)
        for key in _index.ordered_keys(index.schemas[s] for s in schemas):
            fields[key] = None
        for p in positions:
            for log_name, keys in (index.metrics[p] or {}).items():
                keys = keys or self._metric_keys(p, log_name)
                lazy.update(dict.fromkeys(f"{log_name}.{k}" for k in keys))
            for atype, name in index.artifacts[p] or ():
                lazy[artifact_column(atype, name)] = None
        return [*fields, *sorted(lazy)]

    @property
    def fields(self) -> pd.DataFrame:
        """MLXP's table of every field of the runs (config, info, metrics, artifact
        directories): indexed by ``Fields``, with its ``Type`` (``<class 'int'>``,
        ``METRIC``, ``Artifact``). Calling it, ``reader.fields()``, gives
        :meth:`field_summary` (our earlier table: kind and number of runs per key)."""
        return self._fields_frame(searchable=False)

    @property
    def searchable(self) -> pd.DataFrame:
        """MLXP's table of the fields a query may use that start with ``info.`` or
        ``config.`` (``log_id`` and ``log_dir`` can be queried too)."""
        return self._fields_frame(searchable=True)

    def _fields_frame(self, searchable: bool) -> pd.DataFrame:
        keys = self._keys_of(range(len(self)))
        if searchable:
            keys = [k for k in keys if k.startswith(SEARCHABLE_PREFIXES)]
        types = []
        for key in keys:
            if key in self._index.columns or key in RUN_COLUMNS:
                found = {type(v) for v in self._column(key) if v is not None}
                types.append(" | ".join(sorted(map(str, found))) or str(type(None)))
            elif key.startswith("artifact."):
                types.append("Artifact")
            else:
                types.append(LAZYDATA)
        import pandas as pd

        frame = _fields_class()({"Type": types}, index=pd.Index(keys, name="Fields"))
        frame._summary = self.field_summary
        return frame.sort_index()

    def field_summary(self) -> pd.DataFrame:
        """Extension: every key with its kind (config, info, run, metric, artifact) and how
        many runs have it."""
        import pandas as pd

        rows = []
        for key in self.keys:
            values = [v for v in self._column(key) if v is not None]
            kind = key.split(".", 1)[0] if "." in key else "run"
            types = ", ".join(sorted({type(v).__name__ for v in values}))
            rows.append((key, kind, len(values), types))
        metric_runs: Counter[str] = Counter()
        for metrics in self._index.metrics:
            for log_name, keys in (metrics or {}).items():
                metric_runs[log_name] += 1
                metric_runs.update(f"{log_name}.{k}" for k in keys)
        rows += [(k, "metric", n, "") for k, n in sorted(metric_runs.items())]
        types_runs = Counter(f"artifacts.{t}" for arts in self._index.artifacts
                             for t in {a[0] for a in arts or ()})
        rows += [(k, "artifact", n, "") for k, n in sorted(types_runs.items())]
        return pd.DataFrame(rows, columns=["key", "kind", "runs", "types"])

    def _ids(self, runs: RunRef) -> list[int]:
        """log ids from a DataFrame (its log_id column), a row, an id, a path, or ids."""
        if runs is None:
            return list(self._index.ids)
        if isinstance(runs, DataFrame):
            if runs._source is not None and runs._source.reader is self:
                return [self._index.ids[p] for p in runs._source.positions]
            missing = [i for i, row in enumerate(runs) if "log_id" not in row]
            if missing:
                raise ReaderError(f"row {missing[0]} of the DataFrame has no log_id (a result "
                                  "of aggregate/apply is not a list of runs)")
            return [int(row["log_id"]) for row in runs]
        if isinstance(runs, DataDict):
            return [int(runs["log_id"])]
        if hasattr(runs, "columns") and hasattr(runs, "index"):  # a DataFrame
            ids = runs["log_id"] if "log_id" in runs.columns else runs.index
            return [int(i) for i in ids]
        if hasattr(runs, "index") and hasattr(runs, "name"):  # a Series
            if runs.name == "log_id":
                return [int(i) for i in runs]
            return [int(runs["log_id"])]
        if isinstance(runs, Mapping):
            return [int(runs["log_id"])]
        if isinstance(runs, (str, os.PathLike)):
            text = os.fspath(runs)
            if not text.isdigit():
                path = os.path.abspath(text)
                if os.path.dirname(path) != self.parent_log:
                    raise ReaderError(f"'{text}' is not a run directory of {self.parent_log}")
                text = os.path.basename(path)
            return [int(text)]
        if isinstance(runs, Iterable):
            return [int(i) for i in runs]
        return [int(runs)]  # type: ignore[arg-type]

    def _one(self, run: RunRef) -> int:
        ids = self._ids(run)
        if len(ids) != 1:
            raise ReaderError(f"expected one run, got {len(ids)}")
        return ids[0]

    def _run_dir(self, log_id: int) -> str:
        if log_id not in self._pos:
            raise ReaderError(f"no run {log_id} in {self.parent_log} (refresh() to see new runs)")
        return f"{self.parent_log}{os.sep}{log_id}"

    def metadata(self, run: RunRef, name: str = "info") -> Any:
        """The content of ``metadata/<name>.yaml`` of one run, read now (config, info, mlxp)."""
        from mlxp_core.reader import _yaml

        if name not in ("config", "info", "mlxp"):
            raise ValueError(f"metadata name must be 'config', 'info' or 'mlxp', not {name!r}")
        log_id = self._one(run)
        with open(os.path.join(self._run_dir(log_id), "metadata", f"{name}.yaml"), "rb") as f:
            return _yaml.load(f.read())

    # -- problems -----------------------------------------------------------------------------

    @property
    def problems(self) -> list[Problem]:
        """Problems found while indexing (per run) and while loading metrics."""
        out = []
        for log_id, probs in zip(self._index.ids, self._index.problems):
            for file, message, severity in probs or ():
                out.append(Problem(log_id, f"{self.parent_log}{os.sep}{log_id}", file, message,
                                   severity))
        for name in self.stats.get("skipped_entries") or ():
            out.append(Problem(None, f"{self.parent_log}{os.sep}{name}", ".",
                               "skipped: not a run id (run ids are integers from 1 to "
                               f"{MAX_LOG_ID} written without leading zeros)", "warning"))
        return out + list(self._metric_problems.values())

    def report(self) -> str:
        """A readable summary: runs by status, then every problem."""
        lines = [repr(self)]
        problems = self.problems
        n_warn = sum(p.severity == "warning" for p in problems)
        lines.append(f"{n_warn} warning(s), {len(problems) - n_warn} note(s)")
        lines += [f"  {p}" for p in problems]
        return "\n".join(lines)

    # -- metrics ------------------------------------------------------------------------------

    def metrics(self, runs: RunRef, log_name: str, keys: Optional[Sequence[str]] = None, *,
                last: bool = False) -> pd.DataFrame:
        """The lines of ``metrics/<log_name>.json`` of ``runs`` as one long DataFrame.

        Columns: ``log_id``, ``step`` (the line number), then ``<log_name>.<key>`` for each
        key (all keys, or ``keys``, given as ``'loss'`` or ``'train.loss'``); NaN where a line
        lacks a key. ``last=True``: one row per run (no step), each key's value in the last
        line that has it.
        """
        if not _LOG_NAME.match(log_name) or ".." in log_name:
            raise ValueError(f"{log_name!r} is not a metric log name (docs/run_directory.md)")
        ids = self._ids(runs)
        pos = self._pos
        for log_id in ids:
            self._run_dir(log_id)
        parts = []
        rel = f"metrics/{log_name}.json"
        new: list[Problem] = []
        with gcpause.paused():
            for log_id in ids:
                mf = self._metrics.get(f"{self.parent_log}{os.sep}{log_id}{os.sep}{rel}")
                indexed = self._index.metrics[pos[log_id]] or {}
                if mf is None:
                    if log_name in indexed:
                        self._note(new, log_id, rel, "listed in metrics/.keys/metrics.yaml but "
                                   "the file does not exist", "warning")
                    continue
                for message, severity in mf.notes:
                    self._note(new, log_id, rel, message, severity)
                parts.append((log_id, mf))
            self.stats["metric_files_parsed"] = self._metrics.parsed
            log_new(new)
            if not parts and ids:
                names = {n for i in ids for n in (self._index.metrics[pos[i]] or ())}
                if log_name not in names:
                    message, near = unknown_key_message("a metric file", log_name, names)
                    raise UnknownKeyError(f"{message} (in the {len(ids)} run(s) asked)",
                                          log_name, near)
            return build_frame(parts, log_name, keys, last)

    def _note(self, new: list[Problem], log_id: int, file: str, message: str,
              severity: str) -> None:
        key = (log_id, file, message)
        if key not in self._metric_problems:
            problem = Problem(log_id, f"{self.parent_log}{os.sep}{log_id}", file, message,
                              severity)
            self._metric_problems[key] = problem
            new.append(problem)

    def clear_metric_cache(self) -> None:
        """Forget the parsed metric files (they are re-parsed on the next metrics() call)."""
        self._metrics.clear()

    # -- artifacts ----------------------------------------------------------------------------

    def artifacts(self, run: RunRef) -> list[Artifact]:
        """The artifacts of one run (type, name, path), listed from disk now."""
        log_id = self._one(run)
        return list_artifacts(self._run_dir(log_id), log_id)

    def load_artifact(self, run: RunRef, name: str, artifact_type: Optional[str] = None) -> Any:
        """Load the artifact ``name`` (with or without extension) of one run."""
        return find(self.artifacts(run), name, artifact_type).load()

    def plot(self, metric: str, group_by: Union[str, Sequence[str], None] = None,
             x: Optional[str] = None, **options: Any) -> Any:
        """A matplotlib Figure of ``metric`` (``"train.loss"``): one line per group (mean
        over the other keys, e.g. seeds) with a spread band, as ``mlxp report`` draws it.

        ``group_by``: keys (``"optimizer.lr"`` or a list; default: the swept config keys minus
        seed); ``x``: logged key for the x axis (default: the line number). ``options``:
        ``query``, ``band`` ('std', 'minmax', 'none'), ``logy``, ``max_groups``; see
        docs/report.md. Needs matplotlib (``pip install "mlxp-core[report]"``).
        """
        from mlxp_core.report import plot

        return plot(self, metric, group_by=group_by, x=x, **options)


def _artifact_dict(log_id: int, run_dir: str, names: list[tuple[str, str]]) -> dict[str, Artifact]:
    """MLXP's artifact cell: {file name: Artifact} of one artifact directory."""
    root = os.path.join(run_dir, "artifacts")
    return {name.rsplit("/", 1)[-1]: Artifact(log_id, atype, name,
                                              os.path.join(root, atype, *name.split("/")))
            for atype, name in names}


_FIELDS_CLASS: Optional[type] = None


def _fields_class() -> type:
    """``reader.fields``: MLXP's pandas table, which can also be called (``reader.fields()``,
    our earlier method) to get ``reader.field_summary()``. Built on first use (pandas)."""
    global _FIELDS_CLASS
    if _FIELDS_CLASS is None:
        import pandas as pd

        class FieldsFrame(pd.DataFrame):
            _metadata = ["_summary"]

            @property
            def _constructor(self) -> Callable[..., pd.DataFrame]:
                return FieldsFrame

            def __call__(self) -> pd.DataFrame:
                summary = getattr(self, "_summary", None)
                if summary is None:
                    raise TypeError("this fields table is not attached to a Reader")
                return summary()  # type: ignore[no-any-return]

        _FIELDS_CLASS = FieldsFrame
    return _FIELDS_CLASS
