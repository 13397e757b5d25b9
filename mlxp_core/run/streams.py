"""`log_streams_to_file`: the task's stdout/stderr copied into the run directory.

Python-level `sys.stdout`/`sys.stderr` are wrapped so that every write goes to the terminal
(as before) and to `<run>/log.stdout` / `<run>/log.stderr`; `restore()` puts the original
streams back and closes the files, so output after the run does not leak into it (MLXP 1.0.5
never restored them). Output written by child processes straight to the file descriptors is
not copied. A stream that already *is* that file (a scheduler job's `-o <run>/log.stdout`) is
left alone, so lines are not written twice.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, List, Optional, TextIO, Tuple

from mlxp_core.record.layout import STDERR, STDOUT


class _Tee:
    """A text stream writing to the original stream and to a file (line-buffered)."""

    def __init__(self, original: TextIO, copy: TextIO) -> None:
        self._original = original
        self._copy = copy

    def write(self, text: str) -> int:
        self._copy.write(text)
        return self._original.write(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._copy.flush()
        self._original.flush()

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding ... of the terminal
        return getattr(self._original, name)


def _same_file(stream: TextIO, path: Path) -> bool:
    try:
        return path.exists() and os.path.samestat(os.fstat(stream.fileno()), os.stat(path))
    except (OSError, ValueError, AttributeError):
        return False


class StreamCopy:
    """Copies `sys.stdout`/`sys.stderr` into `run_dir` until `restore()`."""

    def __init__(self, run_dir: Path) -> None:
        self._saved: List[Tuple[str, TextIO, TextIO]] = []
        for name, file_name in (("stdout", STDOUT), ("stderr", STDERR)):
            original: TextIO = getattr(sys, name)
            path = Path(run_dir) / file_name
            if _same_file(original, path):
                continue
            copy = open(path, "a", buffering=1, encoding="utf-8", errors="replace")
            self._saved.append((name, original, copy))
            setattr(sys, name, _Tee(original, copy))

    def restore(self) -> None:
        for name, original, copy in reversed(self._saved):
            current: Optional[Any] = getattr(sys, name)
            if isinstance(current, _Tee) and current._copy is copy:
                setattr(sys, name, original)
            copy.close()
        self._saved.clear()
