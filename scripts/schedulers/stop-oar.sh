#!/usr/bin/env bash
# Stop what start-oar.sh started: delete leftover jobs (and kill what is left
# of them), then stop Almighty, OAR's sshd and -- only if start-oar.sh started
# it -- PostgreSQL, by recorded pid. Idempotent.
set -euo pipefail

SCHED_NAME=oar
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
RUN_DIR=${OAR_TEST_RUN_DIR:-/run/oar-test}

need_root
rundir_forget_stale
if [ ! -d "$RUN_DIR" ]; then
    echo "OAR: nothing to stop"
    exit 0
fi

# Current (not yet finished) jobs, as listed by a plain oarstat.
list_jobs() { { oarstat 2>/dev/null || true; } | awk 'NR > 2 && $1 ~ /^[0-9]+$/ {print $1}'; }
# Jobs run detached from Almighty and the node sshd, as "perl - <id> OAREXEC"
# sessions of user oar: those would survive the daemons.
oarexec_pgids() { { ps -u oar -o pgid=,args= 2>/dev/null || true; } | awk '/ OAREXEC/ {print $1}' | sort -u; }

if pid_alive almighty; then
    jobs=$(list_jobs | tr '\n' ' ')
    if [ -n "${jobs// /}" ]; then
        log "deleting jobs: $jobs"
        # shellcheck disable=SC2086
        oardel $jobs >/dev/null 2>&1 || true
        no_jobs() { [ -z "$(list_jobs)" ]; }
        if ! wait_for 20 "jobs to end" no_jobs; then
            # shellcheck disable=SC2046
            oardel --force-terminate-finishing-job $(list_jobs) >/dev/null 2>&1 || true
        fi
    fi
fi
for g in $(oarexec_pgids); do
    log "killing leftover job session (process group $g)"
    kill -KILL -- "-$g" 2>/dev/null || true
done

# Almighty's helpers (appendice, bipbip, ...) are in its process group,
# which pid_stop kills once Almighty is gone.
pid_stop almighty 10
pid_stop sshd 5
# SIGINT = PostgreSQL's "fast" shutdown (SIGTERM would wait for clients).
pid_stop postgres 30 INT

rm -rf "$RUN_DIR"
echo "OAR stopped ($(elapsed "$SCHED_T0")s)"
