#!/usr/bin/env bash
# Start the test schedulers (default: SLURM, Grid Engine and OAR) one after the
# other; each start script is idempotent. Exits non-zero if any failed.
# SCHEDULERS="slurm sge oar" selects which ones.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
t0=$(date +%s.%N)
failed=()
# One apt-get run for all of them (faster than three on a fresh machine).
if [ "${SCHED_SKIP_INSTALL:-0}" != 1 ]; then
    (
        SCHED_NAME=install
        # shellcheck source=lib.sh
        . "$HERE/lib.sh"
        need_root
        pkgs=""
        for s in ${SCHEDULERS:-slurm sge oar}; do
            case $s in
            slurm) pkgs="$pkgs $SLURM_PKGS" ;;
            sge) sge_preseed; pkgs="$pkgs $SGE_PKGS" ;;
            oar) pkgs="$pkgs $OAR_PKGS" ;;
            esac
        done
        # shellcheck disable=SC2086
        apt_install $pkgs
        echo "start-all: packages checked/installed in $(elapsed "$SCHED_T0")s"
    ) || failed+=(install)
fi
for s in ${SCHEDULERS:-slurm sge oar}; do
    "$HERE/start-$s.sh" || failed+=("$s")
done
took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
if [ "${#failed[@]}" -gt 0 ]; then
    echo "start-all: FAILED: ${failed[*]} (${took}s)" >&2
    exit 1
fi
echo "start-all: ${SCHEDULERS:-slurm sge oar} ready (${took}s)"
