"""mlxp settings (`configs/mlxp.yaml`): typed defaults, loading and validation.

Effective settings = built-in defaults, then `<config dir>/mlxp.yaml` (optional), then the
`mlxp.*` overrides of the command line (which Hydra puts under the `mlxp` key of the job config).
Every unknown key or wrong type is an error naming the key, where it came from and what is valid.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Type, Union

import yaml

from mlxp_core.errors import SettingsError

SETTINGS_FILE = "mlxp.yaml"

# A schema leaf is a tuple of accepted Python types; a nested dict is a sub-section.
Schema = Mapping[str, Union[Tuple[Type[Any], ...], "Schema"]]

SCHEMA: Schema = {
    "use_logger": (bool,),
    "logger": {
        "parent_log": (str,),
        "log_id": (int, type(None)),
        "flush_interval_s": (int, float),
    },
}

DEFAULTS: dict[str, Any] = {
    "use_logger": True,
    "logger": {
        # relative paths are resolved against the working directory of the command
        "parent_log": "./logs",
        # set to an existing id to resume that run, or to pin a new run to that id
        "log_id": None,
        # metric lines are written to disk at least this often (and at the end of the run)
        "flush_interval_s": 1.0,
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
    if prefix == "logger." and isinstance(value.get("log_id"), int) and value["log_id"] < 1:
        raise SettingsError(f"{where}: key 'logger.log_id' must be a positive integer")


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, val in extra.items():
        if isinstance(val, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], val)
        else:
            base[key] = val


def load_yaml_file(path: Path) -> Any:
    """Parse a YAML file, turning a syntax error into `file:line:column: problem`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        return yaml.safe_load(text)
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


def effective_settings(
    config_dir: Optional[Path], overrides: Optional[Mapping[str, Any]] = None
) -> dict[str, Any]:
    """Defaults, then `mlxp.yaml`, then command-line `mlxp.*` overrides, validated."""
    settings = copy.deepcopy(DEFAULTS)
    _merge(settings, read_settings_file(config_dir))
    if overrides:
        _check(overrides, SCHEMA, "command-line override (mlxp.*)")
        _merge(settings, overrides)
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


def resolve_parent_log(settings: Mapping[str, Any], base_dir: Path) -> Path:
    """The absolute parent log directory (relative paths are taken from `base_dir`)."""
    path = Path(str(settings["logger"]["parent_log"])).expanduser()
    return path if path.is_absolute() else (base_dir / path).resolve()
