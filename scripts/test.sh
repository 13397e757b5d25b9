#!/usr/bin/env bash
# Install everything the test suite needs and run all tests.
# This is the README's test command; .ci/run starts the real schedulers, then calls exactly this.
# It installs into the active `python`: use a virtual environment.
# The real-scheduler tests (tests/schedulers/test_real_schedulers.py) skip when a scheduler is down (start
# them with `bash scripts/schedulers/start-all.sh`), and fail instead under MLXP_REQUIRE_SCHEDULERS=1.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-browser.sh  # Debian's chromium, for the report's browser tests
# torch for the tutorial and the torch artifact tests: the CPU build, only when none is installed
# (a torch you installed yourself is kept)
python -c "import torch" 2>/dev/null \
    || python -m pip install --quiet --disable-pip-version-check "torch==2.13.0"
python -m pip install --quiet --disable-pip-version-check \
    --config-settings editable_mode=compat -e ".[test,report]"

status=0
python -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure" >&2
fi
exit "$status"
