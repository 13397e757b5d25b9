"""The run index: scanning ``parent_log``, incremental refresh, and the on-disk cache.

The index is columnar: ``ids`` (sorted log ids) and, for each flattened key, a list of values
aligned with ``ids`` (None where a run lacks the key). Runs share a few *schemas* (the
ordered tuple of their keys), which tells a null value from an absent key.

Refresh rule (docs/reader.md, "Caching"): one ``listdir`` of ``parent_log``, then per run:

* not in the cache, or *racy* (read within RACY_WINDOW_NS of a change) -> read it;
* status in scan.TERMINAL -> compare the inode and the mtime of ``metadata/`` (one stat).
  The launcher rewrites ``info.yaml`` (and ``config.yaml``) by ``os.replace``, which
  changes ``metadata/``'s mtime; a finished run only changes again when it is resumed,
  which rewrites ``info.yaml`` first; a replaced run directory has a new ``metadata/``;
* any other status (RUNNING, SUBMITTED, unknown) or ``deep=True`` -> the full signature
  (scan.signature: every file and directory the record was read from), compared through
  its hash (the index keeps [metadata/ inode, its mtime, hash of the signature] per run);
* a run directory that is gone is dropped.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Optional

from mlxp_core.reader import scan
from mlxp_core.record.layout import is_run_name

log = logging.getLogger("mlxp.reader")

FORMAT = "mlxp-reader-index"
VERSION = 3
# A record read less than this long after the newest mtime it depends on is re-read on the
# next refresh: a change made within the same timestamp tick as our read would otherwise
# leave the same mtime (and size) behind. 2 s covers coarse timestamps and small clock skew
# between the hosts writing the logs and the one reading them.
RACY_WINDOW_NS = 2_000_000_000


def validity(sig: list[int]) -> list[int]:
    """What the index keeps of a signature: [metadata/ inode, its mtime, hash of all of it]."""
    return [sig[0], sig[scan.META_MTIME], hash(tuple(sig))]


@dataclass
class Index:
    """Columnar index of the runs of one parent_log."""

    ids: list[int] = field(default_factory=list)
    sigs: list[list[int]] = field(default_factory=list)  # validity() of each run
    racy: set[int] = field(default_factory=set)
    schemas: list[tuple[str, ...]] = field(default_factory=list)
    schema_of: list[int] = field(default_factory=list)
    columns: dict[str, list[Any]] = field(default_factory=dict)
    metrics: list[Optional[dict[str, list[str]]]] = field(default_factory=list)
    artifacts: list[Optional[list[list[str]]]] = field(default_factory=list)
    problems: list[Optional[list[scan.Problem]]] = field(default_factory=list)

    def position(self) -> dict[int, int]:
        return {log_id: i for i, log_id in enumerate(self.ids)}

    # -- cache file --------------------------------------------------------------------------

    def to_json(self) -> str:
        return json.dumps({
            "format": FORMAT, "version": VERSION, "ids": self.ids, "sigs": self.sigs,
            "racy": sorted(self.racy), "schemas": self.schemas, "schema_of": self.schema_of,
            "columns": {k: _encode(v) for k, v in self.columns.items()},
            "metrics": _encode(self.metrics), "artifacts": _encode(self.artifacts),
            "problems": _encode(self.problems),
        }, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Index:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("not a reader index")
        if data.get("version") != VERSION:
            raise ValueError(f"index version {data.get('version')}, expected {VERSION}")
        n = len(data["ids"])
        index = cls(
            ids=data["ids"], sigs=data["sigs"], racy=set(data["racy"]),
            schemas=[tuple(s) for s in data["schemas"]], schema_of=data["schema_of"],
            columns={k: _decode(v, n) for k, v in data["columns"].items()},
            metrics=_decode(data["metrics"], n, copy=False),
            artifacts=_decode(data["artifacts"], n, copy=False),
            problems=[[tuple(p) for p in ps] if ps else None
                      for ps in _decode(data["problems"], n, copy=False)],
        )
        lengths = [len(index.sigs), len(index.schema_of), len(index.metrics),
                   len(index.artifacts), len(index.problems),
                   *(len(c) for c in index.columns.values())]
        if any(length != n for length in lengths):
            raise ValueError("inconsistent lengths")
        return index


def _encode(values: list[Any]) -> dict[str, Any]:
    """A column as {'u': distinct values, 'c': codes}, or {'v': values} if mostly distinct.

    Most columns hold a few distinct values (status, host, git commit ...): the cache is
    several times smaller and faster to load, and the loaded values are shared objects.
    """
    limit = len(values) // 2 + 1
    types = set(map(type, values))
    types.discard(type(None))
    if len(types) <= 1 and not types & {float, list, dict}:
        # one hashable type (and None): values are their own keys (1, 1.0, True can't mix)
        index = dict.fromkeys(values)
        if len(index) > limit:
            return {"v": values}
        uniques = list(index)
        if len(uniques) == 1:
            return {"u": uniques}
        for code, key in enumerate(uniques):
            index[key] = code
        return {"u": uniques, "c": [index[v] for v in values]}
    codes: list[int] = []
    seen: dict[Any, int] = {}
    uniques = []
    for v in values:
        key = v if type(v) in _HASHABLE else json.dumps(v, sort_keys=True)
        if type(v) is float and v != v:
            key = "NaN"
        key = (type(v), key)  # 1, 1.0 and True are different values
        code = seen.get(key)
        if code is None:
            code = seen[key] = len(uniques)
            uniques.append(v)
            if len(uniques) > limit:
                return {"v": values}
        codes.append(code)
    if len(uniques) == 1:
        return {"u": uniques}
    return {"u": uniques, "c": codes}


_HASHABLE = frozenset({str, int, float, bool, type(None)})


def _decode(column: dict[str, Any], n: int, copy: bool = True) -> list[Any]:
    """The values of an encoded column. ``copy``: give each run its own list or dict (the
    DataFrame's cells), rather than one object shared by the runs that have that value."""
    if "v" in column:
        return column["v"]  # type: ignore[no-any-return]
    uniques = column["u"]
    codes = column.get("c")
    if codes is None:
        codes = [0] * n
        if type(uniques[0]) in _HASHABLE or not copy:
            return [uniques[0]] * n
    if not copy or all(type(u) in _HASHABLE for u in uniques):
        return [uniques[c] for c in codes]
    makers = [_copier(u) for u in uniques]
    return [makers[c](uniques[c]) for c in codes]


def _copier(value: Any) -> Any:
    if type(value) in _HASHABLE:
        return lambda v: v
    if type(value) is list and all(type(x) in _HASHABLE for x in value):
        return list.copy
    text = json.dumps(value)
    return lambda v: json.loads(text)


def load_cache(path: str) -> Optional[Index]:
    """The index stored at ``path``; None when missing, unreadable or invalid (logged)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("mlxp reader: cannot read the index cache %s (%s); re-reading the runs",
                    path, exc)
        return None
    try:
        return Index.from_json(text)
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("mlxp reader: ignoring the index cache %s (%s); re-reading the runs",
                    path, exc)
        return None


def save_cache(index: Index, path: str) -> None:
    """Write atomically: a temporary file in the same directory, then os.replace.

    Concurrent writers never leave a partial file; the last one wins, and every version
    is a complete, self-consistent index.
    """
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    # not mkstemp: its files are private (0600); the cache of shared logs must be readable
    # by the colleagues who can read the logs, so the mode follows the umask like any file
    tmp = os.path.join(directory, f".reader_index.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(index.to_json())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# -- scanning ----------------------------------------------------------------------------------


_NUMBER_LIKE = re.compile(r"[-+]?[0-9]+")


def list_runs(parent: str, skipped: Optional[list[str]] = None) -> list[int]:
    """The log ids of ``parent``: entries named by a run id (`record.layout.is_run_name`),
    sorted (one listdir; entries that are not directories are dropped when they are read).

    ``skipped`` receives the names that look like numbers but are not run ids (``-9``,
    ``007``, an id beyond the largest one): nothing mlxp writes, so the Reader reports them.
    """
    ids = []
    for name in os.listdir(parent):
        if is_run_name(name):
            ids.append(int(name))
        elif skipped is not None and _NUMBER_LIKE.fullmatch(name):
            skipped.append(name)
    ids.sort()
    return ids


def refresh(old: Optional[Index], parent: str, stats: dict[str, Any],
            deep: bool = False) -> tuple[Index, bool]:
    """Bring ``old`` (or an empty index) up to date with ``parent``; returns (index, changed).

    ``stats`` counts what was done: runs read, YAML files parsed, runs checked.
    """
    start_ns = time.time_ns()
    old = old or Index()
    skipped: list[str] = []
    listing = list_runs(parent, skipped)
    stats["skipped_entries"] = sorted(skipped)
    old_pos = old.position()
    status = old.columns.get("info.status") or [None] * len(old.ids)
    sigs, racy_before, terminal, stat = old.sigs, old.racy, scan.TERMINAL, os.stat
    fresh: dict[int, scan.Record] = {}
    racy: set[int] = set()
    gone: set[int] = set()  # entries that turned out not to be directories
    n_stat = n_full = 0
    for log_id in listing:
        run_dir = f"{parent}{os.sep}{log_id}"
        pos = old_pos.get(log_id)
        if pos is not None and log_id not in racy_before:
            sig = sigs[pos]
            if not deep and status[pos] in terminal:
                n_stat += 1
                try:
                    st = stat(run_dir + "/metadata")
                    if st.st_mtime_ns == sig[1] and st.st_ino == sig[0]:
                        continue
                except OSError:
                    pass
            else:
                n_full += 1
                try:
                    if hash(tuple(scan.signature(run_dir))) == sig[2]:
                        continue
                except OSError:
                    pass
        rec = scan.read_run(run_dir, log_id)
        if rec is None:
            gone.add(log_id)
            continue
        stats["runs_read"] += 1
        stats["yaml_files_parsed"] += rec.yaml_parsed
        fresh[log_id] = rec
        if rec.newest_mtime >= start_ns - RACY_WINDOW_NS or rec.unreadable:
            racy.add(log_id)
    stats["runs_stat_checked"] += n_stat
    stats["runs_fully_checked"] += n_full
    listed = [log_id for log_id in listing if log_id not in gone] if gone else listing
    if not fresh and listed == old.ids:
        return old, False
    return _rebuild(old, old_pos, listed, fresh, racy), True


def _rebuild(old: Index, old_pos: dict[int, int], ids: list[int],
             fresh: dict[int, scan.Record], racy: set[int]) -> Index:
    """A new columnar index: kept runs from ``old``, ``fresh`` records for the others."""
    n = len(ids)
    keep = [-1 if log_id in fresh else old_pos[log_id] for log_id in ids]
    new = Index(ids=ids, racy=racy)
    schema_ids: dict[tuple[str, ...], int] = {}

    def schema_id(keys: tuple[str, ...]) -> int:
        sid = schema_ids.get(keys)
        if sid is None:
            sid = schema_ids[keys] = len(new.schemas)
            new.schemas.append(keys)
        return sid

    for i, log_id in enumerate(ids):
        p = keep[i]
        if p >= 0:
            new.sigs.append(old.sigs[p])
            new.schema_of.append(schema_id(old.schemas[old.schema_of[p]]))
            new.metrics.append(old.metrics[p])
            new.artifacts.append(old.artifacts[p])
            new.problems.append(old.problems[p])
        else:
            rec = fresh[log_id]
            new.sigs.append(validity(rec.sig))
            new.schema_of.append(schema_id(tuple(rec.values)))
            new.metrics.append(rec.metrics)
            new.artifacts.append(rec.artifacts)
            new.problems.append(rec.problems)
    changed = [(i, fresh[log_id].values) for i, log_id in enumerate(ids) if log_id in fresh]
    names = ordered_keys(new.schemas[s] for s in dict.fromkeys(new.schema_of))
    if len(changed) == n:  # every run was read: build the columns straight from the records
        new.columns = _columns_of_rows([values for _, values in changed], new, names)
        return new
    for name in names:
        base = old.columns.get(name)
        if base is not None:
            base = [*base, None]  # position -1 (a fresh run) reads this None
            column = [base[p] for p in keep]
        else:
            column = [None] * n
        for i, values in changed:
            column[i] = values.get(name)
        new.columns[name] = column
    return new


def _columns_of_rows(rows: list[dict[str, Any]], new: Index,
                     names: list[str]) -> dict[str, list[Any]]:
    """Columns from row dicts; rows of one schema are transposed at once (zip)."""
    n = len(rows)
    groups: dict[int, list[int]] = {}
    for i, sid in enumerate(new.schema_of):
        groups.setdefault(sid, []).append(i)
    if len(groups) == 1:
        ((sid, _),) = groups.items()
        columns = dict(zip(new.schemas[sid], map(list, zip(*[r.values() for r in rows]))))
        return {name: columns.get(name) or [None] * n for name in names}
    out: dict[str, list[Any]] = {name: [None] * n for name in names}
    for sid, positions in groups.items():
        transposed = zip(*[rows[i].values() for i in positions])
        for key, values in zip(new.schemas[sid], transposed):
            column = out[key]
            for i, v in zip(positions, values):
                column[i] = v
    return out


def ordered_keys(schemas: Iterable[tuple[str, ...]]) -> list[str]:
    """Keys in order of first appearance, config.* first, then info.*, then the rest."""
    seen: dict[str, None] = {}
    for schema in schemas:
        for key in schema:
            if key not in seen:
                seen[key] = None
    keys = list(seen)
    rank = {"config": 0, "info": 1}
    return sorted(keys, key=lambda k: rank.get(k.split(".", 1)[0], 2))
