"""Metric files: JSON lines, one per `log_metrics` call.

Lines are serialised whole before anything is written (a value that cannot be serialised
writes nothing) and written with one `os.write` on an `O_APPEND` descriptor. By default
(`flush_interval_s: 0`) each line is in its file when `log_metrics` returns, as in MLXP; with
`flush_interval_s > 0` lines are kept in memory and written at least that often and at the
end of the run (a `kill -9` then loses at most the lines of the last interval).
A resumed run truncates a partial last line left by a killed process before appending.

Keys: `metrics/.keys/<log_name>.yaml` (`key: ''`, MLXP's format, read by MLXP's Reader) and
the index of every log name, `metrics/.keys.yaml` (`{log_name: [sorted keys]}`, read by ours;
outside `.keys/` because MLXP's Reader takes every `.keys/*.yaml` for a log name).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable, Dict, List, Set

from mlxp_core.errors import DiskFull, LogNameError
from mlxp_core.record.yamlio import read_yaml, write_yaml_atomic

RESERVED_NAMES = frozenset({"info", "config", "mlxp", "artifacts", "metadata", "metrics"})
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*\Z")
_BUFFER_BYTES = 1 << 16
MAX_NAME_LENGTH = 200  # + '.json', or '.<name>.<pid>.<n>.tmp', within 255 bytes
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
KEYS_FILE = Path(".keys.yaml")
KEYS_DIR = ".keys"
OLD_KEYS_FILE = Path(".keys") / "metrics.yaml"  # written before 0.3: read on resume


def check_log_name(name: Any, what: str = "log_name") -> str:
    """Return `name` if it is a safe file name inside the run directory, else LogNameError."""
    if not isinstance(name, str) or not name:
        raise LogNameError(f"{what} must be a non-empty string, got {name!r}")
    if name in RESERVED_NAMES:
        raise LogNameError(
            f"{what} {name!r} is reserved; reserved names: {', '.join(sorted(RESERVED_NAMES))}"
        )
    if not _NAME_RE.match(name) or ".." in name:
        raise LogNameError(
            f"{what} {name!r} is not allowed: use letters, digits, '_', '-' and '.', starting "
            "with a letter or digit, with no '/' or '..' (it must stay inside the run directory)"
        )
    if len(name) > MAX_NAME_LENGTH:
        raise LogNameError(
            f"{what} {name[:40]!r}... is {len(name)} characters long; at most "
            f"{MAX_NAME_LENGTH} (a file name, with its extension and temporary-file suffix, "
            "must fit the filesystem's 255 bytes)"
        )
    return name


def _to_number(value: Any) -> Any:
    """JSON fallback for numpy scalars and 0-d arrays/tensors (anything with `.item()`)."""
    item = getattr(value, "item", None)
    if item is not None and getattr(value, "ndim", 0) == 0:
        return item()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_ENCODER = json.JSONEncoder(default=_to_number)

try:  # CPython's C encoder, built once (json.dumps builds one per call, half its cost)
    from json.encoder import c_make_encoder as _c_make_encoder
    from json.encoder import encode_basestring_ascii as _c_encode_str
except ImportError:  # pragma: no cover - an interpreter without the C accelerator
    _c_make_encoder = None


def _make_encode() -> Callable[[Any], str]:
    """A function giving exactly `_ENCODER.encode(obj)` for a dict."""
    if _c_make_encoder is None:  # pragma: no cover
        return _ENCODER.encode
    chunks = _c_make_encoder({}, _to_number, _c_encode_str, None, ": ", ", ", False, False,
                             True)
    return lambda obj: "".join(chunks(obj, 0))


def _explain(metrics: Mapping[str, Any], log_name: str, exc: Exception) -> TypeError:
    for key, value in metrics.items():
        if not isinstance(key, str):
            return TypeError(f"log_metrics({log_name!r}): key {key!r} is not a string")
        try:
            _ENCODER.encode(value)
        except (TypeError, ValueError) as err:
            return TypeError(
                f"log_metrics({log_name!r}): value of key {key!r} cannot be written as JSON "
                f"({err}); log numbers, strings, booleans, lists or dicts of them"
            )
    return TypeError(f"log_metrics({log_name!r}): cannot serialise metrics: {exc}")


def _truncate_partial_tail(path: Path) -> None:
    """Drop an unterminated last line (left by a killed process) before appending.

    Only that line goes, whatever its length: the file is read backwards 1 MiB at a time
    until the newline that ends the last whole line (none: the file held only a partial line).
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size == 0:
        return
    with open(path, "r+b") as handle:
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        end = size
        while end > 0:
            start = max(0, end - (1 << 20))
            handle.seek(start)
            cut = handle.read(end - start).rfind(b"\n")
            if cut >= 0:
                handle.truncate(start + cut + 1)
                return
            end = start
        handle.truncate(0)


def _append(fd: int, data: bytes, path: Path) -> None:
    """Append `data` whole or not at all.

    A write that fails part-way (disk full, quota) is undone by cutting the file back, so
    earlier lines stay intact and no partial line is left; a full disk raises `DiskFull`.
    """
    written = 0
    try:
        while written < len(data):  # a short write is rare: finish it
            written += os.write(fd, data[written:])
    except OSError as exc:
        if written:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, os.fstat(fd).st_size - written)
        if exc.errno in _DISK_FULL:
            raise DiskFull(f"no space left on the device writing {path} ({exc.strerror}); "
                           "earlier metric lines are intact") from exc
        raise


class _Stream:
    __slots__ = ("buffer", "fd", "keys", "path", "size")

    def __init__(self, path: Path, keys: Set[str]) -> None:
        _truncate_partial_tail(path)
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.buffer: List[str] = []
        self.size = 0
        self.keys = keys


class MetricsWriter:
    """Appends metric lines to `metrics/<log_name>.json` and tracks their keys."""

    def __init__(self, metrics_dir: Path, flush_interval_s: float = 0.0,
                 keys_file: Path = KEYS_FILE) -> None:
        self.metrics_dir = metrics_dir
        self.flush_interval_s = flush_interval_s
        # the index of log names; rank k > 0 of a multi-process run keeps its own (per-rank
        # metrics), so that two processes never rewrite the same index
        self.keys_file = keys_file
        self._streams: Dict[str, _Stream] = {}
        self._last_flush = time.monotonic()
        self._encode = _make_encode()
        keys_path = metrics_dir / keys_file
        if not keys_path.is_file() and keys_file == KEYS_FILE:
            keys_path = metrics_dir / OLD_KEYS_FILE
        self._keys: Dict[str, List[str]] = (
            (read_yaml(keys_path) or {}) if keys_path.is_file() else {}
        )

    def log(self, metrics: Mapping[str, Any], log_name: str) -> None:
        stream = self._streams.get(log_name)
        if stream is None:
            stream = self._open(log_name)
        if type(metrics) is not dict and not isinstance(metrics, Mapping):
            raise TypeError(
                f"log_metrics({log_name!r}) expects a dict of metrics, got {type(metrics).__name__}"
            )
        try:
            line = self._encode(metrics)
        except Exception as exc:
            # the encoder's circular-reference marks may be left set: start a fresh one
            self._encode = _make_encode()
            if isinstance(exc, (TypeError, ValueError)):
                raise _explain(metrics, log_name, exc) from None
            raise
        if line[0] != "{":
            raise TypeError(f"log_metrics({log_name!r}) expects a dict of metrics")
        if not stream.keys.issuperset(metrics):
            self._add_keys(log_name, stream, metrics)
        if self.flush_interval_s <= 0:  # write-through: one write per line
            _append(stream.fd, (line + "\n").encode("utf-8"), stream.path)
            return
        stream.buffer.append(line + "\n")
        stream.size += len(line) + 1
        if stream.size > _BUFFER_BYTES or time.monotonic() - self._last_flush > (
            self.flush_interval_s
        ):
            self.flush()

    def _open(self, log_name: str) -> _Stream:
        check_log_name(log_name)
        # not parents=True: a removed run directory must not be recreated
        self.metrics_dir.mkdir(exist_ok=True)
        stream = _Stream(self.metrics_dir / f"{log_name}.json", set(self._keys.get(log_name, ())))
        self._streams[log_name] = stream
        return stream

    def _add_keys(self, log_name: str, stream: _Stream, metrics: Mapping[str, Any]) -> None:
        for key in metrics:
            if not isinstance(key, str):  # JSON would write 1 as "1": refuse before recording
                raise TypeError(f"log_metrics({log_name!r}): key {key!r} is a "
                                f"{type(key).__name__}, not a string; use str({key!r}) as the "
                                "key (nothing was recorded)")
        try:
            self._write_keys(log_name, stream, metrics)
        except OSError as exc:
            if exc.errno in _DISK_FULL:
                raise DiskFull(f"no space left on the device writing the metric keys of "
                               f"{log_name!r} in {self.metrics_dir} ({exc.strerror}); earlier "
                               "metric lines are intact") from exc
            raise

    def _write_keys(self, log_name: str, stream: _Stream, metrics: Mapping[str, Any]) -> None:
        new = [k for k in metrics if k not in stream.keys]
        stream.keys.update(metrics)
        known = self._keys.get(log_name) or []
        self._keys[log_name] = sorted(stream.keys)
        keys_dir = self.metrics_dir / KEYS_DIR
        keys_dir.mkdir(exist_ok=True)
        # MLXP's per-name file, in first-seen order
        write_yaml_atomic(keys_dir / f"{log_name}.yaml",
                          {str(k): "" for k in [*known, *[k for k in new if k not in known]]})
        write_yaml_atomic(self.metrics_dir / self.keys_file, self._keys)

    def flush(self) -> None:
        for stream in self._streams.values():
            if stream.buffer:
                data = "".join(stream.buffer).encode("utf-8")
                stream.buffer.clear()
                stream.size = 0
                _append(stream.fd, data, stream.path)
        self._last_flush = time.monotonic()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            for stream in self._streams.values():
                os.close(stream.fd)
            self._streams.clear()
