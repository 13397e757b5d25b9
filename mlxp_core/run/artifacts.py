"""Artifact types (pickle, torch, numpy, image, and user types) and their atomic writes.

An artifact of type `t` named `n` lives at `artifacts/<t>/<n><extension>`. Writes go to a
temporary file in the same directory and are renamed into place, so a crash mid-write leaves
the previous version intact and never a partial file.
User types are recorded by import path (`module:qualname`), never as bytecode, so that a
fresh process (a Reader in a notebook) can load them.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Dict, Optional

from mlxp_core.errors import ArtifactError
from mlxp_core.record.atomic import open_temp


@dataclass(frozen=True)
class ArtifactType:
    """How to save and load one kind of artifact."""

    name: str
    extension: str
    save: Callable[[Any, IO[bytes]], None]
    load: Callable[[str], Any]
    # builtin types write into an open binary file; user types get a path
    writes_to_file_object: bool = True

    def extension_for(self, obj: Any) -> str:
        return self.extension


def _pickle_save(obj: Any, handle: IO[bytes]) -> None:
    pickle.dump(obj, handle, protocol=pickle.HIGHEST_PROTOCOL)


def _pickle_load(path: str) -> Any:
    with open(path, "rb") as handle:
        return pickle.load(handle)


def _torch_save(obj: Any, handle: IO[bytes]) -> None:
    import torch

    torch.save(obj, handle)


def _torch_load(path: str) -> Any:
    import torch

    # our own files: full objects (models, optimizers), not only weights
    return torch.load(path, weights_only=False)


def _numpy_save(obj: Any, handle: IO[bytes]) -> None:
    import numpy as np

    if isinstance(obj, dict):
        np.savez(handle, **{str(k): np.asarray(v) for k, v in obj.items()})
    else:
        np.save(handle, np.asarray(obj), allow_pickle=False)


def _numpy_load(path: str) -> Any:
    import numpy as np

    if path.endswith(".npz"):
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    return np.load(path, allow_pickle=False)


class _NumpyType(ArtifactType):
    def extension_for(self, obj: Any) -> str:
        return ".npz" if isinstance(obj, dict) else ".npy"


def _image_save(obj: Any, handle: IO[bytes]) -> None:
    if not hasattr(obj, "savefig"):
        raise TypeError(
            f"artifact type 'image' expects a matplotlib Figure, got {type(obj).__name__}"
        )
    obj.savefig(handle, format="png", bbox_inches="tight")


def _image_load(path: str) -> Any:
    import matplotlib.image

    return matplotlib.image.imread(path)


BUILTIN_TYPES: Dict[str, ArtifactType] = {
    "pickle": ArtifactType("pickle", ".pkl", _pickle_save, _pickle_load),
    "torch": ArtifactType("torch", ".pt", _torch_save, _torch_load),
    "numpy": _NumpyType("numpy", ".npy", _numpy_save, _numpy_load),
    "image": ArtifactType("image", ".png", _image_save, _image_load),
}
NUMPY_EXTENSIONS = (".npy", ".npz")
_TEMP_RE = re.compile(r"\.(.+)\.(\d+)\.\d+\.tmp")  # record.atomic.open_temp's names


def import_path(func: Callable[..., Any]) -> str:
    """`module:qualname` of a function that a fresh process can import, or ArtifactError."""
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", "")
    if not module or "<" in qualname or module == "__main__":
        raise ArtifactError(
            f"{qualname or func!r} cannot be recorded by import path (lambdas, nested functions "
            "and functions of the script being run cannot be imported by another process); "
            "define it at the top level of an importable module, e.g. my_artifacts.py next "
            "to main.py"
        )
    return f"{module}:{qualname}"


def resolve_import_path(path: str) -> Callable[..., Any]:
    module_name, _, qualname = path.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ArtifactError(f"cannot import '{path}': {exc}") from exc
    if not callable(obj):
        raise ArtifactError(f"'{path}' is not callable")
    return obj  # type: ignore[no-any-return]


def user_type(name: str, save_path: str, load_path: str, extension: str = "") -> ArtifactType:
    """An artifact type whose save/load functions are given by import path."""
    save = resolve_import_path(save_path)
    load = resolve_import_path(load_path)
    return ArtifactType(name, extension, save, load, writes_to_file_object=False)


def target_path(directory: Path, name: str, extension: str) -> Path:
    """`directory/name` with `extension` appended unless the name already ends with it."""
    return directory / (name if extension and name.endswith(extension) else name + extension)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_temps(directory: Path, name: Optional[str] = None) -> int:
    """Remove temporary files `.<name>.<pid>.<n>.tmp` left in `directory` by dead writers.

    A writer is dead when its pid is not a live process of this host. The run's live lock
    (`record.live`) guarantees no process of another host writes this run directory, so a
    pid is only looked up here. `name`: only that file's temporaries. Returns the count.
    """
    removed = 0
    try:
        entries = os.listdir(directory)
    except OSError:
        return 0
    own = os.getpid()
    for entry in entries:
        match = _TEMP_RE.fullmatch(entry)
        if not match or (name is not None and match.group(1) != name):
            continue
        pid = int(match.group(2))
        if pid == own or _pid_alive(pid):
            continue
        with contextlib.suppress(OSError):
            os.unlink(directory / entry)
            removed += 1
    return removed


def save_atomic(kind: ArtifactType, obj: Any, final: Path) -> None:
    """Save `obj` to `final` via a temporary file in the same directory, then rename.

    Temporaries of `final` left by dead writers (kill -9 mid-save) are removed first.
    """
    # `artifacts/<type>` only, not parents=True: a removed run directory is not recreated
    final.parent.parent.mkdir(exist_ok=True)
    final.parent.mkdir(exist_ok=True)
    remove_stale_temps(final.parent, final.name)
    fd, tmp_path = open_temp(final.parent, final.name)
    tmp = str(tmp_path)
    try:
        if kind.writes_to_file_object:
            with os.fdopen(fd, "wb") as handle:
                kind.save(obj, handle)
                handle.flush()
                os.fsync(handle.fileno())
        else:
            os.close(fd)
            kind.save(obj, tmp)  # type: ignore[arg-type]
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def find_artifact(directory: Path, name: str, kind: ArtifactType) -> Optional[Path]:
    """The stored file of artifact `name` of this type, if there is one."""
    candidates = NUMPY_EXTENSIONS if kind.name == "numpy" else (kind.extension,)
    for ext in candidates:
        path = target_path(directory, name, ext)
        if path.is_file():
            return path
    plain = directory / name
    return plain if plain.is_file() else None


def load_artifact_file(path: str, artifact_type: str) -> Any:
    """Load a file written by a builtin artifact type (used by the Reader too)."""
    try:
        kind = BUILTIN_TYPES[artifact_type]
    except KeyError:
        raise ArtifactError(
            f"unknown artifact type '{artifact_type}'; builtin types: {', '.join(BUILTIN_TYPES)}"
        ) from None
    return kind.load(path)
