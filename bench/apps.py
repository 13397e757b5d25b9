"""The applications each contender runs, generated into fresh temporary directories.

Every app is the smallest program a researcher would write: ``main.py`` next to
``configs/config.yaml`` (the layout MLXP requires, and the one ours and Hydra accept). Ours and
MLXP 1.0.5 run the *same* ``main.py`` source (``@mlxp.launch``, the tutorial's API); plain Hydra
runs ``@hydra.main(version_base="1.3")`` with Hydra's defaults (``outputs/`` or ``multirun/``
with ``.hydra/`` and a log file per run): the comparison is what each tool does by default.
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path
from typing import Optional

MLXP_NOOP = '''\
import mlxp


@mlxp.launch(config_path="configs")
def main(ctx):
    pass


if __name__ == "__main__":
    main()
'''

HYDRA_NOOP = '''\
import hydra


@hydra.main(version_base="1.3", config_path="configs", config_name="config")
def main(cfg):
    pass


if __name__ == "__main__":
    main()
'''

# One log_metrics call per step; the loop alone is timed, inside the process. A buffering
# logger's last lines are written by its flush(), which is inside the timed region.
MLXP_LOGGING = '''\
import json
import os
import time

import mlxp


@mlxp.launch(config_path="configs")
def main(ctx):
    n = int(ctx.config.n)
    logger = ctx.logger
    c0, t0 = time.process_time(), time.perf_counter()
    for i in range(n):
        logger.log_metrics({"loss": 1.0 / (i + 1), "acc": i * 1e-5, "epoch": i // 1000}, "train")
    flush = getattr(logger, "flush", None)
    if flush is not None:
        flush()
    t1, c1 = time.perf_counter(), time.process_time()
    with open(os.path.join(str(logger.metrics_dir), "train.json")) as f:
        lines = sum(1 for _ in f)
    print("BENCH " + json.dumps({"loop_s": t1 - t0, "loop_cpu_s": c1 - c0, "lines": lines}),
          flush=True)


if __name__ == "__main__":
    main()
'''

FLOOR_LOGGING = '''\
"""The floor: the same JSON lines, json.dumps and one write per line (unbuffered), so each
line is in the file when the call returns, as log_metrics does by default."""
import json
import sys
import time

n, path = int(sys.argv[1]), sys.argv[2]
c0, t0 = time.process_time(), time.perf_counter()
with open(path, "ab", buffering=0) as f:
    for i in range(n):
        f.write((json.dumps({"loss": 1.0 / (i + 1), "acc": i * 1e-5, "epoch": i // 1000})
                 + "\\n").encode())
t1, c1 = time.perf_counter(), time.process_time()
with open(path) as f:
    lines = sum(1 for _ in f)
print("BENCH " + json.dumps({"loop_s": t1 - t0, "loop_cpu_s": c1 - c0, "lines": lines}),
      flush=True)
'''

# The submission's batch script, as a researcher writes it for mlxpsub (ours and MLXP's).
SUBMIT_SCRIPT = '''\
#!/bin/bash
#SBATCH --time=00:10:00
#SBATCH --cpus-per-task=1
python main.py x='range(0,{n})'{extra}
'''

# The floor of a submission without arrays: what any tool must at least do per job.
FLOOR_SUBMIT = r'''#!/bin/bash
# usage: floor_submit.sh ROOT N  -- N directories, N job scripts, N sbatch calls
set -e
root=$1
n=$2
for ((i = 0; i < n; i++)); do
    d="$root/logs/$i"
    mkdir -p "$d"
    {
        echo '#!/bin/bash'
        echo "#SBATCH --job-name=logs/$i"
        echo "#SBATCH --output=$d/log.stdout"
        echo "#SBATCH --error=$d/log.stderr"
        echo '#SBATCH --time=00:10:00'
        echo '#SBATCH --cpus-per-task=1'
        echo "cd $root"
        echo "python main.py x=$i"
    } > "$d/script.sh"
    sbatch "$d/script.sh" > "$d/job_id"
done
'''

_counter = itertools.count()


def new_dir(scratch: Path, name: str) -> Path:
    """A fresh directory under ``scratch`` (each sample gets its own: MLXP deletes files in
    its working directory, and run-id counters and output trees must not grow across samples)."""
    return Path(tempfile.mkdtemp(prefix=f"{name}-{next(_counter)}-", dir=scratch))


def write_app(directory: Path, source: str, config: str = "x: 0\n",
              script: Optional[str] = None) -> Path:
    """``main.py`` + ``configs/config.yaml`` (+ ``script.sh``) in ``directory``."""
    (directory / "configs").mkdir(parents=True, exist_ok=True)
    (directory / "configs" / "config.yaml").write_text(config)
    (directory / "main.py").write_text(source)
    if script is not None:
        (directory / "script.sh").write_text(script)
    return directory
