"""Metric files: JSON lines, one object per ``log_metrics`` call, line number = step.

A file is parsed in one pass whatever the number of keys used, and the result is kept
(keyed by path, size and mtime) until the file changes, so reading ``train.loss`` and then
``train.epoch`` parses ``train.json`` once. A partial last line (a job killed mid-write)
is ignored with a note; a corrupt line elsewhere is skipped with a warning; both are
reported by the Reader.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Optional

from mlxp_core.reader.errors import UnknownKeyError, unknown_key_message

if TYPE_CHECKING:
    import pandas as pd

_loads = json.loads


@dataclass
class MetricFile:
    """The parsed content of one metric file."""

    steps: list[int]  # line numbers of the lines kept
    columns: dict[str, list[Any]]  # key -> value per kept line (None where absent)
    notes: list[tuple[str, str]]  # (message, 'warning' | 'note')


def parse_lines(data: bytes) -> MetricFile:
    """Parse the bytes of a metric file."""
    notes: list[tuple[str, str]] = []
    text = data.decode("utf-8", errors="replace")
    lines = text.split("\n")
    tail = lines.pop()  # '' when the file ends with a newline
    if tail.strip():
        notes.append((f"line {len(lines) + 1} is incomplete (no newline at the end: the job "
                      "was killed while writing, or is writing now); ignored", "note"))
    records: Optional[list[Any]] = None
    if lines:
        try:  # fast path: the whole file as one JSON array
            records = _loads("[" + ",".join(lines) + "]")
        except ValueError:
            records = None
        if records is not None and (len(records) != len(lines)
                                    or set(map(type, records)) != {dict}):
            records = None
    steps: list[int]
    if records is not None:
        steps = list(range(len(records)))
    else:
        records, steps = [], []
        for i, line in enumerate(lines):
            try:
                obj = _loads(line)
            except ValueError as exc:
                notes.append((f"line {i + 1} is not valid JSON ({exc.msg} at column "
                              f"{exc.colno}); skipped", "warning"))
                continue
            if type(obj) is not dict:
                notes.append((f"line {i + 1} is not a JSON object; skipped", "warning"))
                continue
            records.append(obj)
            steps.append(i)
    keys = dict.fromkeys(chain.from_iterable(records))  # every key, in order of appearance
    columns = {}
    for k in keys:
        try:  # the usual case: every line has the key
            columns[k] = list(map(itemgetter(k), records))
        except KeyError:
            columns[k] = [r.get(k) for r in records]
    return MetricFile(steps, columns, notes)


def last_values(mf: MetricFile) -> dict[str, Any]:
    """The last value of each key that is not None (keys may be logged at different rates)."""
    out = {}
    for k, column in mf.columns.items():
        for v in reversed(column):
            if v is not None:
                out[k] = v
                break
    return out


class MetricCache:
    """Parsed metric files, re-parsed only when their size or mtime changes."""

    def __init__(self) -> None:
        self._files: dict[str, tuple[int, int, MetricFile]] = {}
        self.parsed = 0

    def get(self, path: str) -> Optional[MetricFile]:
        """The parsed file, or None if it does not exist."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            self._files.pop(path, None)
            return None
        try:
            st = os.fstat(fd)
            hit = self._files.get(path)
            if hit is not None and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
                return hit[2]
            chunks = []
            while True:
                chunk = os.read(fd, max(st.st_size + 1, 1 << 16))
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(fd)
        parsed = parse_lines(b"".join(chunks))
        self.parsed += 1
        self._files[path] = (st.st_size, st.st_mtime_ns, parsed)
        return parsed

    def clear(self) -> None:
        self._files.clear()


def build_frame(parts: list[tuple[int, MetricFile]], log_name: str,
                keys: Optional[Sequence[str]], last: bool) -> pd.DataFrame:
    """The long DataFrame (log_id, step, <log_name>.<key>...) of parsed metric files."""
    import pandas as pd

    present = dict.fromkeys(k for _, mf in parts for k in mf.columns)
    if keys is None:
        wanted = list(present)
    else:
        if isinstance(keys, str):
            keys = [keys]
        wanted = []
        prefix = f"{log_name}."
        for key in keys:
            name = key[len(prefix):] if key.startswith(prefix) and key not in present else key
            if name not in present:
                message, near = unknown_key_message("the key", name, present,
                                                    f" in metrics/{log_name}.json")
                raise UnknownKeyError(message, name, near)
            wanted.append(name)
    if last:  # one row per run, straight from the parsed files
        lasts = [last_values(mf) for _, mf in parts]
        data: dict[str, list[Any]] = {"log_id": [log_id for log_id, _ in parts]}
        for k in wanted:
            data[f"{log_name}.{k}"] = [values.get(k) for values in lasts]
        return pd.DataFrame(data)
    ids: list[int] = []
    steps: list[int] = []
    columns: dict[str, list[Any]] = {k: [] for k in wanted}
    for log_id, mf in parts:
        n = len(mf.steps)
        ids.extend([log_id] * n)
        steps.extend(mf.steps)
        for k in wanted:
            column = mf.columns.get(k)
            columns[k].extend(column if column is not None else [None] * n)
    data = {"log_id": ids, "step": steps}
    for k in wanted:
        data[f"{log_name}.{k}"] = columns[k]
    return pd.DataFrame(data)
