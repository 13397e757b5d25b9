"""`hydra/launcher=mlxp_inline`: the jobs of a sweep run one after another in this process.

It does what Hydra's basic launcher does (the `hydra.core.utils.run_job` of each job, so the
callbacks fire: mlxp's run directories, metadata and statuses), but a job's config is
derived from the config composed once for its combination of config-group choices
(`mlxp_core.hydra_app.sweep.Composer.job_config`) instead of being composed from scratch; the
derived config equals what Hydra's `load_sweep_config` returns (tests/hydra_app/test_sweeper.py).
A job the composer cannot derive is composed by Hydra.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, List, Sequence

from hydra.core.utils import JobReturn, configure_log, filter_overrides, run_job, setup_globals
from omegaconf import open_dict

from mlxp_core.hydra_app.sweep import composer_for

log = logging.getLogger(__name__)


def launch(launcher: Any, job_overrides: Sequence[Sequence[str]],
           initial_job_idx: int) -> Sequence[JobReturn]:
    config, context, task = launcher.config, launcher.hydra_context, launcher.task_function
    assert config is not None and context is not None and task is not None
    setup_globals()
    configure_log(config.hydra.hydra_logging, config.hydra.verbose)
    Path(str(config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
    composer = composer_for(launcher, context.config_loader, config)
    log.info(f"Launching {len(job_overrides)} jobs locally")
    runs: List[JobReturn] = []
    for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
        log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
        job_config = composer.job_config(list(overrides))
        with open_dict(job_config):
            job_config.hydra.job.id = idx
            job_config.hydra.job.num = idx
        runs.append(run_job(hydra_context=context, task_function=task, config=job_config,
                            job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir"))
        configure_log(config.hydra.hydra_logging, config.hydra.verbose)
    return runs
