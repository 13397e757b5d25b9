#!/usr/bin/env bash
# Stop what start-slurm.sh started: cancel leftover jobs, then stop slurmd,
# slurmctld and (if we started it) munged, by recorded pid. Idempotent.
set -euo pipefail

SCHED_NAME=slurm
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
RUN_DIR=${SLURM_TEST_RUN_DIR:-/run/slurm-test}

need_root
rundir_forget_stale
if [ ! -d "$RUN_DIR" ]; then
    echo "SLURM: nothing to stop"
    exit 0
fi

# Leftover jobs first (slurmstepd is not a child of slurmd and would survive).
live_stepds() { { ps -C slurmstepd -o pid=,stat= 2>/dev/null || true; } | awk '$2 !~ /^Z/ {print $1}'; }
if pid_alive slurmctld && pid_alive slurmd; then
    jobs=$(squeue -h -o '%A' 2>/dev/null | sort -u | tr '\n' ' ' || true)
    if [ -n "${jobs// /}" ]; then
        log "cancelling jobs: $jobs"
        # shellcheck disable=SC2086
        scancel $jobs 2>/dev/null || true
        no_jobs() { [ -z "$(squeue -h -o %A 2>/dev/null)" ]; }
        if ! wait_for 3 "jobs to end" no_jobs; then
            # Payloads that ignore SIGTERM: SIGKILL them now rather than wait
            # KillWait; slurmstepd then reports the job as ended.
            for s in $(live_stepds); do
                # shellcheck disable=SC2046
                kill -KILL $(descendants "$s" | grep -vx "$s") 2>/dev/null || true
            done
            wait_for 10 "jobs to end" no_jobs || true
        fi
    fi
fi

pid_stop slurmd 10
pid_stop slurmctld 10
pid_stop munged 5

# Steps of jobs that were still running when slurmd went away.
stepds=$(live_stepds | tr '\n' ' ')
if [ -n "${stepds// /}" ]; then
    log "killing leftover slurmstepd: $stepds"
    # shellcheck disable=SC2086
    kill_tree $stepds
fi

rm -rf "$RUN_DIR"
echo "SLURM stopped ($(elapsed "$SCHED_T0")s)"
