"""mlxp's Hydra settings as the *defaults* of Hydra's own `hydra/config`.

While an `@mlxp.launch` app runs, Hydra's stored `hydra/config` (the node Hydra composes the
`hydra` part of every config from) is edited in place and restored afterwards:

* its defaults list chooses `hydra/sweeper: mlxp`, `hydra/launcher: mlxp_inline`,
  `hydra/job_logging: stdout` and `hydra/output: mlxp` instead of `basic`, `basic`,
  `default` and `default`; `hydra/output: mlxp` (stored by `launch`) runs in the current
  directory and puts `multirun.yaml` under the logs;
* values of the node itself: no `.hydra/` output dir, and the mlxp callback.

Being defaults, not command-line overrides, they have the lowest priority: anything the user
sets (`hydra/launcher=...` or `hydra.run.dir=...` on the command line, a `hydra:` section or an
`override hydra/launcher: ...` in the primary config) wins. They also cost nothing to parse:
Hydra composes twice per command, and parsing seven extra overrides each time was about 6% of
a run's start-up. Hydra composes from copies it loads from the store, so nothing outside the
block sees the edit (`ConfigStore.load`/`store` would deep-copy the whole node instead).
"""

from __future__ import annotations

import contextlib
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf, open_dict

from mlxp_core.hydra_app.internals import stored_hydra_config

MLXP_DEFAULTS: Dict[str, str] = {"sweeper": "mlxp", "launcher": "mlxp_inline"}
OUTPUT_OPTION = "mlxp"  # hydra/output=mlxp, stored by `store_output_option`
HYDRA_CHOICES: Dict[str, str] = {"sweeper": "basic", "launcher": "basic",
                                 "job_logging": "default", "output": "default"}
_ABSENT = object()


def _choose(node: DictConfig, groups: Mapping[str, str]) -> List[Tuple[DictConfig, str, str]]:
    """Replace Hydra's own choices in the defaults list; return what to put back."""
    changed = []
    for item in node.get("defaults") or []:
        if not isinstance(item, DictConfig):
            continue
        for group, option in groups.items():
            current = item.get(group)
            if current is not None and current == HYDRA_CHOICES.get(group):
                item[group] = option
                changed.append((item, group, current))
    return changed


def _set_values(node: DictConfig, values: Mapping[str, Any]) -> List[Tuple[str, Any]]:
    """Set dotted keys of the node; return their previous values (or `_ABSENT`)."""
    previous = []
    with open_dict(node):
        for key, value in values.items():
            previous.append((key, OmegaConf.select(node, key, default=_ABSENT)))
            OmegaConf.update(node, key, value, merge=False, force_add=True)
    return previous


def _restore(node: DictConfig, previous: List[Tuple[str, Any]]) -> None:
    with open_dict(node):
        for key, value in reversed(previous):
            if value is _ABSENT:
                parent_key, _, last = key.rpartition(".")
                parent = OmegaConf.select(node, parent_key) if parent_key else node
                if isinstance(parent, DictConfig) and last in parent:
                    del parent[last]
            else:
                OmegaConf.update(node, key, value, merge=False)


def store_output_option(name: str, sweep_dir: str) -> None:
    """`hydra/output=<name>`: run in the current directory, sweeps' files in `sweep_dir`."""
    ConfigStore.instance().store(
        group="hydra/output", name=name, package="hydra",
        node={"run": {"dir": "."}, "sweep": {"dir": sweep_dir, "subdir": "."}})


@contextlib.contextmanager
def mlxp_plugin_defaults(groups: Mapping[str, str] = MLXP_DEFAULTS,
                         values: Optional[Mapping[str, Any]] = None) -> Iterator[None]:
    """Within the block, Hydra's defaults are mlxp's (`groups` choices, dotted `values`).

    A group whose choice is no longer Hydra's own (another tool changed it) is left alone.
    """
    node = stored_hydra_config(ConfigStore.instance())
    changed: List[Tuple[DictConfig, str, str]] = []
    previous: List[Tuple[str, Any]] = []
    try:
        changed = _choose(node, groups)
        previous = _set_values(node, values or {})
        yield
    finally:
        for item, group, option in changed:
            item[group] = option
        _restore(node, previous)


def uses_mlxp_output(config: DictConfig) -> bool:
    """Whether this Hydra config runs with mlxp's output option (an `@mlxp.launch` app):
    no Hydra output directory to reproduce in a job, its run directory is the job's."""
    return OmegaConf.select(config, "hydra.runtime.choices") is not None and str(
        OmegaConf.select(config, "hydra.runtime.choices").get("hydra/output")) == OUTPUT_OPTION
