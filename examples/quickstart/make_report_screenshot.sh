#!/usr/bin/env bash
# Regenerate docs/img/report.png, the README's picture of `mlxp report`, from a real run:
# the quickstart sweep (3 learning rates x 3 seeds) in a scratch copy of this directory, its
# report, and a headless chromium screenshot of the page (scripts/install-browser.sh installs
# chromium when it is missing). Needs the report extra: pip install -e ".[report]".
#
#     bash examples/quickstart/make_report_screenshot.sh [OUTPUT_PNG]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$repo/docs/img/report.png}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
work=$scratch/quickstart
mkdir -p "$work" "$(dirname "$out")"
cp "$here/main.py" "$work/"
cp -r "$here/configs" "$work/"
cd "$work"

python main.py optimizer.lr=0.01,0.03,0.1 seed=1,2,3 >sweep.log 2>&1 || {
    tail -n 30 sweep.log >&2; echo "the quickstart sweep failed" >&2; exit 1; }
# the README's command (the `mlxp` console script; same as python -m mlxp_core.cli.main)
python -m mlxp_core.cli.main report logs -o report.html

command -v chromium >/dev/null 2>&1 || bash "$repo/scripts/install-browser.sh"
# --no-sandbox: chromium refuses to run as root otherwise (CI containers)
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,1500 \
    --user-data-dir="$scratch/profile" --screenshot="$out" "file://$work/report.html" \
    >"$scratch/chromium.log" 2>&1 || { tail -n 20 "$scratch/chromium.log" >&2; exit 1; }
[ -s "$out" ] || { echo "no screenshot written" >&2; exit 1; }
echo "wrote $out"
