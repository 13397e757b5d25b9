"""Reading one run directory (docs/run_directory.md) into an index record.

A record holds the run's flattened ``config.*`` and ``info.*`` values, its metric log names
and keys, its artifacts, the problems met while reading it, and a *signature*: the inode of
``metadata/`` (a run directory replaced by another one has another) and the modification
times (ns) and sizes of what was read, taken before reading, so that a later change always
shows up as a different signature.

Signature layout (-1 where a file or directory does not exist)::

    [metadata/ inode, metadata/ mtime, info.yaml mtime, info.yaml size,
     config.yaml mtime, config.yaml size, metrics/ mtime,
     metrics/.keys/metrics.yaml mtime, metrics/.keys/metrics.yaml size,
     artifacts/ mtime, then the mtime of each directory under artifacts/ (sorted walk)]
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any, Optional

from mlxp_core.reader import _yaml

# Statuses after which the launcher writes nothing more into a run directory (unless the run
# is resumed, which rewrites info.yaml first). Runs in these states are checked cheaply.
TERMINAL = frozenset({"COMPLETE", "FAILED", "INTERRUPTED", "SUBMIT_FAILED"})
META_MTIME = 1  # position of the metadata/ mtime in a signature
_MTIME_POSITIONS = (1, 2, 4, 6, 7, 9)

Problem = tuple[str, str, str]  # (file relative to the run dir, message, 'warning' | 'note')


@dataclass
class Record:
    """What the index keeps about one run."""

    values: dict[str, Any]
    metrics: Optional[dict[str, list[str]]]
    artifacts: Optional[list[list[str]]]
    problems: Optional[list[Problem]]
    sig: list[int]
    yaml_parsed: int = 0
    newest_mtime: int = -1
    unreadable: bool = False


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except FileNotFoundError:
        return -1


def _stat2(path: str) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return -1, -1
    return st.st_mtime_ns, st.st_size


def _read(path: str) -> tuple[Optional[bytes], int, int]:
    """Content, mtime_ns and size of a file (None, -1, -1 if it does not exist)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None, -1, -1
    try:
        st = os.fstat(fd)
        chunks = []
        want = st.st_size + 1
        while True:
            chunk = os.read(fd, want)
            if not chunk:
                break
            chunks.append(chunk)
            if len(chunk) < want:
                break
    finally:
        os.close(fd)
    return b"".join(chunks), st.st_mtime_ns, st.st_size


def _artifact_dirs(root: str) -> tuple[list[int], list[list[str]]]:
    """mtimes of every directory under artifacts/ (sorted walk) and the [type, name] list."""
    mtimes: list[int] = []
    found: list[list[str]] = []
    try:
        types = sorted(e.name for e in os.scandir(root)
                       if e.is_dir() and not e.name.startswith("."))
    except FileNotFoundError:
        return mtimes, found
    for atype in types:
        stack = [""]
        while stack:
            rel = stack.pop()
            path = os.path.join(root, atype, rel) if rel else os.path.join(root, atype)
            mtimes.append(_mtime(path))
            try:
                entries = sorted(os.scandir(path), key=lambda e: e.name)
            except FileNotFoundError:
                continue
            subdirs = []
            for e in entries:
                if e.name.startswith(".") or e.name.endswith(".tmp"):
                    continue  # temporary files of atomic writes, hidden files
                name = f"{rel}/{e.name}" if rel else e.name
                if e.is_dir():
                    subdirs.append(name)
                else:
                    found.append([atype, name])
            stack.extend(reversed(subdirs))
    return mtimes, found


def _ino_mtime(path: str) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return -1, -1
    return st.st_ino, st.st_mtime_ns


# the index of metric keys: metrics/.keys.yaml; before 0.3, metrics/.keys/metrics.yaml
KEYS_FILES = ("/.keys.yaml", "/.keys/metrics.yaml")


def _keys_stat(metrics: str) -> tuple[int, int]:
    found = _stat2(metrics + KEYS_FILES[0])
    return found if found[0] != -1 else _stat2(metrics + KEYS_FILES[1])


def _read_keys(metrics: str) -> tuple[Any, int, int]:
    found = _read(metrics + KEYS_FILES[0])
    return found if found[0] is not None else _read(metrics + KEYS_FILES[1])


def signature(run_dir: str) -> list[int]:
    """The current signature of a run directory, from stat calls only (no reading)."""
    meta = run_dir + "/metadata/"
    metrics = run_dir + "/metrics"
    artifacts = run_dir + "/artifacts"
    sig = [*_ino_mtime(meta), *_stat2(meta + "info.yaml"), *_stat2(meta + "config.yaml"),
           _mtime(metrics), *_keys_stat(metrics), _mtime(artifacts)]
    if sig[-1] != -1:
        sig.extend(_artifact_dirs(artifacts)[0])
    return sig


def _plain(value: Any) -> Any:
    """A JSON-friendly copy of a YAML value (dates become ISO strings, keys strings)."""
    t = type(value)
    if t is str or t is int or t is float or t is bool or value is None:
        return value
    if t is list:
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def flatten(prefix: str, mapping: dict[Any, Any], out: dict[str, Any]) -> None:
    """{'a': {'b': 1}} -> out['<prefix>.a.b'] = 1; lists stay whole, {} is dropped."""
    for k, v in mapping.items():
        key = f"{prefix}.{k}"
        t = type(v)
        if t is str or t is int or t is float or t is bool or v is None:
            out[key] = v
        elif t is dict:
            flatten(key, v, out)
        else:
            out[key] = _plain(v)


def _parse(data: bytes, rel: str, problems: list[Problem]) -> tuple[Any, bool]:
    try:
        return _yaml.load(data), True
    except _yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        reason = getattr(exc, "problem", None) or type(exc).__name__
        problems.append((rel, f"not valid YAML{where}: {reason} (truncated or corrupt file?)",
                         "warning"))
    except UnicodeDecodeError as exc:
        problems.append((rel, f"not UTF-8 text: {exc}", "warning"))
    return None, False


def _metric_files(metrics_dir: str) -> list[str]:
    return sorted(e.name[:-5] for e in os.scandir(metrics_dir)
                  if e.name.endswith(".json") and not e.name.startswith("."))


def read_run(run_dir: str, log_id: int) -> Optional[Record]:
    """Read one run directory; never raises for a bad run (problems are recorded).

    None when ``run_dir`` is not a directory (a file with a number for a name).

    Metric log names come from ``metrics/.keys.yaml`` (older runs: ``.keys/metrics.yaml``);
    ``metrics/`` itself is listed only when that file is missing or unreadable, or the run is
    not finished.
    """
    problems: list[Problem] = []
    values: dict[str, Any] = {}
    meta = run_dir + "/metadata/"
    metrics_dir = run_dir + "/metrics"
    artifacts = run_dir + "/artifacts"
    parsed = 0
    try:
        meta_ino, meta_mtime = _ino_mtime(meta)
    except OSError:
        if not os.path.isdir(run_dir):
            return None
        meta_ino, meta_mtime = -2, -2  # raised again and reported below
    try:
        if meta_ino == -2:
            os.stat(meta)
        info_raw, info_m, info_s = _read(meta + "info.yaml")
        config_raw, config_m, config_s = _read(meta + "config.yaml")
        metrics_mtime = _mtime(metrics_dir)
        keys_raw, keys_m, keys_s = (_read_keys(metrics_dir)
                                    if metrics_mtime != -1 else (None, -1, -1))
        artifacts_mtime = _mtime(artifacts)
        art_mtimes, art_list = (_artifact_dirs(artifacts) if artifacts_mtime != -1
                                else ([], []))
    except OSError as exc:  # permission denied, I/O error, not a directory ...
        where = os.path.relpath(exc.filename, run_dir) if exc.filename else "."
        try:
            os.listdir(run_dir)
        except OSError as err:
            exc, where = err, "."
        what = "the run directory" if where == "." else "it"
        problems.append((where.replace(os.sep, "/").rstrip("/"),
                         f"cannot read {what}: {exc.strerror or exc}", "warning"))
        return Record({}, None, None, problems, [-2, -2], 0, -1, unreadable=True)
    sig = [meta_ino, meta_mtime, info_m, info_s, config_m, config_s, metrics_mtime, keys_m, keys_s,
           artifacts_mtime, *art_mtimes]

    if info_raw is None:
        what = "no metadata/ directory" if meta_mtime == -1 else "no metadata/info.yaml"
        problems.append(("metadata/info.yaml", f"{what} (a run directory being created, "
                         "or not a run)", "note"))
    else:
        info, ok = _parse(info_raw, "metadata/info.yaml", problems)
        parsed += 1
        if ok and not isinstance(info, dict):
            problems.append(("metadata/info.yaml",
                             f"expected a mapping, found {type(info).__name__}", "warning"))
        elif ok:
            flatten("info", info, values)
            recorded = info.get("log_id")
            if recorded is not None and recorded != log_id:
                problems.append(("metadata/info.yaml", f"info.log_id is {recorded!r} but the "
                                 f"directory is {log_id} (a copied run?); the directory name "
                                 "is used", "note"))
    status = values.get("info.status")
    if config_raw is None:
        if info_raw is not None and status not in ("SUBMITTED", "SUBMIT_FAILED", None):
            problems.append(("metadata/config.yaml", f"missing (status {status})", "warning"))
    else:
        config, ok = _parse(config_raw, "metadata/config.yaml", problems)
        parsed += 1
        if ok and config is not None and not isinstance(config, dict):
            problems.append(("metadata/config.yaml",
                             f"expected a mapping, found {type(config).__name__}", "warning"))
        elif ok and config:
            cfg: dict[str, Any] = {}
            flatten("config", config, cfg)
            cfg.update(values)
            values = cfg  # config.* first, then info.*

    metric_keys: Optional[dict[str, list[str]]] = None
    keys_ok = False
    if keys_raw is not None:
        keys, ok = _parse(keys_raw, "metrics/.keys/metrics.yaml", problems)
        parsed += 1
        if ok and isinstance(keys, dict):
            metric_keys = {str(k): [str(x) for x in (v or [])] for k, v in keys.items()}
            keys_ok = True
        elif ok and keys is not None:
            problems.append(("metrics/.keys/metrics.yaml",
                             f"expected a mapping, found {type(keys).__name__}", "warning"))
    if metrics_mtime != -1 and (not keys_ok or status not in TERMINAL):
        try:
            for name in _metric_files(metrics_dir):  # keys not recorded (yet): unknown
                if metric_keys is None:
                    metric_keys = {}
                metric_keys.setdefault(name, [])
        except OSError as exc:
            problems.append(("metrics", f"cannot list: {exc.strerror or exc}", "warning"))
    newest = max(sig[i] for i in _MTIME_POSITIONS)
    newest = max(newest, *art_mtimes) if art_mtimes else newest
    return Record(values, metric_keys, art_list or None, problems or None, sig, parsed, newest)
