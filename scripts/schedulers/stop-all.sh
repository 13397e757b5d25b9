#!/usr/bin/env bash
# Stop the test schedulers started by start-all.sh (each stop script only
# stops what its start script started). Exits non-zero if any stop failed.
# SCHEDULERS="slurm sge oar" selects which ones.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
t0=$(date +%s.%N)
failed=()
for s in ${SCHEDULERS:-slurm sge oar}; do
    "$HERE/stop-$s.sh" || failed+=("$s")
done
took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
if [ "${#failed[@]}" -gt 0 ]; then
    echo "stop-all: FAILED: ${failed[*]} (${took}s)" >&2
    exit 1
fi
echo "stop-all: done (${took}s)"
