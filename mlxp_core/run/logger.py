"""The run logger: metrics, checkpoints and artifacts of one run directory.

`Logger(parent_log_dir, forced_log_id=-1, log_streams_to_file=False)` is MLXP 1.0.5's
constructor: a new run directory `<parent_log_dir>/<id>` (or `<id> = forced_log_id`, adopted).
The callbacks build the run's logger the same way, from `logger.name` in the settings, after
they have allocated the directory.
"""

from __future__ import annotations

import importlib
import marshal
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Set, Tuple, Type, Union

from mlxp_core.errors import ArtifactError, SettingsError
from mlxp_core.record import layout
from mlxp_core.record.yamlio import read_yaml, write_yaml_atomic
from mlxp_core.run import artifacts as _art
from mlxp_core.run.metrics import MetricsWriter, check_log_name
from mlxp_core.run.streams import StreamCopy

TYPES_FILE = Path(".keys") / "types.yaml"
# MLXP 1.0.5's artifact index ({type: {dir_key: {file name: ''}}}), read by its Reader
ARTIFACT_KEYS_FILE = Path(".keys") / "artifacts.yaml"
# MLXP 1.0.5's record of user types: marshalled code of save/load (read by its Reader)
CUSTOM_TYPES_FILE = Path(".keys") / "custom_types.yaml"


class Logger:
    """Writes into `<parent_log_dir>/<log_id>/{metadata,metrics,artifacts}`.

    Created by the mlxp callbacks for each run (reach it as `ctx.logger`), or directly:
    `Logger(parent_log_dir)` makes a new run directory, `forced_log_id=<id>` adopts `<id>`.
    With `log_streams_to_file`, the process's stdout/stderr are copied to `log.stdout` /
    `log.stderr` of the run until `close()`.
    """

    def __init__(self, parent_log_dir: Union[str, Path], forced_log_id: Optional[int] = -1,
                 log_streams_to_file: bool = False) -> None:
        parent = Path(parent_log_dir).expanduser().resolve()
        if forced_log_id is None or forced_log_id < 0:
            self._log_id, self._log_dir = layout.allocate(parent)
        else:
            self._log_id = int(forced_log_id)
            self._log_dir, _ = layout.adopt(parent, self._log_id)
        layout.make_layout(self._log_dir)
        self._parent_log_dir = str(parent)
        self._streams: Optional[StreamCopy] = (
            StreamCopy(self._log_dir) if log_streams_to_file else None
        )
        self._metrics = MetricsWriter(self.metrics_dir)
        self._types: Dict[str, _art.ArtifactType] = dict(_art.BUILTIN_TYPES)
        keys_path = self.artifacts_dir / ARTIFACT_KEYS_FILE
        self._artifact_keys: Dict[str, Dict[str, Dict[str, str]]] = (
            (read_yaml(keys_path) or {}) if keys_path.is_file() else {}
        )
        self._listed: Set[Tuple[str, str, str]] = {
            (t, d, n) for t, dirs in self._artifact_keys.items() for d, names in
            (dirs or {}).items() for n in (names or {})
        }
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
    def parent_log_dir(self) -> str:
        return self._parent_log_dir

    @property
    def metadata_dir(self) -> str:
        return str(self._log_dir / "metadata")

    @property
    def metrics_dir(self) -> Path:
        return self._log_dir / "metrics"

    @property
    def artifacts_dir(self) -> Path:
        return self._log_dir / "artifacts"

    def set_flush_interval(self, seconds: float) -> None:
        """0: every metric line is written when `log_metrics` returns; > 0: buffered."""
        self._metrics.flush_interval_s = float(seconds)

    # -- ranks of a multi-process run (mlxp_core.run.ranks) ------------------------------
    _rank = 0  # this process's global rank: only rank 0 writes the run's files
    _rank_metrics = False

    def set_rank(self, rank: int, per_rank_metrics: bool = False) -> None:
        """Make this the logger of rank `rank` of a run executed by several processes.

        Rank 0 owns the run's metrics, checkpoints and artifacts. The logger of a rank > 0
        writes nothing (`log_metrics`, `log_checkpoint`, `log_artifacts` return at once; loads
        read rank 0's files), unless `per_rank_metrics`: then `log_metrics(m, name)` appends to
        `metrics/<name>.rank<k>.json`.
        """
        self._rank = int(rank)
        self._rank_metrics = bool(per_rank_metrics)
        if self._rank > 0 and self._rank_metrics:
            self._metrics = MetricsWriter(self.metrics_dir, self._metrics.flush_interval_s,
                                          keys_file=Path(f".keys.rank{self._rank}.yaml"))

    @property
    def rank(self) -> int:
        return self._rank

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
        if self._rank:  # a rank > 0 of a multi-process run (see set_rank)
            if self._rank_metrics:
                check_log_name(log_name)
                self._metrics.log(metrics_dict, f"{log_name}.rank{self._rank}")
            return
        self._metrics.log(metrics_dict, log_name)

    def flush(self) -> None:
        """Write buffered metric lines to disk now."""
        self._metrics.flush()

    def close(self) -> None:
        try:
            self._metrics.close()
        finally:
            if self._streams is not None:
                self._streams.restore()
                self._streams = None

    # -- checkpoints -------------------------------------------------------------------
    def log_checkpoint(self, checkpoint: Any, log_name: str = "checkpoint") -> None:
        """Save `checkpoint` atomically to `artifacts/pickle/<log_name>.pkl`."""
        self.log_artifacts(checkpoint, log_name, "pickle")

    def load_checkpoint(self, log_name: str = "checkpoint", root: Optional[str] = None) -> Any:
        """Load what `log_checkpoint(..., log_name)` saved; FileNotFoundError if nothing was.

        `root`: the artifacts directory of another run (`<run>/artifacts`) to load from.
        """
        return self.load_artifacts(log_name, "pickle", root=root)

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
        if self._rank:  # a rank > 0 of a multi-process run: rank 0 saves (see set_rank)
            return
        directory = self.artifacts_dir / artifact_type
        final = _art.target_path(directory, artifact_name, kind.extension_for(artifact))
        _art.save_atomic(kind, artifact, final)
        if artifact_type in _art.BUILTIN_TYPES:
            self._list_artifact(artifact_type, final.name)

    def _list_artifact(self, artifact_type: str, file_name: str) -> None:
        """Add the file to MLXP's artifact index (only builtin types: MLXP's Reader raises at
        `filter()` on any type it cannot load)."""
        entry = (artifact_type, "", file_name)
        if entry in self._listed:
            return
        self._listed.add(entry)
        self._artifact_keys.setdefault(artifact_type, {}).setdefault("", {})[file_name] = ""
        path = self.artifacts_dir / ARTIFACT_KEYS_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        write_yaml_atomic(path, self._artifact_keys)

    def load_artifacts(self, artifact_name: str, artifact_type: Optional[str] = None,
                       root: Optional[str] = None) -> Any:
        """Load an artifact of this run (or of the artifacts directory `root`); the type is
        found on disk when not given."""
        check_log_name(artifact_name, "artifact_name")
        base = Path(root) if root is not None else self.artifacts_dir
        types = [artifact_type] if artifact_type else [*self._types, *self._recorded]
        for name in types:
            kind = self._kind(name)
            path = _art.find_artifact(base / name, artifact_name, kind)
            if path is None and root is not None:
                path = _art.find_artifact(base, artifact_name, kind)
            if path is not None:
                return kind.load(str(path))
        where = base / (artifact_type or "*")
        raise FileNotFoundError(f"no artifact named {artifact_name!r} in {where}")

    def register_artifact_type(
        self,
        name: str,
        save: Callable[[Any, str], None],
        load: Callable[[str], Any],
        extension: str = "",
    ) -> None:
        """Add an artifact type: `save(obj, path)` writes the file, `load(path)` reads it.

        Functions of an importable module are recorded by import path in
        `artifacts/.keys/types.yaml`, which any process can load. Functions defined in the
        script or inside a function (as MLXP allows) work in this process; for other readers
        they are recorded only as MLXP records them (their code, in
        `artifacts/.keys/custom_types.yaml`): such functions must import what they use inside
        their body and use no closure variables, and the record is specific to this Python
        version.
        """
        check_log_name(name, "artifact type name")
        if name in _art.BUILTIN_TYPES:
            raise ArtifactError(f"{name!r} is a builtin artifact type and cannot be replaced")
        try:
            record: Optional[Dict[str, str]] = {
                "save": _art.import_path(save),
                "load": _art.import_path(load),
                "extension": extension,
            }
        except ArtifactError:
            record = None
        self._types[name] = _art.ArtifactType(
            name, extension, save, load, writes_to_file_object=False  # type: ignore[arg-type]
        )
        if self._rank:  # usable here; recorded by rank 0 (see set_rank)
            return
        self._record_code(name, save, load)
        if record is None:
            return
        path = self.artifacts_dir / TYPES_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        known = (read_yaml(path) or {}) if path.is_file() else {}
        known[name] = record
        write_yaml_atomic(path, known)
        self._recorded[name] = record

    def _record_code(self, name: str, save: Callable[..., Any], load: Callable[..., Any]) -> None:
        """MLXP 1.0.5's record of a user type: `{name: {save: <marshal>, load: <marshal>}}`."""
        codes = {}
        for role, func in (("save", save), ("load", load)):
            code = getattr(func, "__code__", None)
            if code is None:
                return  # a builtin or a callable object: only the import path can record it
            codes[role] = marshal.dumps(code)
        path = self.artifacts_dir / CUSTOM_TYPES_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        known = (read_yaml(path) or {}) if path.is_file() else {}
        known[name] = codes
        write_yaml_atomic(path, known)


class DefaultLogger(Logger):
    """MLXP's default logger class (`logger.name: mlxp.DefaultLogger`): the `Logger`."""


_KNOWN_CLASSES = {"Logger": Logger, "DefaultLogger": DefaultLogger}


def logger_class(name: str) -> Type[Logger]:
    """The logger class named by `logger.name` (an import path `package.module.Class`).

    MLXP's names (`mlxp.DefaultLogger`, `mlxp.logger.Logger` ...) resolve without importing
    anything; any other class must be a subclass of `mlxp.Logger`.
    """
    module_name, _, attr = name.rpartition(".")
    # MLXP's docs write the bare names (`name: DefaultLogger`, which MLXP itself rejects)
    if module_name in ("", "mlxp", "mlxp.logger", __name__) and attr in _KNOWN_CLASSES:
        return _KNOWN_CLASSES[attr]
    where = "mlxp.logger.name"
    if not module_name:
        raise SettingsError(f"{where}: {name!r} is not an import path 'package.module.Class'; "
                            "the default is mlxp.DefaultLogger")
    try:
        found = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise SettingsError(f"{where}: cannot import {name!r} ({exc}); give the import path of "
                            "a subclass of mlxp.Logger, e.g. mlxp.DefaultLogger") from None
    if not (isinstance(found, type) and issubclass(found, Logger)):
        raise SettingsError(f"{where}: {name!r} is not a subclass of mlxp.Logger")
    return found
