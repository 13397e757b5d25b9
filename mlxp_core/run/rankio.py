"""Each rank's output in its own file: `log.rank<k>.stdout` / `log.rank<k>.stderr`.

Done at the file-descriptor level, so output of C extensions and child processes is caught too.
Ranks > 0 write only to their files (their lines would interleave with rank 0's in the job's
`log.stdout`); rank 0 writes to its files AND to the job's streams, through a pipe and a thread
that copies (the cost: one thread and one extra copy of rank 0's output). `restore()` puts the
original descriptors back; a copying thread gets up to 2 s to drain what is left.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from pathlib import Path
from typing import List, Optional, Tuple

from mlxp_core.record.layout import rank_stream

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        with contextlib.suppress(Exception):
            if stream is not None:
                stream.flush()


class _Redirect:
    """fd `fd` -> `path` (rank > 0), or -> `path` and the original fd (rank 0)."""

    def __init__(self, fd: int, path: Path, tee: bool) -> None:
        self.fd = fd
        self.saved = os.dup(fd)
        self.file = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | _CLOEXEC, 0o644)
        self.thread: Optional[threading.Thread] = None
        if not tee:
            os.dup2(self.file, fd)
            return
        read_end, write_end = os.pipe()
        os.dup2(write_end, fd)
        os.close(write_end)
        self.thread = threading.Thread(target=self._copy, args=(read_end,), daemon=True,
                                       name=f"mlxp-rank-output-{fd}")
        self.thread.start()

    def _copy(self, read_end: int) -> None:
        try:
            while True:
                chunk = os.read(read_end, 1 << 16)
                if not chunk:
                    return
                for target in (self.saved, self.file):
                    with contextlib.suppress(OSError):
                        os.write(target, chunk)
        finally:
            os.close(read_end)

    def restore(self) -> None:
        os.dup2(self.saved, self.fd)  # closes our pipe's last write end: the thread sees EOF
        if self.thread is not None:
            self.thread.join(timeout=2.0)
        os.close(self.saved)
        os.close(self.file)


class RankOutput:
    """Redirects fds 1 and 2 of rank `rank` into `run_dir` until `restore()`."""

    def __init__(self, run_dir: Path, rank: int) -> None:
        _flush()
        self._redirects: List[_Redirect] = []
        pairs: Tuple[Tuple[int, str], ...] = ((1, "stdout"), (2, "stderr"))
        for fd, name in pairs:
            self._redirects.append(_Redirect(fd, run_dir / rank_stream(rank, name), rank == 0))

    def restore(self) -> None:
        _flush()
        for redirect in reversed(self._redirects):
            with contextlib.suppress(OSError):
                redirect.restore()
        self._redirects.clear()
