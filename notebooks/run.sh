#!/usr/bin/env bash
# Executes every notebook headless against outputs freshly made by an enisim binary, and fails
# if a committed notebook holds outputs or any cell raises. .ci/run calls it after `cargo test`.
#
#   notebooks/run.sh                      # uses $CARGO_TARGET_DIR/debug/enisim
#   ENISIM=path/to/enisim notebooks/run.sh
#   ENISIM_NOTEBOOKS_OUT=/tmp/nb notebooks/run.sh   # keep the inputs and executed notebooks there
#
# The virtual environment lives outside the clone, in $ENISIM_NOTEBOOKS_VENV (default
# /var/tmp/enisim-notebooks-venv), one directory per hash of requirements.txt and the Python
# version: a changed pin builds a new one, an unchanged one is reused.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
ENISIM="${ENISIM:-${CARGO_TARGET_DIR:-/var/tmp/enisim-ci-target}/debug/enisim}"
VENV_BASE="${ENISIM_NOTEBOOKS_VENV:-/var/tmp/enisim-notebooks-venv}"
REQUIREMENTS=notebooks/requirements.txt
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
t0=$(now)

command -v "$PYTHON" >/dev/null || { echo "notebooks: $PYTHON not found"; exit 1; }
[ -x "$ENISIM" ] || { echo "notebooks: no enisim binary at $ENISIM (cargo build, or set ENISIM)"; exit 1; }
shopt -s nullglob
NOTEBOOKS=(notebooks/*.ipynb)
[ ${#NOTEBOOKS[@]} -ge 2 ] || { echo "notebooks: expected at least two notebooks in notebooks/"; exit 1; }

echo "== notebooks: committed notebooks hold no outputs"
"$PYTHON" notebooks/nbcheck.py stripped "${NOTEBOOKS[@]}"

# The environment, built once per requirements hash; a lock keeps two runs from building it at once.
key=$( { cat "$REQUIREMENTS"; "$PYTHON" -c 'import platform, sys; print(sys.version, platform.machine())'; } | sha256sum | cut -c1-16)
VENV="$VENV_BASE/$key"
mkdir -p "$VENV_BASE"
exec 9>"$VENV_BASE/.lock"
flock 9
if [ ! -e "$VENV/.complete" ]; then
    echo "== notebooks: building the virtual environment $VENV"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --no-input --disable-pip-version-check -r "$REQUIREMENTS"
    touch "$VENV/.complete"
    # Environments of older pins are of no further use.
    for old in "$VENV_BASE"/*/; do [ "${old%/}" = "$VENV" ] || rm -rf "$old"; done
else
    echo "== notebooks: reusing the virtual environment $VENV"
fi
flock -u 9
t_env=$(since "$t0")

if [ -n "${ENISIM_NOTEBOOKS_OUT:-}" ]; then
    OUT="$ENISIM_NOTEBOOKS_OUT"
    rm -rf "$OUT" && mkdir -p "$OUT"
else
    OUT=$(mktemp -d "${TMPDIR:-/tmp}/enisim-notebooks.XXXXXX")
    trap 'rm -rf "$OUT"' EXIT
fi

t1=$(now)
echo "== notebooks: fresh outputs from $ENISIM into $OUT"
"$ENISIM" run --out "$OUT/run" >/dev/null
"$ENISIM" run --set controller.maxConcurrentReconciles=30 --set enisim.scenario.nodes=30 \
    --replications 5 --out "$OUT/run-throttled" >/dev/null
"$ENISIM" sweep scale-down -q --grid controller.maxConcurrentReconciles=1..10 \
    --grid controller.maxConcurrentENICleanup=1,2,4,8 --replications 5 --out "$OUT/sweep" >/dev/null
"$ENISIM" recommend -q --from "$OUT/sweep" --out "$OUT/recommend" >/dev/null
t_data=$(since "$t1")

# Jupyter and matplotlib keep their state in the run's directory (and the font cache beside the
# environment), so a user's own kernels or settings play no part.
export JUPYTER_CONFIG_DIR="$OUT/.jupyter/config" JUPYTER_DATA_DIR="$OUT/.jupyter/data"
export JUPYTER_RUNTIME_DIR="$OUT/.jupyter/runtime" IPYTHONDIR="$OUT/.ipython"
export MPLCONFIGDIR="$VENV/.matplotlib" MPLBACKEND=module://matplotlib_inline.backend_inline
export PYTHONDONTWRITEBYTECODE=1
# Plain tracebacks in CI's log.
mkdir -p "$IPYTHONDIR/profile_default"
echo 'c.InteractiveShell.colors = "nocolor"' >"$IPYTHONDIR/profile_default/ipython_kernel_config.py"

EXECUTED=()
execute() { # NOTEBOOK OUTPUT-NAME [VAR=VALUE...]
    local nb=$1 name=$2 t log
    shift 2
    t=$(now)
    log="$OUT/executed/$name.log"
    mkdir -p "$OUT/executed"
    if ! env "$@" "$VENV/bin/jupyter" nbconvert --to notebook --execute "$nb" \
        --ExecutePreprocessor.timeout=600 --ExecutePreprocessor.kernel_name=python3 \
        --output-dir "$OUT/executed" --output "$name" >"$log" 2>&1; then
        grep -v 'running over TCP without encryption' "$log" || true
        echo "notebooks: $nb failed with $*"
        return 1
    fi
    EXECUTED+=("$nb")
    echo "   $nb ($*): $(since "$t")"
}

t2=$(now)
echo "== notebooks: executing"
execute notebooks/run.ipynb run-default ENISIM_RUN_DIR="$OUT/run"
execute notebooks/run.ipynb run-throttled ENISIM_RUN_DIR="$OUT/run-throttled"
execute notebooks/sweep.ipynb sweep ENISIM_SWEEP_DIR="$OUT/sweep" ENISIM_RECOMMEND_DIR="$OUT/recommend"
for nb in "${NOTEBOOKS[@]}"; do
    case " ${EXECUTED[*]} " in
        *" $nb "*) ;;
        *) echo "notebooks: $nb is not executed by notebooks/run.sh: add it there"; exit 1 ;;
    esac
done
"$VENV/bin/python" notebooks/nbcheck.py executed "$OUT"/executed/*.ipynb
echo "notebooks: environment $t_env, outputs $t_data, execution $(since "$t2"), total $(since "$t0")"
