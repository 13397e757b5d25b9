"""The run logger: metrics, checkpoints and artifacts of one run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional

from mlxp_core.errors import ArtifactError
from mlxp_core.record.yamlio import read_yaml, write_yaml_atomic
from mlxp_core.run import artifacts as _art
from mlxp_core.run.metrics import MetricsWriter, check_log_name

TYPES_FILE = Path(".keys") / "types.yaml"


class Logger:
    """Writes into `<parent_log>/<log_id>/{metadata,metrics,artifacts}`.

    Created by the mlxp callbacks for each run; reach it as `ctx.logger`.
    """

    def __init__(self, log_dir: Path, log_id: int, flush_interval_s: float = 1.0) -> None:
        self._log_dir = Path(log_dir)
        self._log_id = log_id
        self._metrics = MetricsWriter(self.metrics_dir, flush_interval_s)
        self._types: Dict[str, _art.ArtifactType] = dict(_art.BUILTIN_TYPES)
        types_path = self.artifacts_dir / TYPES_FILE
        # user types recorded by an earlier attempt of this run: imported on first use
        self._recorded: Dict[str, Dict[str, str]] = (
            (read_yaml(types_path) or {}) if types_path.is_file() else {}
        )

    # -- where things are ---------------------------------------------------------------
    @property
    def log_id(self) -> int:
        return self._log_id

    @property
    def log_dir(self) -> str:
        return str(self._log_dir)

    @property
    def metadata_dir(self) -> str:
        return str(self._log_dir / "metadata")

    @property
    def metrics_dir(self) -> Path:
        return self._log_dir / "metrics"

    @property
    def artifacts_dir(self) -> Path:
        return self._log_dir / "artifacts"

    def get_info(self) -> Dict[str, Any]:
        return {
            "log_id": self._log_id,
            "log_dir": self.log_dir,
            "metadata_dir": self.metadata_dir,
            "metrics_dir": str(self.metrics_dir),
            "artifacts_dir": str(self.artifacts_dir),
        }

    # -- metrics -----------------------------------------------------------------------
    def log_metrics(self, metrics_dict: Mapping[str, Any], log_name: str) -> None:
        """Append one JSON line with `metrics_dict` to `metrics/<log_name>.json`.

        numpy scalars and 0-d tensors are written as numbers; any other value that JSON
        cannot represent raises TypeError naming the key, and nothing is written.
        """
        self._metrics.log(metrics_dict, log_name)

    def flush(self) -> None:
        """Write buffered metric lines to disk now."""
        self._metrics.flush()

    def close(self) -> None:
        self._metrics.close()

    # -- checkpoints -------------------------------------------------------------------
    def log_checkpoint(self, checkpoint: Any, log_name: str = "checkpoint") -> None:
        """Save `checkpoint` atomically to `artifacts/pickle/<log_name>.pkl`."""
        self.log_artifacts(checkpoint, log_name, "pickle")

    def load_checkpoint(self, log_name: str = "checkpoint") -> Any:
        """Load what `log_checkpoint(..., log_name)` saved; FileNotFoundError if nothing was."""
        return self.load_artifacts(log_name, "pickle")

    # -- artifacts ---------------------------------------------------------------------
    def _kind(self, artifact_type: str) -> _art.ArtifactType:
        if artifact_type in self._recorded and artifact_type not in self._types:
            rec = self._recorded[artifact_type]
            self._types[artifact_type] = _art.user_type(
                artifact_type, rec["save"], rec["load"], rec.get("extension", "")
            )
        try:
            return self._types[artifact_type]
        except KeyError:
            raise ArtifactError(
                f"unknown artifact type {artifact_type!r}; known types: "
                f"{', '.join(self._types)} (add one with register_artifact_type)"
            ) from None

    def log_artifacts(self, artifact: Any, artifact_name: str, artifact_type: str) -> None:
        """Save `artifact` as `artifacts/<artifact_type>/<artifact_name><extension>`."""
        check_log_name(artifact_name, "artifact_name")
        kind = self._kind(artifact_type)
        directory = self.artifacts_dir / artifact_type
        final = _art.target_path(directory, artifact_name, kind.extension_for(artifact))
        _art.save_atomic(kind, artifact, final)

    def load_artifacts(self, artifact_name: str, artifact_type: Optional[str] = None) -> Any:
        """Load an artifact of this run; the type is found on disk when not given."""
        check_log_name(artifact_name, "artifact_name")
        types = [artifact_type] if artifact_type else [*self._types, *self._recorded]
        for name in types:
            kind = self._kind(name)
            path = _art.find_artifact(self.artifacts_dir / name, artifact_name, kind)
            if path is not None:
                return kind.load(str(path))
        where = self.artifacts_dir / (artifact_type or "*")
        raise FileNotFoundError(f"no artifact named {artifact_name!r} in {where}")

    def register_artifact_type(
        self,
        name: str,
        save: Callable[[Any, str], None],
        load: Callable[[str], Any],
        extension: str = "",
    ) -> None:
        """Add an artifact type: `save(obj, path)` writes the file, `load(path)` reads it.

        Both functions are recorded by import path in `artifacts/.keys/types.yaml`, so they
        must be top-level functions of an importable module.
        """
        check_log_name(name, "artifact type name")
        if name in _art.BUILTIN_TYPES:
            raise ArtifactError(f"{name!r} is a builtin artifact type and cannot be replaced")
        record = {
            "save": _art.import_path(save),
            "load": _art.import_path(load),
            "extension": extension,
        }
        self._types[name] = _art.ArtifactType(
            name, extension, save, load, writes_to_file_object=False  # type: ignore[arg-type]
        )
        path = self.artifacts_dir / TYPES_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        known = (read_yaml(path) or {}) if path.is_file() else {}
        known[name] = record
        write_yaml_atomic(path, known)
        self._recorded[name] = record
