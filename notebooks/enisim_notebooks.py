"""What the notebooks share: where their inputs are, and the thresholds as enisim reads them.

The thresholds follow src/metrics/thresholds.rs: a value below `acceptable` is acceptable,
above `critical` critical, above `warning` a warning, and in between degraded; a metric with
only `acceptable` is a warning above it; a censored metric (the run did not finish what it
measures) is critical.
"""

import os
import pathlib

import yaml

LEVELS = ["acceptable", "degraded", "warning", "critical"]
LEVEL_COLOURS = {"acceptable": "tab:green", "degraded": "gold", "warning": "tab:orange", "critical": "tab:red"}


def clone_root(start: pathlib.Path | None = None) -> pathlib.Path | None:
    """The enisim clone the notebook sits in: the first directory up holding models/thresholds.yaml."""
    start = (start or pathlib.Path.cwd()).resolve()
    for p in [start, *start.parents]:
        if (p / "models" / "thresholds.yaml").is_file():
            return p
    return None


def setting(name: str, default: str) -> pathlib.Path:
    """The path in environment variable `name`, else `default` inside the clone."""
    if os.environ.get(name):
        return pathlib.Path(os.environ[name])
    root = clone_root()
    if root is None:
        raise RuntimeError(f"not inside an enisim clone: set {name}")
    return root / default


def load_thresholds(path: pathlib.Path) -> dict:
    """The `metrics:` of a thresholds file, with the defaults enisim fills in."""
    metrics = yaml.safe_load(path.read_text())["metrics"]
    return {
        name: {"warning": None, "critical": None, "enabled": True, **t}
        for name, t in metrics.items()
    }


def describe(t: dict) -> str:
    """A threshold as `enisim run` prints it, e.g. "< 30 s, warn > 45, crit > 60"."""
    s = f"< {t['acceptable']:g} {t['unit']}"
    if t.get("warning") is not None:
        s += f", warn > {t['warning']:g}"
    if t.get("critical") is not None:
        s += f", crit > {t['critical']:g}"
    return s


def judge(value: float, t: dict, censored: bool = False) -> str:
    """The verdict of `value` against threshold `t`."""
    if censored:
        return "critical"
    if value < t["acceptable"]:
        return "acceptable"
    if t.get("critical") is not None and value > t["critical"]:
        return "critical"
    if t.get("warning") is not None and value > t["warning"]:
        return "warning"
    if t.get("warning") is None and t.get("critical") is None:
        return "warning"
    return "degraded"


def threshold_lines(ax, t: dict | None, orientation: str = "v"):
    """The acceptable/warning/critical limits of threshold `t` as dashed lines on `ax`."""
    if t is None:
        return
    line = ax.axvline if orientation == "v" else ax.axhline
    for level in ["acceptable", "warning", "critical"]:
        x = t.get(level)
        if x is None:
            continue
        label = f"{level} {x:g} {t['unit']}" + ("" if t.get("enabled", True) else " (not judged)")
        line(x, color=LEVEL_COLOURS[level], ls="--", lw=1.2, label=label)
