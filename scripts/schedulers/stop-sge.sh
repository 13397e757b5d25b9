#!/usr/bin/env bash
# Stop what start-sge.sh started: delete leftover jobs, kill what is left of
# them, then stop sge_execd and sge_qmaster by recorded pid. Idempotent.
set -euo pipefail

SCHED_NAME=sge
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
RUN_DIR=${SGE_TEST_RUN_DIR:-/run/sge-test}
export SGE_ROOT=/var/lib/gridengine SGE_CELL=default

need_root
rundir_forget_stale
if [ ! -d "$RUN_DIR" ]; then
    echo "SGE: nothing to stop"
    exit 0
fi

list_jobs() { { qstat -u '*' 2>/dev/null || true; } | awk 'NR > 2 {print $1}' | sort -u; }
if pid_alive qmaster; then
    jobs=$(list_jobs | tr '\n' ' ')
    if [ -n "${jobs// /}" ]; then
        log "deleting jobs: $jobs"
        # shellcheck disable=SC2086
        qdel -f $jobs >/dev/null 2>&1 || true
        no_jobs() { [ -z "$(list_jobs)" ]; }
        wait_for 10 "jobs to go away" no_jobs || true
    fi
fi

# sge_execd leaves running jobs alone when it stops: kill its shepherds and
# everything below them first.
if execd=$(pid_get execd); then
    kids=$(ps -o pid= --ppid "$execd" 2>/dev/null | tr '\n' ' ' || true)
    # shellcheck disable=SC2086
    [ -z "${kids// /}" ] || kill_tree $kids
fi
pid_stop execd 10
# qmaster's controlled shutdown takes ~10 s.
pid_stop qmaster 25

rm -rf "$RUN_DIR"
echo "SGE stopped ($(elapsed "$SCHED_T0")s)"
