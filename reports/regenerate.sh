#!/usr/bin/env bash
# Rebuilds reports/example/{burst,sweep,recommend}: the reports (report.html and figures/)
# of the default burst, the default sweep and `recommend --from` that sweep. The tables stay
# in a temporary directory, out of git. ENISIM names the binary (default: a release build).
set -euo pipefail
cd "$(dirname "$0")/.."
ENISIM="${ENISIM:-cargo run --release --quiet --}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
$ENISIM run --out "$tmp/burst" --report >/dev/null
$ENISIM sweep -q --out "$tmp/sweep" --report >/dev/null
# recommend exits 1 when no point meets every threshold; the report is written either way.
$ENISIM recommend -q --from "$tmp/sweep" --out "$tmp/recommend" --report >/dev/null || [ $? -eq 1 ]
for kind in burst sweep recommend; do
    rm -rf "reports/example/$kind"
    mkdir -p "reports/example/$kind"
    cp -r "$tmp/$kind/report.html" "$tmp/$kind/figures" "reports/example/$kind/"
done
echo "wrote reports/example/{burst,sweep,recommend}"
