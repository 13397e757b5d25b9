"""mlxp settings (`configs/mlxp.yaml`): typed defaults, loading and validation.

Effective settings = built-in defaults, then `<config dir>/mlxp.yaml` (optional), then the
`mlxp.*` overrides of the command line (which Hydra puts under the `mlxp` key of the job config).
Every unknown key or wrong type is an error naming the key, where it came from and what is valid.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import sys
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Type, Union

import yaml

from mlxp_core.errors import SettingsError

SETTINGS_FILE = "mlxp.yaml"
log = logging.getLogger("mlxp")

# A schema leaf is a tuple of accepted Python types; a nested dict is a sub-section.
Schema = Mapping[str, Union[Tuple[Type[Any], ...], "Schema"]]

SCHEMA: Schema = {
    # MLXP 1.0.5's keys, with its defaults and meaning
    "logger": {
        "name": (str,),
        "parent_log_dir": (str,),
        "forced_log_id": (int,),
        "log_streams_to_file": (bool,),
        # mlxp-core's additions
        "flush_interval_s": (int, float),
        # deprecated aliases (mlxp-core < 0.3): parent_log_dir / forced_log_id
        "parent_log": (str,),
        "log_id": (int, type(None)),
    },
    "version_manager": {
        "name": (str,),
        "parent_work_dir": (str,),
        "compute_requirements": (bool,),
        # mlxp-core's addition: what a snapshot does with uncommitted changes
        "dirty": (str,),
    },
    "use_version_manager": (bool,),
    "use_scheduler": (bool,),
    "use_logger": (bool,),
    "interactive_mode": (bool,),
    "resolve": (bool,),
    "as_ConfigDict": (bool,),
    # mlxp-core's addition: runs executed by several processes (srun, torchrun, mpirun)
    "distributed": {
        "seed_add_rank": (bool,),
        "per_rank_metrics": (bool,),
        "rank_end_timeout_s": (int, float),
    },
}

# keys kept readable for old mlxp.yaml files and command lines: alias -> MLXP's name
ALIASES = {"parent_log": "parent_log_dir", "log_id": "forced_log_id"}
DIRTY_CHOICES = ("snapshot", "refuse")

DEFAULTS: dict[str, Any] = {
    "logger": {
        # import path of the logger class (a subclass of mlxp.Logger)
        "name": "mlxp.DefaultLogger",
        # relative paths are resolved against the directory of the script (as MLXP)
        "parent_log_dir": "./logs",
        # -1: a new run id; an id >= 1: resume that run (config checked) or create it
        "forced_log_id": -1,
        # the task's stdout/stderr also go to <run>/log.stdout and <run>/log.stderr
        "log_streams_to_file": False,
        # 0: every metric line is in its file when log_metrics returns; > 0: lines are
        # buffered and written at least this often (seconds) and at the end of the run
        "flush_interval_s": 0.0,
    },
    "version_manager": {
        "name": "mlxp.GitVM",
        # code snapshots, one per content (relative to the script's directory)
        "parent_work_dir": "./.work_dir",
        "compute_requirements": False,
        # uncommitted changes: "snapshot" them with the commit, or "refuse" to submit
        "dirty": "snapshot",
    },
    "use_version_manager": False,
    "use_scheduler": False,
    "use_logger": True,
    "interactive_mode": True,
    "resolve": True,
    "as_ConfigDict": True,
    "distributed": {
        # every rank is seeded with config.seed; true: with config.seed + its rank
        "seed_add_rank": False,
        # ranks > 0 write no metrics; true: rank k writes metrics/<name>.rank<k>.json
        "per_rank_metrics": False,
        # how long rank 0, at its end, waits for the other ranks to record theirs
        "rank_end_timeout_s": 60.0,
    },
}


def _type_names(types: Tuple[Type[Any], ...]) -> str:
    names = {bool: "true/false", int: "integer", float: "number", str: "string"}
    return " or ".join(names.get(t, "null" if t is type(None) else t.__name__) for t in types)


def _check(value: Any, schema: Schema, where: str, prefix: str = "") -> None:
    if not isinstance(value, Mapping):
        raise SettingsError(
            f"{where}: '{prefix or 'mlxp settings'}' must be a mapping, got {value!r}"
        )
    for key, sub in value.items():
        full = f"{prefix}{key}"
        if key not in schema:
            valid = ", ".join(f"{prefix}{k}" for k in schema)
            raise SettingsError(f"{where}: unknown key '{full}'; valid keys here: {valid}")
        expected = schema[key]
        if isinstance(expected, Mapping):
            _check(sub, expected, where, f"{full}.")
            continue
        ok = isinstance(sub, expected) and not (isinstance(sub, bool) and bool not in expected)
        if not ok:
            raise SettingsError(
                f"{where}: key '{full}' must be {_type_names(expected)}, got {sub!r}"
            )
    if prefix == "logger.":
        _check_logger_values(value, where)
        _check_logger_ranges(value, where)
    if not prefix and value.get("use_scheduler") is True:
        raise SettingsError(
            f"{where}: 'use_scheduler: true' is how MLXP's mlxpsub marks its jobs; here, submit "
            "a batch script with `mlxpsub script.sh`, or pick a launcher with "
            "hydra/launcher=mlxp_slurm (or mlxp_oar, mlxp_sge ...)"
        )
    if prefix == "version_manager." and "dirty" in value and value["dirty"] not in DIRTY_CHOICES:
        raise SettingsError(
            f"{where}: key 'version_manager.dirty' must be one of "
            f"{', '.join(DIRTY_CHOICES)}, got {value['dirty']!r}"
        )


def _check_logger_values(value: Mapping[str, Any], where: str) -> None:
    if isinstance(value.get("log_id"), int) and value["log_id"] < 1:
        raise SettingsError(f"{where}: key 'logger.log_id' must be a positive integer")
    forced = value.get("forced_log_id")
    if isinstance(forced, int) and forced != -1 and forced < 1:
        raise SettingsError(
            f"{where}: key 'logger.forced_log_id' must be -1 (a new run) or a run id >= 1, "
            f"got {forced}"
        )
    for alias, name in ALIASES.items():
        if alias in value and name in value and value[alias] != value[name]:
            raise SettingsError(
                f"{where}: keys 'logger.{alias}' (deprecated) and 'logger.{name}' disagree "
                f"({value[alias]!r} vs {value[name]!r}); keep only 'logger.{name}'"
            )


def _check_logger_ranges(value: Mapping[str, Any], where: str) -> None:
    """Values a type check lets through but that cannot work (keyed by name, aliases too)."""
    flush = value.get("flush_interval_s")
    if isinstance(flush, (int, float)) and not isinstance(flush, bool) and not (
            math.isfinite(flush) and flush >= 0):
        raise SettingsError(
            f"{where}: key 'logger.flush_interval_s' must be a finite number of seconds >= 0 "
            f"(0: every line written at once), got {flush!r}")
    for key in ("parent_log_dir", "parent_log"):
        if isinstance(value.get(key), str) and not value[key].strip():
            raise SettingsError(
                f"{where}: key 'logger.{key}' is empty; give a directory, e.g. ./logs "
                "('.' for the working directory itself)")
    from mlxp_core.record.layout import MAX_LOG_ID

    for key in ("forced_log_id", "log_id"):
        given = value.get(key)
        if isinstance(given, int) and not isinstance(given, bool) and given > MAX_LOG_ID:
            raise SettingsError(
                f"{where}: key 'logger.{key}' is {given}; run ids go up to {MAX_LOG_ID}")


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, val in extra.items():
        if isinstance(val, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], val)
        else:
            base[key] = val


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (as OmegaConf does, which
    would otherwise report it with a long traceback)."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: Dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node)
            except TypeError:
                continue  # an unhashable key: the base class reports it
            if first is not key_node:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line "
                    f"{first.start_mark.line + 1}); keep one", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def load_yaml_file(path: Path) -> Any:
    """Parse a YAML file, turning a syntax error into `file:line:column: problem`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise SettingsError(f"{loc}: invalid YAML: {exc.problem or exc}") from exc
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path}: invalid YAML: {exc}") from exc


def read_settings_file(config_dir: Optional[Path]) -> dict[str, Any]:
    """The validated content of `<config_dir>/mlxp.yaml`, or `{}` when there is none."""
    if config_dir is None:
        return {}
    path = config_dir / SETTINGS_FILE
    if not path.is_file():
        return {}
    data = load_yaml_file(path)
    if data is None:
        return {}
    _check(data, SCHEMA, str(path))
    return dict(data)


# set when a command runs from a code snapshot (`mlxp_core.snapshot`): the directory of the
# script the user ran, against which relative settings stay resolved
SCRIPT_DIR_ENV = "MLXP_SCRIPT_DIR"


def script_dir() -> Path:
    """The directory of the running script (`__main__`), where MLXP resolves relative paths.

    The working directory when there is no script file (an interactive session, `python -c`).
    """
    if os.environ.get(SCRIPT_DIR_ENV):
        return Path(os.environ[SCRIPT_DIR_ENV])
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path:
        return Path(path).resolve().parent
    return Path.cwd()


_WARNED: set[str] = set()


def _deprecated(message: str) -> None:
    """Warn once per process (settings are read several times per command)."""
    if message not in _WARNED:
        _WARNED.add(message)
        log.warning("mlxp: %s", message)


def _normalize(layer: Mapping[str, Any], where: str, cwd: Path) -> dict[str, Any]:
    """A copy of one settings layer with the deprecated aliases turned into MLXP's names.

    `logger.parent_log` kept its old meaning (relative to the working directory): its value
    is made absolute here; `logger.log_id` (null = new run) becomes `forced_log_id` (-1).
    """
    out = copy.deepcopy(dict(layer))
    logger = out.get("logger")
    if not isinstance(logger, dict):
        return out
    if "parent_log" in logger:
        value = logger.pop("parent_log")
        path = Path(str(value)).expanduser()
        given = logger.get("parent_log_dir")
        logger["parent_log_dir"] = str(path if path.is_absolute() else (cwd / path).resolve())
        if given is not None and Path(str(given)).expanduser() != path:
            raise SettingsError(
                f"{where}: keys 'logger.parent_log' (deprecated) and 'logger.parent_log_dir' "
                f"disagree ({value!r} vs {given!r}); keep only 'logger.parent_log_dir'"
            )
        _deprecated(f"{where}: 'logger.parent_log' is deprecated, use 'logger.parent_log_dir' "
                    "(relative to the script's directory)")
    if "log_id" in logger:
        value = logger.pop("log_id")
        logger["forced_log_id"] = -1 if value is None else value
        _deprecated(f"{where}: 'logger.log_id' is deprecated, use 'logger.forced_log_id'")
    return out


def effective_settings(
    config_dir: Optional[Path], overrides: Optional[Mapping[str, Any]] = None, *,
    cwd: Optional[Path] = None, base_dir: Optional[Path] = None,
) -> dict[str, Any]:
    """Defaults, then `mlxp.yaml`, then command-line `mlxp.*` overrides, validated.

    `logger.parent_log_dir` and `version_manager.parent_work_dir` come out absolute (relative
    ones are taken from `base_dir`, by default the script's directory, as MLXP does).
    """
    cwd = cwd or Path.cwd()
    settings = copy.deepcopy(DEFAULTS)
    file_layer = read_settings_file(config_dir)
    if file_layer:
        where = str(config_dir / SETTINGS_FILE) if config_dir else SETTINGS_FILE
        _merge(settings, _normalize(file_layer, where, cwd))
    if overrides:
        where = "command-line override (mlxp.*)"
        _check(overrides, SCHEMA, where)
        _merge(settings, _normalize(overrides, where, cwd))
    base = base_dir or script_dir()
    for section, key in (("logger", "parent_log_dir"), ("version_manager", "parent_work_dir")):
        path = Path(str(settings[section][key])).expanduser()
        settings[section][key] = str(path if path.is_absolute() else (base / path).resolve())
    return settings


SETTINGS_PREFIX = "mlxp."  # command-line overrides of mlxp settings: mlxp.<key>=value


def override_key(override: str) -> str:
    """The key of a Hydra command-line override (`+a.b=1`, `~a`, `a=1,2` -> `a.b`, `a`, `a`)."""
    return override.lstrip("+~").split("=", 1)[0]


def is_setting_override(override: str) -> bool:
    """Whether `override` sets an mlxp setting (`mlxp.logger.parent_log=...`, `+mlxp...`)."""
    return "=" in override and override_key(override).startswith(SETTINGS_PREFIX)


def overrides_to_dict(overrides: Sequence[str], into: Optional[Dict[str, Any]] = None,
                      skip_sweeps: bool = False) -> Dict[str, Any]:
    """`mlxp.a.b=v` command-line overrides as a nested dict (values parsed as YAML scalars).

    Other overrides are ignored; with `skip_sweeps`, so are sweeps over a setting (`a=1,2`).
    """
    nested: Dict[str, Any] = {} if into is None else into
    for item in overrides:
        if not is_setting_override(item):
            continue
        key, _, value = item.lstrip("+~").partition("=")
        if skip_sweeps and ("," in value or "(" in value):
            continue
        node = nested
        parts = key.split(".")[1:]
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = yaml.safe_load(value) if value else None
    return nested


def resolve_parent_log(settings: Mapping[str, Any], base_dir: Optional[Path] = None) -> Path:
    """The absolute parent log directory (`effective_settings` already made it absolute;
    a relative one, from a hand-made mapping, is taken from `base_dir` or the script's dir)."""
    path = Path(str(settings["logger"]["parent_log_dir"])).expanduser()
    return path if path.is_absolute() else ((base_dir or script_dir()) / path).resolve()


def forced_log_id(settings: Mapping[str, Any]) -> Optional[int]:
    """The run id the settings pin (`logger.forced_log_id` >= 1), or None for a new run."""
    value = settings["logger"]["forced_log_id"]
    return None if value is None or value < 0 else int(value)
