"""MLXP's result types: ``DataFrame`` (a list of runs), ``DataDict`` (one run) and
``GroupedDataFrame``, with lazily loaded metric and artifact columns.

``reader.filter(query)`` returns a :class:`DataFrame`: a sequence of :class:`DataDict` rows, one
per run, whose keys are the flattened ``config.*`` and ``info.*`` fields, ``log_id`` and
``log_dir``, one key per metric (``train.loss``: the list of its values, in line order) and one
key per artifact directory (``artifact.pickle.``: ``{file name: Artifact}``). Metric and
artifact values are read only when a row's key is asked for; a metric file is parsed once for
all its keys (the Reader's metric cache).

MLXP's operations (``diff``, ``groupby``, ``aggregate``, ``apply``, ``transform``, ``map``,
``filter``, ``sort``, ``merge``, ``toPandas``) follow MLXP 1.0.5's documented meaning. Our
extensions (docs/reader.md, "mlxp.DataFrame"): ``df['col']`` is a pandas Series (MLXP raises
TypeError), ``df[['a', 'b']]`` a pandas DataFrame, and any other attribute is the attribute of
``df.frame``, the pandas view of the non-lazy columns (one row per run), so pandas code written
for our earlier pandas results keeps working: ``df.empty``, ``df.merge(other, on='log_id')``,
``df.set_index('log_id')``...

Fixed MLXP defects: group keys keep ``None`` values (MLXP drops them, making shorter keys);
``ungroup`` and ``merge`` do not mutate their inputs; rows are in log_id order (MLXP:
lexicographic); a bad map or key is one error naming it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Callable, Optional, Union, overload

from mlxp_core.reader.errors import InvalidMapError, UnknownKeyError, unknown_key_message

if TYPE_CHECKING:
    import pandas as pd

    from mlxp_core.reader.reader import Reader

LAZYDATA = "METRIC"  # MLXP's placeholder of a metric cell not loaded yet
LAZYARTIFACT = "ARTIFACT"  # ... of an artifact cell
MAP_TYPES = ("Generic", "Columnwise", "Rowwise", "Pointwise")
Map = tuple  # (callable, input key or tuple of keys[, output name or tuple of names])
Maps = Union[Map, list]
GroupKey = tuple


def artifact_column(artifact_type: str, name: str) -> str:
    """MLXP's column of the directory holding artifact ``name`` (``'a/b/m.pkl'`` ->
    ``'artifact.<type>..a.b'``, a top-level file -> ``'artifact.<type>.'``)."""
    parent = name.rsplit("/", 1)[0] if "/" in name else ""
    return f"artifact.{artifact_type}." + ("." + parent.replace("/", ".") if parent else "")


class DataDict(Mapping):
    """One row: a run's fields, metric keys and artifact directories (loaded on access).

    ``values`` holds the plain fields and the placeholders ``'METRIC'`` / ``'ARTIFACT'``;
    ``loaders`` maps each lazy key to a function returning its value.
    """

    __slots__ = ("_loaded", "_loaders", "_values")

    def __init__(self, values: Mapping[str, Any],
                 loaders: Optional[Mapping[str, Callable[[], Any]]] = None) -> None:
        self._values: dict[str, Any] = dict(values)
        self._loaders: dict[str, Callable[[], Any]] = dict(loaders or {})
        self._loaded: dict[str, Any] = {}
        for key in self._loaders:
            self._values.setdefault(key, LAZYDATA)

    def __getitem__(self, key: str) -> Any:
        loader = self._loaders.get(key)
        if loader is None:
            return self._values[key]
        if key not in self._loaded:
            self._loaded[key] = loader()
        return self._loaded[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __repr__(self) -> str:
        return repr(self._values)

    def _repr_html_(self) -> str:
        import pandas as pd

        return pd.DataFrame([self._values])._repr_html_()  # type: ignore[no-any-return]

    def is_lazy(self, key: str) -> bool:
        """True for a metric or artifact key (its value is read from disk on access)."""
        return key in self._loaders

    def flattened(self) -> dict[str, Any]:
        """The row with placeholders for lazy keys (what MLXP displays)."""
        return dict(self._values)

    def to_dict(self) -> dict[str, Any]:
        """The row with every lazy key loaded."""
        return {k: self[k] for k in self._values}

    def updated(self, new: Mapping[str, Any]) -> DataDict:
        """A copy with the keys of ``new`` added or replaced (this row is not changed)."""
        out = DataDict(self._values, self._loaders)
        out._loaded = dict(self._loaded)
        out.update(new)
        return out

    def update(self, new: Mapping[str, Any]) -> None:  # type: ignore[override]
        """Add or replace keys (MLXP: a callable value becomes a lazy key)."""
        for key, value in new.items():
            if isinstance(new, DataDict) and new.is_lazy(key):
                self._loaders[key] = new._loaders[key]
                self._values[key] = new._values[key]
                if key in new._loaded:
                    self._loaded[key] = new._loaded[key]
                else:
                    self._loaded.pop(key, None)
            elif callable(value):
                self._loaders[key] = lambda f=value, k=key: f(k)
                self._values[key] = LAZYDATA
                self._loaded.pop(key, None)
            else:
                self._loaders.pop(key, None)
                self._loaded.pop(key, None)
                self._values[key] = value

    def _free_unused(self) -> None:
        """Forget loaded metric values (MLXP frees them after a map; they load again)."""
        self._loaded.clear()


class _Rows(list):
    """``df[a:b]``: the rows, and ``df[a:b]['key']`` the list of their values (MLXP)."""

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return [row[key] for row in self]
        return super().__getitem__(key)


class _Source:
    """The runs of a Reader query: rows are built on demand from the Reader's index."""

    __slots__ = ("positions", "reader")

    def __init__(self, reader: Reader, positions: list[int]) -> None:
        self.reader = reader
        self.positions = positions


class DataFrame:
    """A list of runs (:class:`DataDict` rows), displayed as a pandas DataFrame (MLXP).

    Built by ``Reader.filter``; also ``DataFrame(list_of_rows)`` with DataDict or plain dict
    rows. It has ``len``, iteration, ``df[i]`` and ``df[a:b]`` like MLXP's (a list
    subclass), but not the list methods: ``df.index`` is the pandas view's index.
    """

    def __init__(self, rows: Iterable[Union[DataDict, Mapping[str, Any]]] = (), *,
                 _source: Optional[_Source] = None) -> None:
        self._source = _source
        if _source is not None:
            self._rows: list[Optional[DataDict]] = [None] * len(_source.positions)
        else:
            self._rows = [r if isinstance(r, DataDict) else DataDict(r) for r in rows]
        self._keys: Optional[list[str]] = None
        self._frame: Optional[pd.DataFrame] = None
        self._pandas: dict[bool, pd.DataFrame] = {}

    # -- rows -------------------------------------------------------------------------------

    def _row(self, i: int) -> DataDict:
        row = self._rows[i]
        if row is None:
            assert self._source is not None
            row = self._rows[i] = self._source.reader._datadict(self._source.positions[i])
        return row

    def rows(self) -> list[DataDict]:
        """Every row (built now if needed)."""
        return [self._row(i) for i in range(len(self._rows))]

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[DataDict]:
        for i in range(len(self._rows)):
            yield self._row(i)

    @overload
    def __getitem__(self, index: int) -> DataDict: ...
    @overload
    def __getitem__(self, index: slice) -> _Rows: ...
    @overload
    def __getitem__(self, index: str) -> pd.Series: ...
    @overload
    def __getitem__(self, index: list[str]) -> pd.DataFrame: ...

    def __getitem__(self, index: Any) -> Any:
        """``df[i]``: a row; ``df[a:b]``: rows, with ``df[:]['key']`` the list of values
        (MLXP). Extensions: ``df['key']`` a pandas Series, ``df[['a', 'b']]`` a pandas
        DataFrame."""
        if isinstance(index, slice):
            return _Rows(self._row(i) for i in range(len(self._rows))[index])
        if isinstance(index, str):
            return self._series(index)
        if isinstance(index, list) and all(isinstance(k, str) for k in index):
            import pandas as pd

            return pd.DataFrame({k: self._series(k) for k in index})
        if isinstance(index, int) or hasattr(index, "__index__"):
            n = len(self._rows)
            i = index.__index__()
            if not -n <= i < n:
                raise IndexError(f"row {i} of a DataFrame of {n} row(s)")
            return self._row(i % n if n else i)
        raise TypeError(f"a DataFrame index is a row number, a slice, a column name or a list "
                        f"of column names, not {type(index).__name__}")

    def _series(self, key: str) -> pd.Series:
        import pandas as pd

        if self._source is not None and not self._lazy_key(key) and self._materialised() == 0:
            frame = self.frame
            if key in frame.columns:
                return frame[key].copy()
        self._check_keys([key])
        return pd.Series([row[key] if key in row else None for row in self], name=key,
                         dtype=object)

    def _lazy_key(self, key: str) -> bool:
        return key.startswith("artifact.") or (
            "." in key and key.split(".", 1)[0] not in ("config", "info"))

    def _materialised(self) -> int:
        return sum(r is not None for r in self._rows)

    def __setitem__(self, key: str, value: Any) -> None:
        """Extension: set the column ``key`` of every row (a scalar, or one value per row)."""
        if not isinstance(key, str):
            raise TypeError("DataFrame[...] = value: the index is a column name")
        n = len(self)
        if isinstance(value, (list, tuple)) or hasattr(value, "__array__"):
            values = list(value)
            if len(values) != n:
                raise ValueError(f"{len(values)} values for a DataFrame of {n} rows")
        else:
            values = [value] * n
        frame = self.frame
        for row, v in zip(self, values):
            row.update({key: v})
        frame[key] = values
        self._keys = None
        self._pandas.clear()

    # -- the pandas side ---------------------------------------------------------------------

    @property
    def frame(self) -> pd.DataFrame:
        """Extension: the pandas view of the non-lazy columns, one row per run (what
        ``Reader.filter`` returned before MLXP's API; changes to it stay in it)."""
        if self._frame is None:
            import pandas as pd

            if self._source is not None:
                everything = self._source.reader._all()
                positions = self._source.positions
                if len(positions) == len(everything) and positions == list(range(len(positions))):
                    self._frame = everything.copy()
                else:
                    self._frame = everything.iloc[positions].reset_index(drop=True)
            else:
                self._frame = pd.DataFrame(
                    [{k: v for k, v in r.flattened().items() if not r.is_lazy(k)} for r in self])
        return self._frame

    def toPandas(self, lazy: bool = True) -> pd.DataFrame:
        """A pandas DataFrame of every column; ``lazy=True``: metric and artifact cells are the
        placeholders ``METRIC`` / ``ARTIFACT``; ``lazy=False``: they are loaded."""
        if lazy not in self._pandas:
            import pandas as pd

            keys = self.keys()
            if lazy:
                data = [r.flattened() for r in self]
            else:
                data = [r.to_dict() for r in self]
            frame = pd.DataFrame(data, columns=keys)
            if self._source is not None:  # typed columns (Int64 ...) from the Reader's view
                view = self.frame
                for key in keys:
                    if key in view.columns:
                        frame[key] = view[key].to_numpy() if view[key].dtype == object \
                            else view[key].array
            self._pandas[lazy] = frame
        return self._pandas[lazy]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        frame = self.frame
        try:
            return getattr(frame, name)
        except AttributeError:
            raise AttributeError(f"'DataFrame' object has no attribute {name!r} (nor has its "
                                 "pandas view, DataFrame.frame)") from None

    def __repr__(self) -> str:
        return str(self.toPandas())

    def _repr_html_(self) -> str:
        return self.toPandas()._repr_html_()  # type: ignore[no-any-return]

    # -- MLXP's operations -------------------------------------------------------------------

    def keys(self) -> list[str]:
        """The column names: the union of the rows' keys, in order of first appearance."""
        if self._keys is None:
            if self._source is not None and self._materialised() == 0:
                self._keys = self._source.reader._keys_of(self._source.positions)
            else:
                seen: dict[str, None] = {}
                for row in self:
                    seen.update(dict.fromkeys(row))
                self._keys = list(seen)
        return self._keys

    def _check_keys(self, keys: Iterable[str]) -> None:
        valid = self.keys()
        for key in keys:
            if key not in valid:
                message, near = unknown_key_message("the column", key, valid)
                raise UnknownKeyError(message.replace("no run has", "no row has", 1), key, near)

    def diff(self, start_key: str = "config") -> list[str]:
        """The columns starting with ``start_key`` whose value is not the same in every row
        (missing in some rows counts as different)."""
        rows = list(self)
        if not rows:
            return []
        first = rows[0]
        out: dict[str, None] = {}
        for key in self.keys():
            if not key.startswith(start_key) or key in out:
                continue
            if key not in first:
                out[key] = None
                continue
            if first.is_lazy(key):
                continue  # MLXP compares the placeholders, which are equal
            ref = first[key]
            for row in rows[1:]:
                if key not in row or row[key] != ref:
                    out[key] = None
                    break
        return sorted(out)  # MLXP's order: its columns are sorted (its docs show this list)

    def merge(self, new_df: Any, *args: Any, **kwargs: Any) -> Any:
        """MLXP: a DataFrame whose rows are this one's rows updated with the rows of
        ``new_df`` (same number of rows; neither input is changed). Extension: with a pandas
        DataFrame or pandas keywords (``on=``, ``how=`` ...), ``pandas.DataFrame.merge`` of
        :attr:`frame`."""
        if args or kwargs or not isinstance(new_df, (DataFrame, list)):
            return self.frame.merge(new_df, *args, **kwargs)
        other = list(new_df)
        if len(other) != len(self):
            raise ValueError(f"merge: {len(other)} rows to merge into a DataFrame of "
                             f"{len(self)} rows (MLXP merges row by row)")
        return DataFrame([row.updated(new) for row, new in zip(self, other)])

    def groupby(self, group_keys: Union[str, list[str]], *args: Any,
                **kwargs: Any) -> Any:
        """MLXP: a :class:`GroupedDataFrame`, one group per tuple of values of
        ``group_keys``. (pandas keywords: ``pandas.DataFrame.groupby`` of :attr:`frame`.)"""
        if args or kwargs:
            return self.frame.groupby(group_keys, *args, **kwargs)
        keys = _str_list(group_keys, "group keys")
        self._check_keys(keys)
        groups: dict[tuple[Any, ...], list[DataDict]] = {}
        for row in self:
            value = tuple(_hashable(row[k]) if k in row else None for k in keys)
            groups.setdefault(value, []).append(row)
        return GroupedDataFrame(keys, {k: DataFrame(v) for k, v in _sorted_items(groups)})

    def aggregate(self, maps: Maps, *args: Any, **kwargs: Any) -> Any:
        """MLXP: one row with ``f(column)`` for each map ``(f, keys[, names])``; default
        output names ``f<name>.<key>``."""
        if not _is_maps(maps):
            return self.frame.aggregate(maps, *args, **kwargs)
        maps = _format_maps(maps, "Columnwise")
        return DataFrame([_columnwise(self, maps)])

    agg = aggregate

    def apply(self, maps: Maps, map_type: str = "Generic", *args: Any, **kwargs: Any) -> Any:
        """MLXP: apply maps of type ``Generic`` (f(*columns)), ``Columnwise`` (f(column) per
        key), ``Rowwise`` (f(*values) per row) or ``Pointwise`` (f(value) per row and key)."""
        if not _is_maps(maps):
            return self.frame.apply(maps, *args, **kwargs)
        if map_type not in MAP_TYPES:
            raise InvalidMapError(f"map_type {map_type!r} is not one of {', '.join(MAP_TYPES)}")
        maps = _format_maps(maps, map_type)
        if map_type == "Columnwise":
            return _rows_or_row(_columnwise(self, maps), len(self))[0]
        if map_type == "Generic":
            return _rows_or_row(_generic(self, maps), len(self))[0]
        if map_type == "Rowwise":
            return DataFrame(_rowwise(self, maps))
        return DataFrame(_pointwise(self, maps))

    def transform(self, maps: Maps, *args: Any, **kwargs: Any) -> Any:
        """MLXP: f(column) per key, returning one value per row."""
        if not _is_maps(maps):
            return self.frame.transform(maps, *args, **kwargs)
        out, reducing = _rows_or_row(_columnwise(self, _format_maps(maps, "Columnwise")),
                                     len(self))
        if reducing:
            raise InvalidMapError("transform: the map must return one value per row (use "
                                  "aggregate for a reduction)")
        return out

    def map(self, maps: Maps, *args: Any, **kwargs: Any) -> Any:
        """MLXP: f(value) for each row and each key of each map."""
        if not _is_maps(maps):
            return self.frame.map(maps, *args, **kwargs)
        return DataFrame(_pointwise(self, _format_maps(maps, "Pointwise")))

    def filter(self, filter_map: Any = None, bygroups: Union[str, list[str], None] = None,
               *args: Any, **kwargs: Any) -> Any:
        """MLXP: the rows for which the map ``(f, keys)`` is true: ``f(*columns)`` returns one
        boolean per row. ``bygroups``: apply it within each group of these keys. (Without a
        map: ``pandas.DataFrame.filter`` of :attr:`frame`.)"""
        if not _is_maps(filter_map):
            if bygroups is not None:
                args = (bygroups, *args)
            return self.frame.filter(filter_map, *args, **kwargs)
        if bygroups:
            return self.groupby(bygroups).filter(filter_map).ungroup()
        maps = _format_maps(filter_map, "Generic")
        if len(maps) != 1:
            raise InvalidMapError("filter: give one filter map (f, keys)")
        out = _generic(self, maps)
        if len(out) != 1:
            raise InvalidMapError("filter: the map must return a single list of booleans")
        (mask,) = out.values()
        if not _is_sized(mask) or len(mask) != len(self):
            raise InvalidMapError(f"filter: the map must return one boolean per row "
                                  f"({len(self)}), got {_describe(mask)}")
        return DataFrame([row for row, keep in zip(self, mask) if bool(keep)])

    def sort(self, by: Union[str, list[str]], ascending: bool = True) -> DataFrame:
        """MLXP: the rows sorted by the values of ``by`` (missing values last)."""
        keys = _str_list(by, "sort keys")
        self._check_keys(keys)

        def order(row: DataDict) -> tuple[Any, ...]:
            values = [row[k] if k in row else None for k in keys]
            return tuple((v is None, v if v is not None else 0) for v in values)

        rows = list(self)
        present = sorted((r for r in rows if all(k in r and r[k] is not None for k in keys)),
                         key=order, reverse=not ascending)
        missing = [r for r in rows if not all(k in r and r[k] is not None for k in keys)]
        return DataFrame(present + missing)


class GroupedDataFrame:
    """A dict from group-key tuples to DataFrames (or to GroupedDataFrames), from
    ``DataFrame.groupby`` (MLXP)."""

    def __init__(self, group_keys: list[str],
                 grouped_dict: Mapping[GroupKey, Union[DataFrame, GroupedDataFrame]]) -> None:
        self.group_keys = list(group_keys)
        self.grouped_dict = dict(grouped_dict)
        self.group_vals = list(self.grouped_dict)
        self.groups_size = len(self.group_vals)
        self._pandas: dict[bool, pd.DataFrame] = {}

    def __iter__(self) -> Iterator[GroupKey]:
        return iter(self.grouped_dict)

    def __len__(self) -> int:
        return len(self.grouped_dict)

    def __getitem__(self, key: GroupKey) -> Union[DataFrame, GroupedDataFrame]:
        if not isinstance(key, tuple):
            key = (key,)
        try:
            return self.grouped_dict[key]
        except KeyError:
            some = ", ".join(map(repr, self.group_vals[:5]))
            raise KeyError(f"no group {key!r} for {self.group_keys}; groups: {some}"
                           f"{' ...' if len(self.group_vals) > 5 else ''}") from None

    def __contains__(self, key: object) -> bool:
        return key in self.grouped_dict

    def keys(self):  # type: ignore[no-untyped-def]
        """The group keys (tuples of values)."""
        return self.grouped_dict.keys()

    def items(self):  # type: ignore[no-untyped-def]
        """(group key, group) pairs."""
        return self.grouped_dict.items()

    def values(self):  # type: ignore[no-untyped-def]
        return self.grouped_dict.values()

    def __repr__(self) -> str:
        return str(self.toPandas())

    def _repr_html_(self) -> str:
        return self.toPandas()._repr_html_()  # type: ignore[no-any-return]

    def ungroup(self) -> Union[DataFrame, GroupedDataFrame]:
        """One DataFrame of every group's rows, each with its group keys as columns (the
        groups are not changed)."""
        if self.grouped_dict and all(isinstance(g, GroupedDataFrame)
                                     for g in self.grouped_dict.values()):
            return GroupedDataFrame(self.group_keys, {
                k: g.ungroup() for k, g in self.grouped_dict.items()})  # type: ignore[union-attr]
        rows: list[DataDict] = []
        for key, group in self.grouped_dict.items():
            if not isinstance(group, DataFrame):
                raise TypeError("ungroup: groups mix DataFrames and GroupedDataFrames")
            named = dict(zip(self.group_keys, key))
            rows.extend(row.updated(named) for row in group)
        return DataFrame(rows)

    def toPandas(self, lazy: bool = True) -> pd.DataFrame:
        """A pandas DataFrame indexed by the group keys (then the row number in the group)."""
        if lazy not in self._pandas:
            import pandas as pd

            frames = [g.toPandas(lazy=lazy) for g in self.grouped_dict.values()]
            if not frames:
                self._pandas[lazy] = pd.DataFrame()
            else:
                keys = list(self.grouped_dict)
                if len(self.group_keys) == 1:
                    keys = [k[0] for k in keys]
                frame = pd.concat(frames, keys=keys, names=self.group_keys)
                try:
                    frame = frame.sort_index()
                except TypeError:
                    pass  # keys that do not compare (None with numbers): insertion order
                self._pandas[lazy] = frame
        return self._pandas[lazy]

    def _each(self, operation: str, *args: Any, ungroup: bool = False,
              **kwargs: Any) -> Union[DataFrame, GroupedDataFrame]:
        out = {k: getattr(g, operation)(*args, **kwargs) for k, g in self.grouped_dict.items()}
        grouped = GroupedDataFrame(self.group_keys, out)
        return grouped.ungroup() if ungroup else grouped

    def apply(self, maps: Maps, map_type: str = "Generic",
              ungroup: bool = False) -> Union[DataFrame, GroupedDataFrame]:
        """DataFrame.apply on each group."""
        return self._each("apply", maps, map_type, ungroup=ungroup)

    def aggregate(self, maps: Maps, ungroup: bool = False) -> Union[DataFrame, GroupedDataFrame]:
        """DataFrame.aggregate on each group."""
        return self._each("aggregate", maps, ungroup=ungroup)

    def transform(self, maps: Maps, ungroup: bool = False) -> Union[DataFrame, GroupedDataFrame]:
        """DataFrame.transform on each group."""
        return self._each("transform", maps, ungroup=ungroup)

    def map(self, maps: Maps, ungroup: bool = False) -> Union[DataFrame, GroupedDataFrame]:
        """DataFrame.map on each group."""
        return self._each("map", maps, ungroup=ungroup)

    def filter(self, filter_map: Map, bygroups: Union[str, list[str], None] = None,
               ungroup: bool = False) -> Union[DataFrame, GroupedDataFrame]:
        """DataFrame.filter on each group; ``bygroups``: on the groups of these keys of the
        ungrouped rows instead, regrouped by this object's keys."""
        if bygroups:
            flat = self.ungroup()
            if not isinstance(flat, DataFrame):
                raise TypeError("filter(bygroups=...): nested groups are not supported")
            kept = flat.groupby(bygroups).filter(filter_map, ungroup=True)
            return kept if ungroup else kept.groupby(self.group_keys)
        return self._each("filter", filter_map, ungroup=ungroup)

    def sort(self, by: Union[str, list[str]], ascending: bool = True,
             ungroup: bool = False) -> Union[DataFrame, GroupedDataFrame]:
        """DataFrame.sort on each group."""
        return self._each("sort", by, ascending, ungroup=ungroup)

    def groupby(self, group_keys: Union[str, list[str]]) -> GroupedDataFrame:
        """Group each group further (nested GroupedDataFrames)."""
        return self._each("groupby", group_keys)  # type: ignore[return-value]

    def select(self, key_list: Iterable[GroupKey]) -> GroupedDataFrame:
        """The groups whose keys are in ``key_list``."""
        wanted = {k if isinstance(k, tuple) else (k,) for k in key_list}
        return GroupedDataFrame(self.group_keys,
                                {k: g for k, g in self.grouped_dict.items() if k in wanted})


# -- maps ------------------------------------------------------------------------------------


def _str_list(keys: Union[str, Sequence[str]], what: str) -> list[str]:
    out = [keys] if isinstance(keys, str) else list(keys)
    if not out or not all(isinstance(k, str) for k in out):
        raise TypeError(f"{what}: a column name or a list of column names, got {keys!r}")
    return out


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


def _sorted_items(groups: dict[tuple[Any, ...], Any]) -> list[tuple[tuple[Any, ...], Any]]:
    def order(item: tuple[tuple[Any, ...], Any]) -> tuple[Any, ...]:
        return tuple((v is None, v if v is not None else 0) for v in item[0])

    try:
        return sorted(groups.items(), key=order)
    except TypeError:  # values of different types: first-appearance order
        return list(groups.items())


def _is_maps(maps: Any) -> bool:
    if isinstance(maps, tuple):
        return len(maps) > 0 and callable(maps[0])
    if isinstance(maps, list):
        return len(maps) > 0 and all(isinstance(m, tuple) and m and callable(m[0])
                                     for m in maps)
    return False


def _names(value: Any, what: str) -> tuple[str, ...]:
    out = (value,) if isinstance(value, str) else value
    if not isinstance(out, tuple) or not out or not all(isinstance(k, str) for k in out):
        raise InvalidMapError(f"{what} must be a column name or a tuple of column names, "
                              f"got {value!r}")
    return out


def _format_maps(maps: Maps, map_type: str) -> list[tuple[Callable[..., Any], tuple[str, ...],
                                                           tuple[str, ...]]]:
    """Maps as (f, input keys, output names); MLXP's default names: ``f<name>.<key>`` per key
    (Columnwise, Pointwise), ``f<name>.<k1_k2>`` (Generic, Rowwise)."""
    items = maps if isinstance(maps, list) else [maps]
    out = []
    for m in items:
        if not isinstance(m, tuple) or len(m) not in (2, 3) or not callable(m[0]):
            raise InvalidMapError(f"a map is a tuple (function, key or tuple of keys"
                                  f"[, output name(s)]), got {m!r}")
        inputs = _names(m[1], "a map's input")
        name = getattr(m[0], "__name__", type(m[0]).__name__)
        if len(m) == 3:
            outputs = _names(m[2], "a map's output")
        elif map_type in ("Columnwise", "Pointwise"):
            outputs = tuple(f"f{name}.{k}" for k in inputs)
        else:
            outputs = (f"f{name}." + "_".join(inputs),)
        if map_type in ("Columnwise", "Pointwise") and len(outputs) != len(inputs):
            raise InvalidMapError(f"a {map_type} map has one output name per input key: "
                                  f"{inputs} -> {outputs}")
        out.append((m[0], inputs, outputs))
    return out


def _output(m: tuple[Any, tuple[str, ...], tuple[str, ...]], result: Any) -> dict[str, Any]:
    names = m[2]
    if len(names) == 1:
        return {names[0]: result}
    if not isinstance(result, tuple) or len(result) != len(names):
        raise InvalidMapError(f"the map {m[0].__name__} must return {len(names)} values "
                              f"({', '.join(names)}), got {_describe(result)}")
    return dict(zip(names, result))


def _columns(df: DataFrame, keys: Iterable[str]) -> dict[str, list[Any]]:
    keys = list(dict.fromkeys(keys))
    df._check_keys(keys)
    return {k: [row[k] for row in df] for k in keys}


def _columnwise(df: DataFrame, maps: list[Any]) -> dict[str, Any]:
    data = _columns(df, (k for m in maps for k in m[1]))
    out: dict[str, Any] = {}
    for m in maps:
        results = tuple(m[0](data[k]) for k in m[1])
        out.update(_output(m, results if len(results) > 1 else results[0]))
    return out


def _generic(df: DataFrame, maps: list[Any]) -> dict[str, Any]:
    data = _columns(df, (k for m in maps for k in m[1]))
    out: dict[str, Any] = {}
    for m in maps:
        out.update(_output(m, m[0](*[data[k] for k in m[1]])))
    return out


def _rowwise(df: DataFrame, maps: list[Any]) -> list[dict[str, Any]]:
    df._check_keys(k for m in maps for k in m[1])
    rows = []
    for row in df:
        values: dict[str, Any] = {}
        for m in maps:
            values.update(_output(m, m[0](*[row[k] for k in m[1]])))
        rows.append(values)
    return rows


def _pointwise(df: DataFrame, maps: list[Any]) -> list[dict[str, Any]]:
    df._check_keys(k for m in maps for k in m[1])
    rows = []
    for row in df:
        values: dict[str, Any] = {}
        for m in maps:
            values.update(zip(m[2], (m[0](row[k]) for k in m[1])))
        rows.append(values)
    return rows


def _is_sized(value: Any) -> bool:
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__len__"):
        return False
    try:
        len(value)
    except TypeError:  # a 0-d numpy array
        return False
    return True


def _describe(value: Any) -> str:
    if _is_sized(value):
        return f"{type(value).__name__} of length {len(value)}"
    return type(value).__name__


def _rows_or_row(out: dict[str, Any], n: int) -> tuple[DataFrame, bool]:
    """MLXP's rule: outputs of one value per row make rows; otherwise one reduced row."""
    per_row = [_is_sized(v) and len(v) == n for v in out.values()]
    if all(per_row):
        return DataFrame([{k: v[i] for k, v in out.items()} for i in range(n)]), False
    if any(per_row):
        raise InvalidMapError("maps must all return one value per row or all reduce the "
                              "rows; got " + ", ".join(f"{k}: {_describe(v)}"
                                                       for k, v in out.items()))
    return DataFrame([out]), True

