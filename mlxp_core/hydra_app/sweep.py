"""`hydra/sweeper=mlxp`: Hydra's basic sweep, validated without composing every job.

Expansion is the basic sweeper's: every override of the command line (after
`hydra.sweeper.params`) is a column of `key=value` strings (a comma list, `range()`,
`choice()`, `glob()`; one string for a plain override), the jobs are the cross product of
the columns in command-line order (the last column varies fastest), a key given twice keeps
its first position and its last values, and the jobs are cut into batches of
`max_batch_size`. Each batch goes to `launcher.launch(batch, initial_job_idx)` and the
first failed job of a batch is raised (`JobReturn.return_value`).

What differs is how the jobs are checked before launch. Hydra's basic sweeper composes
the whole config of every job on the head (~40 ms each). Here a `Composer` composes one
config per distinct combination of the jobs' *config-group* overrides (`db=mysql`,
`+extra=x`, `~db`: an override whose key is a config group, as Hydra decides), and checks
each *value* override (`lr=0.1`, `+new=1`, `~key`) against that config by applying it
exactly as Hydra applies command-line overrides, to a copy that shares every node the
override cannot touch. A value override is checked once per combination; the overrides of
a job are checked together, on a full copy, when one key is a prefix of another
(`+a={}` with `a.b=1`). Whenever the check fails, the job is composed by Hydra itself
(`load_sweep_config`), so the error raised is Hydra's own, and a failure of the check
that Hydra does not confirm is not an error.

`Composer.job_config` gives the inline launcher (`hydra/launcher=mlxp_inline`) the config
Hydra's `load_sweep_config` would give, derived from the same per-combination config (see
`mlxp_core.hydra_app.inline` and `tests/hydra_app/test_sweeper.py`).
"""

from __future__ import annotations

import copy
import itertools
import logging
import os
import pickle
import time
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Optional, Sequence, Set, Tuple

from hydra.core.object_type import ObjectType
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, OverrideType
from hydra.core.utils import JobReturn
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict

from mlxp_core import gcpause
from mlxp_core.hydra_app.internals import element_override
from mlxp_core.hydra_app.overrides import (
    apply_value_override,
    override_dirname,
    path_copy,
    related,
)

log = logging.getLogger(__name__)

Combo = Tuple[str, ...]  # the config-group overrides of a job, in command-line order


# --- expansion (the basic sweeper's) -------------------------------------------------------


def expand(overrides: Sequence[Override], sweeper_name: str = "MLXPSweeper",
           parsed: Optional[Dict[str, Override]] = None) -> List[List[str]]:
    """The jobs of a sweep: the cross product of one column of `key=value` per key.

    `parsed`, when given, receives the `Override` of each job string whose value is a plain
    scalar (what parsing that string would give), so that checking 1,000 jobs does not run
    Hydra's parser 1,000 times.
    """
    columns: Dict[str, List[str]] = {}
    for override in overrides:
        key = override.get_key_element()
        if not override.is_sweep_override():
            columns[key] = [f"{key}={override.get_value_element_as_str()}"]
        elif override.is_discrete_sweep():
            columns[key] = [f"{key}={value}" for value in override.sweep_string_iterator()]
            if parsed is not None:
                _remember_elements(override, columns[key], parsed)
        else:
            kind = override.value_type.name if override.value_type is not None else "?"
            raise HydraException(f"{sweeper_name} does not support sweep type : {kind}")
    return [list(job) for job in itertools.product(*columns.values())]


_SCALARS = (int, float, bool, str, type(None))


def _remember_elements(sweep: Override, texts: List[str], parsed: Dict[str, Override]) -> None:
    """`parsed[text]` = the element override `text` parses to, for plain scalar elements.

    Elements that are quoted strings, lists or dicts are left to the parser. A scalar element
    is what the grammar produced for that value, and `text` is its string form, which parses
    back to the same scalar (Hydra's basic sweeper relies on this round trip).
    """
    for text, value in zip(texts, sweep.sweep_iterator()):
        if type(value) in _SCALARS and text not in parsed:
            parsed[text] = element_override(sweep, value, text)


def batches(jobs: List[List[str]], max_batch_size: Optional[int]) -> List[List[List[str]]]:
    if max_batch_size is None:
        return [jobs]
    if max_batch_size <= 0:
        raise HydraException(
            f"hydra.sweeper.max_batch_size must be a positive integer or null, got {max_batch_size}"
        )
    return [jobs[i:i + max_batch_size] for i in range(0, len(jobs), max_batch_size)]


# --- the composer -------------------------------------------------------------------------


class Composer:
    """Job configs of one multirun, composed once per combination of config-group choices."""

    def __init__(self, config_loader: Any, master: DictConfig) -> None:
        self.loader = config_loader
        self.master = master
        self.config_name: Optional[str] = master.hydra.job.config_name
        hydra_overrides = OmegaConf.to_container(master.hydra.overrides.hydra)
        assert isinstance(hydra_overrides, list)
        self.hydra_overrides: List[str] = [str(x) for x in hydra_overrides]
        self._parser = OverridesParser.create()
        self._parsed: Dict[str, Override] = {}
        self._groups: Dict[str, FrozenSet[str]] = {}
        self._bases: Dict[Combo, DictConfig] = {}
        self._snapshots: Dict[Combo, Optional[bytes]] = {}
        self._checked: Set[Tuple[Combo, Tuple[str, ...]]] = set()
        self._scratches: Dict[Tuple[Combo, Tuple[str, ...]], DictConfig] = {}
        self._master_is_base: Optional[bool] = None
        self.stats = {"compositions": 0, "hydra_fallbacks": 0}

    # classification

    def remember(self, parsed: Dict[str, Override]) -> None:
        """Job strings already parsed (see `expand`)."""
        for text, override in parsed.items():
            self._parsed.setdefault(text, override)

    def parse(self, text: str) -> Override:
        parsed = self._parsed.get(text)
        if parsed is None:
            parsed = self._parser.parse_overrides([text])[0]
            self._parsed[text] = parsed
        return parsed

    def _is_group(self, path: str) -> bool:
        parent, _, name = path.rpartition("/")
        names = self._groups.get(parent)
        if names is None:
            names = frozenset(self.loader.get_group_options(
                parent, results_filter=ObjectType.GROUP, config_name=self.config_name,
                overrides=self.hydra_overrides))
            self._groups[parent] = names
        return name in names

    def split(self, overrides: Sequence[str]) -> Optional[Tuple[Combo, List[Override]]]:
        """(group overrides, value overrides) of a job; None: only Hydra can compose it."""
        groups: List[str] = []
        values: List[Override] = []
        for text in overrides:
            override = self.parse(text)
            if override.is_sweep_override() or override.is_hydra_override():
                return None
            if not isinstance(override.value(), dict) and self._is_group(override.key_or_group):
                groups.append(text)
            else:
                values.append(override)
        return tuple(groups), values

    def base(self, combo: Combo) -> DictConfig:
        """The config Hydra composes from the head's Hydra overrides and these group choices."""
        cfg = self._bases.get(combo)
        if cfg is None:
            cfg = self.loader.load_configuration(
                config_name=self.config_name, overrides=[*self.hydra_overrides, *combo],
                run_mode=RunMode.RUN)
            self.stats["compositions"] += 1
            self._bases[combo] = cfg
        return cfg

    # validation

    def _check_base(self, combo: Combo) -> DictConfig:
        """The config a job's value overrides are checked against.

        Without config-group overrides that is the head's own (master) config when every
        plain override of the command line changes a value: then its task part is the base
        config with those changes applied, and every job re-applies them (a change is
        idempotent). That saves one composition; otherwise `base` composes it.
        """
        if not combo:
            if self._master_is_base is None:
                self._master_is_base = self._plain_changes_only()
            if self._master_is_base:
                return self.master
        return self.base(combo)

    def _plain_changes_only(self) -> bool:
        task = OmegaConf.select(self.master, "hydra.overrides.task")
        for text in (task or []):
            try:
                override = self.parse(str(text))
            except Exception:  # not ours to report: Hydra parsed it already
                return False
            if override.is_sweep_override():
                continue
            if (override.type != OverrideType.CHANGE or override.is_hydra_override()
                    or isinstance(override.value(), (dict, list))
                    or self._is_group(override.key_or_group)):
                return False
        return True

    def _passes(self, overrides: Sequence[str]) -> bool:
        split = self.split(overrides)
        if split is None:
            return False
        combo, values = split
        base = self._check_base(combo)
        paths = [tuple(o.key_or_group.split(".")) for o in values]
        if related(paths):
            key = (combo, tuple(str(o.input_line) for o in values))
            if key not in self._checked:
                cfg = copy.deepcopy(base)
                for override in values:
                    apply_value_override(cfg, override)
                self._checked.add(key)
            return True
        for override, path in zip(values, paths):
            key = (combo, (str(override.input_line),))
            if key in self._checked:
                continue
            apply_value_override(self._scratch(combo, base, path, override), override)
            self._checked.add(key)
        return True

    def _scratch(self, combo: Combo, base: DictConfig, path: Tuple[str, ...],
                 override: Override) -> DictConfig:
        """A copy of `base` this override may change.

        Setting a plain scalar (`lr=0.1`) succeeds or fails regardless of the scalar it
        replaces (the node's type and flags decide), so the overrides of one key share one
        copy per combination: a 1,000-value column costs one copy, not 1,000. Anything else
        (add, delete, a dict or list value) gets a fresh copy.
        """
        value = override.value()
        shareable = override.type == OverrideType.CHANGE and type(value) in _SCALARS
        if shareable and (combo, path) in self._scratches:
            return self._scratches[combo, path]
        cfg = path_copy(base, path)
        if cfg is None:
            cfg = copy.deepcopy(base)
        if shareable:
            self._scratches[combo, path] = cfg
        return cfg

    def check(self, overrides: Sequence[str]) -> None:
        """Raise Hydra's own error if Hydra could not compose this job."""
        try:
            passed = self._passes(overrides)
        except Exception as exc:  # confirmed (and reported) by Hydra below
            log.debug("job %s failed the check: %r", list(overrides), exc)
            self._scratches.clear()  # a failed update may have left a shared copy half-changed
            passed = False
        if not passed:
            self.stats["hydra_fallbacks"] += 1
            self.loader.load_sweep_config(self.master, list(overrides))

    def check_all(self, jobs: Sequence[Sequence[str]]) -> None:
        for overrides in jobs:
            self.check(overrides)

    # job configs for the inline launcher

    def derive(self, overrides: Sequence[str]) -> Optional[DictConfig]:
        """The config `load_sweep_config(master, overrides)` returns, or None (not derivable)."""
        split = self.split(overrides)
        if split is None:
            return None
        combo, values = split
        cfg = self._fresh_copy(combo)
        for override in values:
            apply_value_override(cfg, override)
        task = [self.parse(text) for text in overrides]
        cfg.hydra.overrides.task = [str(o.input_line) for o in task]
        with open_dict(cfg.hydra):
            for key in cfg.hydra.job.env_copy:
                cfg.hydra.job.env_set[key] = os.environ[key]
        cfg.hydra.runtime.cwd = os.getcwd()
        cfg.hydra.job.override_dirname = override_dirname(task, cfg)
        OmegaConf.copy_cache(from_config=self.master, to_config=cfg)
        return cfg

    def _fresh_copy(self, combo: Combo) -> DictConfig:
        """A deep copy of the combination's config (unpickling is ~4x faster than deepcopy)."""
        base = self.base(combo)
        if combo not in self._snapshots:
            try:
                self._snapshots[combo] = pickle.dumps(base, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:  # a value or type that cannot be pickled (a local class ...)
                self._snapshots[combo] = None
        snapshot = self._snapshots[combo]
        if snapshot is not None:
            cfg = pickle.loads(snapshot)
            assert isinstance(cfg, DictConfig)
            return cfg
        return copy.deepcopy(base)

    def job_config(self, overrides: Sequence[str]) -> DictConfig:
        try:
            cfg = self.derive(overrides)
        except Exception as exc:  # Hydra composes it (and raises its own error)
            log.debug("job %s is composed by Hydra: %r", list(overrides), exc)
            cfg = None
        if cfg is None:
            self.stats["hydra_fallbacks"] += 1
            cfg = self.loader.load_sweep_config(self.master, list(overrides))
        return cfg


def composer_for(owner: Any, config_loader: Any, master: DictConfig) -> Composer:
    """The composer of this multirun, kept on `owner` (the sweeper, or the inline launcher).

    The mlxp sweeper hands its composer to an inline launcher (`launcher.composer`), so the
    configs composed to check the sweep are reused to run it.
    """
    composer: Optional[Composer] = getattr(owner, "composer", None)
    if composer is None or composer.master is not master or composer.loader is not config_loader:
        composer = Composer(config_loader, master)
        owner.composer = composer
    return composer


# --- the sweep ----------------------------------------------------------------------------


def run_sweep(sweeper: Any, arguments: List[str]) -> List[Sequence[JobReturn]]:
    """`MLXPSweeper.sweep`: expand, write multirun.yaml, check every job, launch the batches."""
    config, context, launcher = sweeper.config, sweeper.hydra_context, sweeper.launcher
    assert config is not None and context is not None and launcher is not None
    params = [f"{k}={v}" for k, v in (sweeper.params or {}).items()]
    parser = OverridesParser.create(config_loader=context.config_loader)
    parsed: Dict[str, Override] = {}
    jobs = expand(parser.parse_overrides([*params, *arguments]), type(sweeper).__name__, parsed)
    todo = batches(jobs, sweeper.max_batch_size)

    sweep_dir = Path(config.hydra.sweep.dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(config, sweep_dir / "multirun.yaml")

    composer = composer_for(sweeper, context.config_loader, config)
    if hasattr(launcher, "composer"):  # the inline launcher runs what was composed here
        launcher.composer = composer
    composer.remember(parsed)
    tic = time.perf_counter()
    with gcpause.paused():
        composer.check_all(jobs)  # every batch, before the first launch
    log.debug("checked %d jobs in %.3f s (%d compositions, %d by Hydra)", len(jobs),
              time.perf_counter() - tic, composer.stats["compositions"],
              composer.stats["hydra_fallbacks"])

    returns: List[Sequence[JobReturn]] = []
    initial_job_idx = 0
    for batch in todo:
        results = launcher.launch(batch, initial_job_idx=initial_job_idx)
        for result in results:
            _ = result.return_value  # raises the error of a failed job
        initial_job_idx += len(batch)
        returns.append(results)
    return returns
