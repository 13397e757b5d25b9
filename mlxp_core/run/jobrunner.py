"""`python -m mlxp_core.run.jobrunner job.pkl`: run one pickled Hydra job (mlxp_local's fallback).

Used when the task cannot be re-invoked from a script (see `mlxp_core.submit.local`).
Restores Hydra's global state from the head, composes this job's config, runs it through
Hydra's public `run_job` (so the callbacks fire here), writes `job_return.pkl` and exits
non-zero on failure.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import run_job, setup_globals
from omegaconf import open_dict

from mlxp_core.run import jobreturn


def run(payload: Dict[str, Any]) -> int:
    Singleton.set_state(payload["singleton_state"])
    setup_globals()
    context = payload["hydra_context"]
    config = context.config_loader.load_sweep_config(payload["config"], list(payload["overrides"]))
    with open_dict(config):
        config.hydra.job.id = f"mlxp_local_{payload['idx']}"
        config.hydra.job.num = payload["idx"]
    HydraConfig.instance().set_config(config)
    ret = run_job(hydra_context=context, task_function=payload["task_function"], config=config,
                  job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")
    error, value = jobreturn.outcome(ret)
    jobreturn.dump(Path(payload["result_dir"]), error, value, cfg=ret.cfg, hydra_cfg=ret.hydra_cfg,
                   working_dir=ret.working_dir, task_name=ret.task_name)
    return 1 if error else 0


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m mlxp_core.run.jobrunner JOB.pkl", file=sys.stderr)
        return 2
    with open(args[0], "rb") as handle:
        payload = pickle.load(handle)
    return run(payload)


if __name__ == "__main__":
    sys.exit(main())
