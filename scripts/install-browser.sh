#!/usr/bin/env bash
# Install Debian's `chromium` for the report's browser tests (tests/report/), if it is missing.
# Idempotent: does nothing when `chromium` is already on PATH. apt is serialised with the same
# lock as scripts/schedulers/lib.sh, so this may run while the scheduler start scripts install.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-browser.sh: chromium is missing and installing it needs root (apt-get)" >&2
    exit 1
fi
log=/tmp/mlxp-install-browser.log
(
    flock -w 900 9 || { echo "install-browser.sh: could not take the apt lock" >&2; exit 1; }
    # another process may have installed it while we waited for the lock
    if command -v chromium >/dev/null 2>&1; then
        exit 0
    fi
    export DEBIAN_FRONTEND=noninteractive
    echo "install-browser.sh: installing chromium (apt-get)" >&2
    apt-get update -qq >"$log" 2>&1 || { tail -n 30 "$log" >&2; echo "apt-get update failed" >&2; exit 1; }
    apt-get install -y -q -o DPkg::Lock::Timeout=300 chromium >>"$log" 2>&1 || {
        tail -n 30 "$log" >&2
        echo "install-browser.sh: apt-get install chromium failed (log: $log)" >&2
        exit 1
    }
) 9>/run/mlxp-sched-apt.lock
command -v chromium >/dev/null 2>&1 || { echo "install-browser.sh: chromium still not on PATH" >&2; exit 1; }
