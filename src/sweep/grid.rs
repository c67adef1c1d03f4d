//! A sweep's grid: axes over any key `Settings::apply` takes (Helm keys, `enisim.env.*`,
//! `enisim.whatIf.*`, `enisim.scenario.*`), each a list (`a,b,c`) or an inclusive integer
//! range (`a..b`, or `a..b:step`). Points are the Cartesian product, the first axis
//! varying slowest; point `p` is numbered in that order.

use crate::scenario::values::parse_set_value;
use crate::scenario::Settings;
use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value;

/// At most this many values on one axis.
pub const MAX_AXIS_VALUES: usize = 100_000;
/// At most this many points in a grid (the product of the axes' value counts).
pub const MAX_POINTS: usize = 1_000_000;

/// A grid specification that cannot be used: the user's input (exit status 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--grid {spec}: {message}")]
pub struct GridError {
    pub spec: String,
    pub message: String,
}

fn err(spec: &str, message: impl Into<String>) -> GridError {
    GridError {
        spec: spec.to_string(),
        message: message.into(),
    }
}

/// One axis: a key and its values, as written (`"15"`, `"adaptive"`, `"30s"`), each
/// parsed like `helm --set` when applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Axis {
    pub key: String,
    pub values: Vec<String>,
}

/// How an axis's values are typed in the output tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AxisKind {
    Int,
    Float,
    Text,
}

impl Axis {
    /// Parses `KEY=a,b,c`, `KEY=a..b` or `KEY=a..b:step`.
    pub fn parse(spec: &str) -> Result<Axis, GridError> {
        let (key, values) = spec.split_once('=').ok_or_else(|| {
            err(
                spec,
                "expected KEY=VALUES: a list (KEY=1,2,4) or an inclusive range (KEY=1..30, KEY=0..60:10)",
            )
        })?;
        let key = key.trim();
        if key.is_empty() {
            return Err(err(spec, "the key is empty"));
        }
        let values = values.trim();
        if values.is_empty() {
            return Err(err(spec, "no values after '='"));
        }
        let values = if let Some((lo, rest)) = values.split_once("..") {
            let (hi, step) = match rest.split_once(':') {
                Some((hi, step)) => (hi, Some(step)),
                None => (rest, None),
            };
            let int = |s: &str, what: &str| {
                let t = s.trim();
                t.parse::<i128>().map_err(|_| {
                    let digits = t.trim_start_matches('-');
                    let why = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                        "is out of range"
                    } else {
                        "is not a whole number"
                    };
                    err(spec, format!("the range's {what} {t:?} {why}"))
                })
            };
            let lo = int(lo, "start")?;
            let hi = int(hi, "end")?;
            let step = match step {
                Some(s) => int(s, "step")?,
                None => 1,
            };
            if step <= 0 {
                return Err(err(spec, format!("the step must be ≥ 1, got {step}")));
            }
            if lo > hi {
                return Err(err(
                    spec,
                    format!("the range {lo}..{hi} is empty (its start is after its end)"),
                ));
            }
            // Checked, in i128: a range never overflows, nor wraps to 0 values.
            let n = hi
                .checked_sub(lo)
                .map(|d| d / step + 1)
                .unwrap_or(i128::MAX);
            if n > MAX_AXIS_VALUES as i128 {
                return Err(err(
                    spec,
                    format!("{n} values on one axis is too many (at most {MAX_AXIS_VALUES})"),
                ));
            }
            (0..n).map(|i| (lo + i * step).to_string()).collect()
        } else {
            let items: Vec<String> = values.split(',').map(|v| v.trim().to_string()).collect();
            if items.iter().any(|v| v.is_empty()) {
                return Err(err(
                    spec,
                    "an empty item in the list (two commas in a row?)",
                ));
            }
            if items.len() > MAX_AXIS_VALUES {
                return Err(err(
                    spec,
                    format!(
                        "{} values on one axis is too many (at most {MAX_AXIS_VALUES})",
                        items.len()
                    ),
                ));
            }
            items
        };
        let mut seen = std::collections::BTreeSet::new();
        for v in &values {
            if !seen.insert(v.as_str()) {
                return Err(err(spec, format!("the value {v:?} is listed twice")));
            }
        }
        Ok(Axis {
            key: key.to_string(),
            values,
        })
    }

    /// The value at `i`, parsed like `helm --set`.
    pub fn value(&self, i: usize) -> Value {
        parse_set_value(&self.values[i])
    }

    pub fn kind(&self) -> AxisKind {
        if self.values.iter().all(|v| v.parse::<i64>().is_ok()) {
            AxisKind::Int
        } else if self
            .values
            .iter()
            .all(|v| v.parse::<f64>().is_ok_and(|x| x.is_finite()))
        {
            AxisKind::Float
        } else {
            AxisKind::Text
        }
    }

    /// `KEY=v1,v2,…` as it could be given back to `--grid`.
    pub fn spec(&self) -> String {
        format!("{}={}", self.key, self.values.join(","))
    }
}

/// The axes of a sweep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Grid {
    pub axes: Vec<Axis>,
}

/// The default sweep: the two concurrency knobs the chart exposes.
pub const DEFAULT_GRID: [&str; 2] = [
    "controller.maxConcurrentReconciles=1..30",
    "controller.maxConcurrentENICleanup=1,2,3,4,8,16",
];

impl Grid {
    /// Parses `--grid` arguments and checks every value against `base` (each key must be
    /// one the model reads, each value one it accepts).
    pub fn parse(specs: &[String], base: &Settings) -> Result<Grid, GridError> {
        let mut axes: Vec<Axis> = Vec::new();
        let mut points: usize = 1;
        for spec in specs {
            let axis = Axis::parse(spec)?;
            if axes.iter().any(|a| a.key == axis.key) {
                return Err(err(
                    spec,
                    format!("{} is already an axis of the grid", axis.key),
                ));
            }
            // Checked before any value is applied: a grid past the cap is refused at once.
            match points.checked_mul(axis.values.len()) {
                Some(n) if n <= MAX_POINTS => points = n,
                _ => {
                    let sizes: Vec<String> = axes
                        .iter()
                        .chain([&axis])
                        .map(|a| a.values.len().to_string())
                        .collect();
                    let total: f64 = axes
                        .iter()
                        .chain([&axis])
                        .map(|a| a.values.len() as f64)
                        .product();
                    return Err(err(
                        &specs.join(" "),
                        format!(
                            "{} points ({}) is too many: a grid has at most {MAX_POINTS} points",
                            if total < 1e15 {
                                format!("{total:.0}")
                            } else {
                                format!("about {total:.1e}")
                            },
                            sizes.join(" × ")
                        ),
                    ));
                }
            }
            axes.push(axis);
        }
        // Every value checked against the model, once the grid's size is known to be fine.
        for (axis, spec) in axes.iter().zip(specs) {
            if axis.key == "enisim.scenario.replications" {
                return Err(err(
                    spec,
                    "the replications are the sweep's own, the same at every point: use --replications",
                ));
            }
            for i in 0..axis.values.len() {
                let mut s = base.clone();
                match s.apply(&axis.key, &axis.value(i)) {
                    Ok(true) => {
                        // The scenario as a whole, as a values file or --set is held to.
                        if let Err((k, m)) = s.scenario.validate() {
                            return Err(err(
                                spec,
                                format!("{}={}: scenario {k}: {m}", axis.key, axis.values[i]),
                            ));
                        }
                    }
                    Ok(false) => {
                        return Err(err(
                            spec,
                            format!(
                                "{} is a chart key the model does not read; sweeping it changes nothing",
                                axis.key
                            ),
                        ))
                    }
                    Err(m) if m.starts_with("unknown key") => return Err(err(spec, m)),
                    Err(m) => {
                        return Err(err(
                            spec,
                            format!("{}={}: {m}", axis.key, axis.values[i]),
                        ))
                    }
                }
            }
        }
        Ok(Grid { axes })
    }

    pub fn default_specs() -> Vec<String> {
        DEFAULT_GRID.iter().map(|s| s.to_string()).collect()
    }

    /// Number of points (1 for a grid without axes: the base settings alone).
    pub fn points(&self) -> usize {
        self.checked_points().unwrap_or(usize::MAX)
    }

    /// Number of points, `None` when the product overflows.
    pub fn checked_points(&self) -> Option<usize> {
        self.axes
            .iter()
            .try_fold(1usize, |n, a| n.checked_mul(a.values.len()))
    }

    /// The value index on each axis of point `p` (first axis slowest).
    pub fn coordinates(&self, mut p: usize) -> Vec<usize> {
        let mut out = vec![0; self.axes.len()];
        for (i, a) in self.axes.iter().enumerate().rev() {
            out[i] = p % a.values.len();
            p /= a.values.len();
        }
        out
    }

    /// (key, value as written) of point `p`.
    pub fn assignment(&self, p: usize) -> Vec<(&str, &str)> {
        self.coordinates(p)
            .into_iter()
            .zip(&self.axes)
            .map(|(i, a)| (a.key.as_str(), a.values[i].as_str()))
            .collect()
    }

    /// The settings of point `p`: `base` with the point's values applied in axis order.
    pub fn settings(&self, base: &Settings, p: usize) -> Result<Settings, String> {
        let mut s = base.clone();
        for (axis, i) in self.axes.iter().zip(self.coordinates(p)) {
            s.apply(&axis.key, &axis.value(i))
                .map_err(|m| format!("{}={}: {m}", axis.key, axis.values[i]))?;
        }
        Ok(s)
    }

    /// `key=value` pairs of point `p`, for messages.
    pub fn describe(&self, p: usize) -> String {
        let a = self.assignment(p);
        if a.is_empty() {
            return "the base settings".into();
        }
        a.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::ControllerProfile;
    use crate::scenario::ScenarioSpec;

    fn base() -> Settings {
        Settings::new(
            ControllerProfile::embedded(),
            ScenarioSpec::embedded("burst").unwrap(),
        )
    }

    #[test]
    fn ranges_lists_and_steps() {
        let a = Axis::parse("controller.maxConcurrentReconciles=1..5").unwrap();
        assert_eq!(a.values, ["1", "2", "3", "4", "5"]);
        let a = Axis::parse("k=0..60:20").unwrap();
        assert_eq!(a.values, ["0", "20", "40", "60"]);
        let a = Axis::parse("k= 1, 2 ,8").unwrap();
        assert_eq!(a.values, ["1", "2", "8"]);
        assert_eq!(a.kind(), AxisKind::Int);
        assert_eq!(Axis::parse("k=a,b").unwrap().kind(), AxisKind::Text);
        assert_eq!(Axis::parse("k=2.5,10").unwrap().kind(), AxisKind::Float);
    }

    #[test]
    fn malformed_specs_are_rejected() {
        for (spec, needle) in [
            ("controller.maxConcurrentReconciles", "expected KEY=VALUES"),
            ("=1,2", "key is empty"),
            ("k=", "no values"),
            ("k=5..1", "is empty"),
            ("k=1..x", "not a whole number"),
            ("k=1..5:0", "step must be"),
            ("k=1,,2", "empty item"),
            ("k=1,1", "listed twice"),
        ] {
            let e = Axis::parse(spec).unwrap_err();
            assert!(e.to_string().contains(needle), "{spec}: {e}");
        }
    }

    #[test]
    fn keys_and_values_are_checked_against_the_model() {
        let b = base();
        let e = Grid::parse(&["controller.maxConcurentReconciles=1..3".into()], &b).unwrap_err();
        assert!(
            e.to_string()
                .contains("did you mean \"controller.maxConcurrentReconciles\""),
            "{e}"
        );
        let e = Grid::parse(&["controller.maxConcurrentReconciles=0..3".into()], &b).unwrap_err();
        assert!(e.to_string().contains("must be ≥ 1"), "{e}");
        let e = Grid::parse(&["resources.controller.limits.cpu=1,2".into()], &b).unwrap_err();
        assert!(e.to_string().contains("does not read"), "{e}");
        let e = Grid::parse(
            &[
                "controller.maxConcurrentReconciles=1,2".into(),
                "controller.maxConcurrentReconciles=3".into(),
            ],
            &b,
        )
        .unwrap_err();
        assert!(e.to_string().contains("already an axis"), "{e}");
    }

    #[test]
    fn points_enumerate_first_axis_slowest() {
        let g = Grid::parse(
            &[
                "controller.maxConcurrentReconciles=1..3".into(),
                "enisim.scenario.layout=one-nodeeni,nodeeni-per-node".into(),
            ],
            &base(),
        )
        .unwrap();
        assert_eq!(g.points(), 6);
        assert_eq!(g.coordinates(0), [0, 0]);
        assert_eq!(g.coordinates(1), [0, 1]);
        assert_eq!(g.coordinates(5), [2, 1]);
        let s = g.settings(&base(), 3).unwrap();
        assert_eq!(s.controller.env.max_concurrent_reconciles, 2);
        assert_eq!(s.scenario.cluster.layout.as_str(), "nodeeni-per-node");
        assert_eq!(
            g.describe(3),
            "controller.maxConcurrentReconciles=2 enisim.scenario.layout=nodeeni-per-node"
        );
        assert_eq!(Grid::default().points(), 1);
    }

    #[test]
    fn point_counts_never_overflow() {
        let axis = |k: &str| Axis {
            key: k.into(),
            values: (0..65536).map(|i| i.to_string()).collect(),
        };
        let g = Grid {
            axes: vec![axis("a"), axis("b"), axis("c"), axis("d")],
        };
        assert_eq!(g.checked_points(), None);
        assert_eq!(g.points(), usize::MAX);
        let e = Axis::parse("k=-9223372036854775808..9223372036854775807").unwrap_err();
        assert!(e.to_string().contains("too many"), "{e}");
        let e = Axis::parse(
            "k=-170141183460469231731687303715884105728..170141183460469231731687303715884105727",
        )
        .unwrap_err();
        assert!(e.to_string().contains("too many"), "{e}");
        let a = Axis::parse("k=9223372036854775800..9223372036854775807:3").unwrap();
        assert_eq!(a.values.len(), 3);
    }
}
