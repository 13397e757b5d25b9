"""Which rank of a multi-process job this process is, and what `torch.distributed` needs.

One run may be executed by N processes (`srun`, `torchrun`, `mpirun`): they share one run
directory and one status, and only global rank 0 writes the run's record (see
`mlxp_core.run.active`). The rank is read from the environment the launcher gives each process,
first match wins:

1. torchrun / torch.distributed.elastic: `RANK`, `LOCAL_RANK`, `WORLD_SIZE`
   (`LOCAL_WORLD_SIZE`, `GROUP_RANK`, `TORCHELASTIC_RUN_ID`);
2. Open MPI's `mpirun`: `OMPI_COMM_WORLD_RANK`, `_SIZE`, `_LOCAL_RANK`, `_LOCAL_SIZE`, `_NODE_RANK`;
3. PMI (MPICH, Intel MPI, `srun --mpi=pmi2` on some sites): `PMI_RANK`, `PMI_SIZE`
   (`MPI_LOCALRANKID`, `MPI_LOCALNRANKS`);
4. submitit's job environment (`submitit.JobEnvironment`): a process started by submitit
   (`SUBMITIT_EXECUTOR` set: its SLURM or local executor), or a task of a SLURM job step
   (`srun`: `SLURM_STEP_ID` set). A SLURM batch script itself is NOT a step: it is one process
   even when the allocation has several tasks (`SLURM_NTASKS` then counts the allocation).

torchrun and MPI come before SLURM because they are usually started inside a SLURM job, whose
variables then describe the allocation, not the processes.

Cost: reading a few environment variables; submitit (about 50 ms to import) only in a SLURM
step or a submitit job.
"""

from __future__ import annotations

import contextlib
import os
import socket
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, Mapping, Optional, Tuple

# what torch.distributed's env:// initialisation reads
TORCH_ENV = ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")
DEFAULT_MASTER_PORT = 29500


class RankDetectionError(RuntimeError):
    """The environment names a rank but is inconsistent (e.g. RANK without WORLD_SIZE)."""


@dataclass(frozen=True)
class Ranks:
    """This process's place in a multi-process job (a single process: rank 0 of 1)."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    local_world_size: int = 1
    node_rank: int = 0
    num_nodes: int = 1
    nodes: Tuple[str, ...] = field(default_factory=tuple)
    source: Optional[str] = None  # torchrun, openmpi, pmi, slurm, submitit-local; None: single
    # the same for every process of one launch (None: unknown): how ranks > 0 find rank 0's
    # run directory when no launcher pinned it (see mlxp_core.record.ranks.rendezvous)
    launch_key: Optional[str] = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def multi(self) -> bool:
        return self.world_size > 1

    def as_info(self) -> Dict[str, Any]:
        """The fields recorded in info.yaml and shown in `ctx.info`."""
        return {
            "rank": self.rank,
            "local_rank": self.local_rank,
            "world_size": self.world_size,
            "local_world_size": self.local_world_size,
            "node_rank": self.node_rank,
            "num_nodes": self.num_nodes,
            "nodes": list(self.nodes) or [socket.gethostname()],
            "rank_source": self.source,
        }


def _int(environ: Mapping[str, str], name: str, default: Optional[int] = None) -> int:
    value = environ.get(name)
    if value is None or value == "":
        if default is None:
            raise RankDetectionError(f"environment variable {name} is not set")
        return default
    try:
        return int(value)
    except ValueError:
        raise RankDetectionError(f"environment variable {name}={value!r} is not an integer"
                                 ) from None


def _check(ranks: Ranks) -> Ranks:
    if not 0 <= ranks.rank < ranks.world_size:
        raise RankDetectionError(
            f"{ranks.source}: rank {ranks.rank} is not within world size {ranks.world_size}")
    return ranks


def _torchrun(environ: Mapping[str, str]) -> Optional[Ranks]:
    if "RANK" not in environ or "LOCAL_RANK" not in environ:
        return None
    world = _int(environ, "WORLD_SIZE")
    local_world = _int(environ, "LOCAL_WORLD_SIZE", world)
    run_id = environ.get("TORCHELASTIC_RUN_ID", "")
    restart = environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    if run_id and run_id != "none":
        key: Optional[str] = f"torchrun-{run_id}-{restart}"
    elif local_world == world:  # one node: every worker is a child of the same agent
        key = f"torchrun-{socket.gethostname()}-{os.getppid()}-{restart}"
    else:
        key = None  # several nodes without --rdzv-id: nothing common to all workers
    nodes = max(1, world // max(local_world, 1))
    return _check(Ranks(
        rank=_int(environ, "RANK"), local_rank=_int(environ, "LOCAL_RANK"), world_size=world,
        local_world_size=local_world, node_rank=_int(environ, "GROUP_RANK", 0),
        num_nodes=nodes, source="torchrun", launch_key=key))


def _openmpi(environ: Mapping[str, str]) -> Optional[Ranks]:
    if "OMPI_COMM_WORLD_RANK" not in environ:
        return None
    world = _int(environ, "OMPI_COMM_WORLD_SIZE")
    local_world = _int(environ, "OMPI_COMM_WORLD_LOCAL_SIZE", world)
    job = environ.get("OMPI_MCA_ess_base_jobid") or environ.get("PMIX_NAMESPACE")
    key = f"ompi-{job}" if job else (
        f"ompi-{socket.gethostname()}-{os.getppid()}" if local_world == world else None)
    return _check(Ranks(
        rank=_int(environ, "OMPI_COMM_WORLD_RANK"),
        local_rank=_int(environ, "OMPI_COMM_WORLD_LOCAL_RANK", 0), world_size=world,
        local_world_size=local_world, node_rank=_int(environ, "OMPI_COMM_WORLD_NODE_RANK", 0),
        num_nodes=max(1, world // max(local_world, 1)), source="openmpi", launch_key=key))


def _pmi(environ: Mapping[str, str]) -> Optional[Ranks]:
    if "PMI_RANK" not in environ or "PMI_SIZE" not in environ:
        return None
    world = _int(environ, "PMI_SIZE")
    local_world = _int(environ, "MPI_LOCALNRANKS", world)
    key = f"pmi-{socket.gethostname()}-{os.getppid()}" if local_world == world else None
    return _check(Ranks(
        rank=_int(environ, "PMI_RANK"), local_rank=_int(environ, "MPI_LOCALRANKID", 0),
        world_size=world, local_world_size=local_world,
        num_nodes=max(1, world // max(local_world, 1)), source="pmi", launch_key=key))


@contextlib.contextmanager
def _submitit_executor(name: Optional[str]) -> Iterator[None]:
    """`SUBMITIT_EXECUTOR=name` while submitit picks its job environment (its plugin contract:
    `JobEnvironment()` uses the environment of the executor that variable names)."""
    if name is None:
        yield
        return
    before = os.environ.get("SUBMITIT_EXECUTOR")
    os.environ["SUBMITIT_EXECUTOR"] = name
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("SUBMITIT_EXECUTOR", None)
        else:
            os.environ["SUBMITIT_EXECUTOR"] = before


def _submitit(environ: Mapping[str, str]) -> Optional[Ranks]:
    executor = environ.get("SUBMITIT_EXECUTOR")
    in_step = environ.get("SLURM_STEP_ID", "").isdigit() and "SLURM_JOB_ID" in environ
    if not executor and not in_step:
        return None
    import submitit

    with _submitit_executor(None if executor else "slurm"):
        env = submitit.JobEnvironment()
        world, nodes = int(env.num_tasks), max(1, int(env.num_nodes))
        hosts = tuple(env.hostnames) if env.cluster == "slurm" else (socket.gethostname(),)
        step = environ.get("SLURM_STEP_ID", "")
        restart = environ.get("SLURM_RESTART_COUNT", "0")
        return _check(Ranks(
            rank=int(env.global_rank), local_rank=int(env.local_rank), world_size=world,
            local_world_size=max(1, world // nodes), node_rank=int(env.node), num_nodes=nodes,
            nodes=hosts, source=env.cluster,
            launch_key=f"{env.cluster}-{env.job_id}.{step}-{restart}"))


def detect(environ: Optional[Mapping[str, str]] = None) -> Ranks:
    """This process's ranks (rank 0 of 1 outside a multi-process launch)."""
    environ = os.environ if environ is None else environ
    for probe in (_torchrun, _openmpi, _pmi, _submitit):
        found = probe(environ)
        if found is not None:
            return found
    return Ranks()


def distributed_env(export: bool = True, overwrite: bool = False) -> Dict[str, str]:
    """What `torch.distributed.init_process_group(init_method="env://")` needs, for this process.

    Returns `MASTER_ADDR`, `MASTER_PORT`, `RANK`, `WORLD_SIZE`, `LOCAL_RANK` and
    `LOCAL_WORLD_SIZE`, and puts them in `os.environ` (`export=True`). Values already in the
    environment (torchrun sets them all) are kept unless `overwrite`.

    * torchrun: its own values.
    * a SLURM step (`srun`) or a submitit job: submitit's `TorchDistributedEnvironment` (master:
      the first host of the job's node list; port: `MASTER_PORT`, or one drawn from the job id,
      the same on every task).
    * MPI: the ranks from `OMPI_COMM_WORLD_*` / `PMI_*`; the master is this host when all ranks
      share one node, else `MASTER_ADDR` must be set (e.g. `mpirun -x MASTER_ADDR=...`).

    A single process gets rank 0 of 1 on 127.0.0.1 (torch runs with a world of one).
    """
    ranks = detect()
    values: Dict[str, str] = {}
    if ranks.source in ("slurm", "local"):
        from submitit.helpers import TorchDistributedEnvironment

        with _submitit_executor(None if os.environ.get("SUBMITIT_EXECUTOR") else "slurm"):
            dist = TorchDistributedEnvironment()
        values = {"MASTER_ADDR": str(dist.master_addr), "MASTER_PORT": str(dist.master_port)}
    else:
        addr = os.environ.get("MASTER_ADDR")
        if addr is None:
            if ranks.num_nodes > 1 and ranks.source != "torchrun":
                raise RankDetectionError(
                    f"{ranks.source}: {ranks.world_size} ranks on {ranks.num_nodes} nodes, and "
                    "MASTER_ADDR is not set: export the first node's address to every rank "
                    "(mpirun -x MASTER_ADDR=<host>)")
            addr = "127.0.0.1"
        values = {"MASTER_ADDR": addr,
                  "MASTER_PORT": os.environ.get("MASTER_PORT", str(DEFAULT_MASTER_PORT))}
    values.update(RANK=str(ranks.rank), WORLD_SIZE=str(ranks.world_size),
                  LOCAL_RANK=str(ranks.local_rank), LOCAL_WORLD_SIZE=str(ranks.local_world_size))
    if export:
        for key, value in values.items():
            if overwrite or key not in os.environ:
                os.environ[key] = value
        values = {key: os.environ[key] for key in values}
    return values
