"""Listing and loading the artifacts of a run (``artifacts/<type>/<name><extension>``).

The listing is read from disk at each call (never from the index), so it is never stale.
Loading goes through the core's artifact types (``mlxp_core.artifacts``): the builtin types
``pickle``, ``torch``, ``numpy`` and ``image``, and user types recorded by import path in
``artifacts/.keys/types.yaml``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Optional

from mlxp_core.errors import ArtifactError
from mlxp_core.reader import _yaml


@dataclass(frozen=True)
class Artifact:
    """One stored artifact of a run."""

    log_id: int
    type: str
    name: str  # the file name under artifacts/<type>/ ('last_ckpt.pkl', 'epoch_1/model.pt')
    path: str

    def load(self) -> Any:
        """Load it with the loader of its type."""
        root = self.path[: len(self.path) - len(self.name) - len(self.type) - 2]
        return load_file(self.path, self.type, root)


def list_artifacts(run_dir: str, log_id: int) -> list[Artifact]:
    """Every artifact file of a run, by type then name (temporary and hidden files skipped)."""
    root = os.path.join(run_dir, "artifacts")
    out: list[Artifact] = []
    try:
        types = sorted(e.name for e in os.scandir(root)
                       if e.is_dir() and not e.name.startswith("."))
    except FileNotFoundError:
        return out
    for atype in types:
        base = os.path.join(root, atype)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            rel = os.path.relpath(dirpath, base)
            for fname in sorted(filenames):
                if fname.startswith(".") or fname.endswith(".tmp"):
                    continue
                name = fname if rel == "." else f"{rel.replace(os.sep, '/')}/{fname}"
                out.append(Artifact(log_id, atype, name, os.path.join(dirpath, fname)))
    return out


def find(artifacts: list[Artifact], name: str, artifact_type: Optional[str]) -> Artifact:
    """The artifact called ``name`` (with or without its extension); errors list the choices."""
    pool = [a for a in artifacts if artifact_type is None or a.type == artifact_type]
    exact = [a for a in pool if a.name == name]
    stem = [a for a in pool if os.path.splitext(a.name)[0] == name]
    hits = exact or stem
    if len(hits) == 1:
        return hits[0]
    where = f" of type '{artifact_type}'" if artifact_type else ""
    listing = ", ".join(f"{a.type}/{a.name}" for a in artifacts) or "none"
    if not hits:
        run = artifacts[0].log_id if artifacts else "this run"
        raise ArtifactError(f"run {run} has no artifact '{name}'{where}; it has: {listing}")
    raise ArtifactError(f"'{name}' is ambiguous ({', '.join(f'{a.type}/{a.name}' for a in hits)})"
                        "; pass artifact_type=")


def load_file(path: str, artifact_type: str, artifacts_root: str) -> Any:
    """Load one artifact file with the loader of its type."""
    from mlxp_core.run import artifacts as core

    if artifact_type in core.BUILTIN_TYPES:
        return core.load_artifact_file(path, artifact_type)
    types_file = os.path.join(artifacts_root, ".keys", "types.yaml")
    try:
        with open(types_file, "rb") as f:
            types = _yaml.load(f.read()) or {}
    except FileNotFoundError:
        types = {}
    except _yaml.YAMLError as exc:
        raise ArtifactError(f"cannot read {types_file}: {exc}") from exc
    spec = types.get(artifact_type) if isinstance(types, dict) else None
    if not isinstance(spec, dict) or not spec.get("load"):
        raise ArtifactError(
            f"unknown artifact type '{artifact_type}': not builtin "
            f"({', '.join(core.BUILTIN_TYPES)}) and not recorded in {types_file}")
    return core.resolve_import_path(str(spec["load"]))(path)
