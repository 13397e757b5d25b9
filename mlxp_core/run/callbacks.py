"""Hydra callbacks: the run directory, its metadata, status tracking and seeding.

`MLXPCallback` is what `@mlxp.launch` adds to every app, and what a plain `@hydra.main` app
adds to its `hydra.callbacks` to get the same run directories (see docs/callbacks.md):

- `on_run_start` / `on_multirun_start` (head process): check settings, the seed and the
  parent log directory before anything runs; a problem aborts the command with one message.
- `on_job_start` (the process that runs the task): allocate or adopt `<parent_log>/<id>`,
  write `metadata/{config,mlxp,info}.yaml` (status RUNNING), open the logger, seed, and
  turn SIGTERM/SIGINT into an INTERRUPTED status with a non-zero exit.
- `on_job_end`: COMPLETE, or FAILED with the error and traceback; end time and duration.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from hydra.core.utils import JobReturn
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from mlxp_core.errors import MLXPError, ResumeRefused, UsageAbort
from mlxp_core.run import active as _run
from mlxp_core.run import jobreturn
from mlxp_core.run.job_config import mlxp_overrides, primary_config_dir
from mlxp_core.run.logger import logger_class
from mlxp_core.settings import effective_settings, resolve_parent_log

log = logging.getLogger(__name__)


class MLXPCallback(Callback):
    """Run directory, metadata, statuses and seeding for every job of a Hydra app.

    `seeding_function`: import path (`package.module:function`) of a function called with
    `config.seed` before the task runs.
    """

    def __init__(self, seeding_function: Optional[str] = None) -> None:
        self.seeding_function = seeding_function

    def _preflight(self, config: DictConfig) -> None:
        try:
            settings = effective_settings(primary_config_dir(config), mlxp_overrides(config))
            if settings["use_logger"]:
                logger_class(settings["logger"]["name"])
            if self.seeding_function:
                _run.resolve_seeder(self.seeding_function)
        except MLXPError as exc:
            raise UsageAbort(str(exc)) from None
        if self.seeding_function and "seed" not in config:
            raise UsageAbort(
                f"a seeding function ({self.seeding_function}) is given but the config has no "
                "'seed' key: add 'seed: 0' to config.yaml or pass '+seed=0' on the command line"
            )
        if settings["use_logger"]:
            parent = resolve_parent_log(settings)
            try:
                _run.check_parent_log(parent)
            except OSError as exc:
                raise UsageAbort(
                    f"cannot create run directories under {parent} "
                    f"(mlxp.logger.parent_log_dir): {exc.strerror or exc}; choose a writable "
                    "directory in mlxp.yaml or with +mlxp.logger.parent_log_dir=/path"
                ) from None

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._preflight(config)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._preflight(config)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        run = _run.start(
            config,
            config_dir=primary_config_dir(config),
            mlxp=mlxp_overrides(config),
            seeding_function=self.seeding_function,
        )
        if isinstance(run.setup_error, ResumeRefused):
            # the run keeps its own record: no FAILED line, no traceback, exit status 1
            _run.abandon()
            raise UsageAbort(str(run.setup_error))

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        error, value = jobreturn.outcome(job_return)
        run = _run.active_run()
        if run is not None and run.log_dir is not None and run.launched and run.ranks.is_main:
            if run.ranks.multi:  # the run's outcome is every rank's: combine them first
                _run.finish(error)
                error = error or _run.rank_failure(run)
            # for the launcher's head that waits for this job (nobody else reads it)
            jobreturn.dump(run.log_dir, error, value)
        _run.finish(error)
