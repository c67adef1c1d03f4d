#!/usr/bin/env python3
"""Keeps committed notebooks free of outputs, and checks executed ones ran every cell.

    python3 notebooks/nbcheck.py stripped notebooks/*.ipynb   # exit 1 naming any cell with outputs
    python3 notebooks/nbcheck.py strip notebooks/*.ipynb      # remove outputs in place
    python3 notebooks/nbcheck.py executed OUT/*.ipynb         # exit 1 unless every code cell ran without error

Standard library only, so that the check needs no virtual environment.
"""

import json
import sys
from pathlib import Path

# Metadata that execution or an editor adds and that has no place in the repository.
VOLATILE_CELL_METADATA = {"execution", "collapsed", "scrolled", "ExecuteTime"}


def code_cells(nb: dict):
    return [(i, c) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"]


def unstripped(nb: dict) -> list[str]:
    problems = []
    for i, c in code_cells(nb):
        if c.get("outputs"):
            problems.append(f"cell {i} has {len(c['outputs'])} outputs")
        if c.get("execution_count") is not None:
            problems.append(f"cell {i} has execution_count {c['execution_count']}")
        extra = VOLATILE_CELL_METADATA & set(c.get("metadata", {}))
        if extra:
            problems.append(f"cell {i} has metadata {sorted(extra)}")
    if "widgets" in nb.get("metadata", {}):
        problems.append("notebook metadata has widget state")
    return problems


def strip(nb: dict) -> dict:
    for _, c in code_cells(nb):
        c["outputs"] = []
        c["execution_count"] = None
        for k in VOLATILE_CELL_METADATA:
            c.get("metadata", {}).pop(k, None)
    nb.get("metadata", {}).pop("widgets", None)
    return nb


def not_executed(nb: dict) -> list[str]:
    problems = []
    cells = code_cells(nb)
    if not cells:
        problems.append("no code cells")
    for i, c in cells:
        if c.get("execution_count") is None:
            problems.append(f"cell {i} did not run")
        for o in c.get("outputs", []):
            if o.get("output_type") == "error":
                problems.append(f"cell {i} raised {o.get('ename')}: {o.get('evalue')}")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] not in {"stripped", "strip", "executed"}:
        print(__doc__, file=sys.stderr)
        return 2
    mode, failed = argv[1], False
    for name in argv[2:]:
        path = Path(name)
        try:
            nb = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            print(f"{path}: cannot read a notebook: {e}", file=sys.stderr)
            return 2
        if mode == "strip":
            path.write_text(json.dumps(strip(nb), indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
            continue
        problems = unstripped(nb) if mode == "stripped" else not_executed(nb)
        for p in problems:
            print(f"{path}: {p}", file=sys.stderr)
        if problems and mode == "stripped":
            print(f"{path}: strip it with `python3 notebooks/nbcheck.py strip {path}`", file=sys.stderr)
        failed |= bool(problems)
    if not failed and mode != "strip":
        print(f"ok: {len(argv) - 2} notebooks {mode}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
