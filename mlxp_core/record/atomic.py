"""Crash-safe file writes: a reader sees the old file or the whole new one, never a part.

Every write goes to a uniquely named temporary file in the same directory, then `os.replace`
(or `os.link`, to create without replacing). A partial temporary file is removed when the
write fails; one left by `kill -9` is named `.<name>.<pid>.<n>.tmp`.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from pathlib import Path
from typing import Iterator, Tuple

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks
    fcntl = None  # type: ignore[assignment]

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_tmp_counter = itertools.count()


def open_temp(directory: Path, name: str) -> Tuple[int, Path]:
    """A new, empty, uniquely named file next to `name` (mode 0666 minus the umask)."""
    while True:
        tmp = directory / f".{name}.{os.getpid()}.{next(_tmp_counter)}.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _CLOEXEC, 0o666), tmp
        except FileExistsError:  # left by a killed process that had our pid
            continue


def _fill(fd: int, path: Path, data: bytes) -> None:
    """Write all of `data` to the new file `path` open as `fd`, close it; remove it on failure."""
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise


def _temp_copy(path: Path, data: bytes) -> Path:
    """A temporary file next to `path` holding `data`."""
    fd, tmp = open_temp(path.parent, path.name)
    _fill(fd, tmp, data)
    return tmp


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file and `os.replace`."""
    tmp = _temp_copy(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def create_atomic(path: Path, data: bytes) -> bool:
    """Create `path` holding `data` unless it exists; True when this call created it.

    Readers see no file or the whole file: the data goes to a temporary file that is then
    hard-linked to `path` (`link`, unlike `rename`, fails when `path` exists). False means
    nothing was written: `path` exists, or this filesystem has no hard links; the caller then
    takes its locked read-modify-write path.
    """
    tmp = _temp_copy(path, data)
    try:
        os.link(tmp, path)
    except OSError:  # FileExistsError, or EPERM/ENOTSUP without hard links
        return False
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    return True


def create_new(path: Path, data: bytes, mode: int = 0o666) -> None:
    """Create `path` (which must not exist) with `data`; `mode` is reduced by the umask.

    For files in a directory this process has just created and nobody reads yet (a job's
    `script.sh` before submission): one `open`, no rename. A partial file is removed.
    """
    _fill(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _CLOEXEC, mode), path, data)


@contextlib.contextmanager
def locked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive `lockf` lock on `lock_path` (created if missing) within the block.

    POSIX record locks: on NFS they go through the NFS lock manager (NLM / NFSv4 locks); on a
    filesystem without locks the block runs unlocked (callers keep a lock-free safety net).
    """
    with open(lock_path, "a+b") as lock:
        if fcntl is not None:
            with contextlib.suppress(OSError):
                fcntl.lockf(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                with contextlib.suppress(OSError):
                    fcntl.lockf(lock, fcntl.LOCK_UN)
