//! Recorded vs replayed, side by side: calls per action and caller class, throttles (the
//! controller's and the others'), the create → attach and detach → delete gaps, NodeENI
//! chain durations and the time until every recorded attachment exists — each measured on
//! the recording and on every replication by the same `trace::stats` and the same workload
//! reconstruction, with the difference and one summary line.

use crate::metrics::stats::t_quantile;
use crate::trace::{GapKind, StatsTable, CLASS_CONTROLLER};
use crate::workload::RecordedWorkload;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// What one metric is: a count (tolerance one call) or a time (tolerance one second, the
/// trail's resolution).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unit {
    Calls,
    Seconds,
}

impl Unit {
    fn tolerance(self) -> f64 {
        1.0
    }
}

/// The measurements of one side (the recording, or one replication), by metric name in
/// display order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measures {
    pub values: Vec<(String, Unit, Option<f64>)>,
}

impl Measures {
    /// From a trail's statistics and the workload reconstructed from it.
    pub fn of(stats: &StatsTable, workload: &RecordedWorkload) -> Measures {
        let mut v: Vec<(String, Unit, Option<f64>)> = Vec::new();
        let mut rows: Vec<_> = stats.actions.iter().collect();
        rows.sort_by(|a, b| {
            (
                a.caller_class != CLASS_CONTROLLER,
                &a.caller_class,
                &a.action,
            )
                .cmp(&(
                    b.caller_class != CLASS_CONTROLLER,
                    &b.caller_class,
                    &b.action,
                ))
        });
        let mut throttles: BTreeMap<(bool, String), u64> = BTreeMap::new();
        for a in rows {
            v.push((
                format!("calls {} ({})", a.action, a.caller_class),
                Unit::Calls,
                Some(a.calls as f64),
            ));
            *throttles
                .entry((a.caller_class != CLASS_CONTROLLER, a.caller_class.clone()))
                .or_default() += a.throttles;
        }
        for ((_, class), n) in throttles {
            v.push((format!("throttled ({class})"), Unit::Calls, Some(n as f64)));
        }
        for kind in [GapKind::CreateToAttach, GapKind::DetachToDelete] {
            let g = stats
                .gaps
                .iter()
                .find(|g| g.pair == kind && g.caller_class == CLASS_CONTROLLER);
            for (q, val) in [("p50", g.map(|g| g.p50_s)), ("p95", g.map(|g| g.p95_s))] {
                v.push((
                    format!("{} gap {q} (controller)", kind.label()),
                    Unit::Seconds,
                    val,
                ));
            }
        }
        let mut chains: Vec<f64> = workload
            .chain_durations()
            .into_iter()
            .map(|c| c.1)
            .collect();
        chains.sort_by(f64::total_cmp);
        let median = (!chains.is_empty()).then(|| chains[(chains.len() - 1) / 2]);
        v.push(("NodeENI chain p50".into(), Unit::Seconds, median));
        v.push((
            "NodeENI chain max".into(),
            Unit::Seconds,
            chains.last().copied(),
        ));
        v.push((
            "every recorded attachment exists".into(),
            Unit::Seconds,
            workload.all_attached_s(),
        ));
        Measures { values: v }
    }

    fn get(&self, name: &str) -> Option<(Unit, Option<f64>)> {
        self.values
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, u, x)| (*u, *x))
    }
}

/// One metric, recorded vs replayed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidationRow {
    pub metric: String,
    pub unit: Unit,
    pub recorded: Option<f64>,
    /// Mean over the replications.
    pub replayed: Option<f64>,
    /// The replications' range.
    pub low: Option<f64>,
    pub high: Option<f64>,
    /// replayed − recorded.
    pub difference: Option<f64>,
    /// The difference relative to the recorded value (percent; of 1 when it is 0).
    pub relative_percent: Option<f64>,
    /// Where a replication is expected to fall: the 99 % prediction interval of one more
    /// replication (mean ± t·s·√(1 + 1/R); with one replication, ± 2√n for a count),
    /// joined with the replications' range and widened by the trail's resolution (one
    /// call, one second).
    pub band_low: Option<f64>,
    pub band_high: Option<f64>,
    /// The recorded value lies inside the band: the recording looks like one more
    /// replication of the replay.
    pub inside: bool,
}

/// Recorded vs replayed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Validation {
    pub replications: usize,
    pub rows: Vec<ValidationRow>,
    pub summary: String,
}

impl Validation {
    pub fn new(recorded: &Measures, replayed: &[Measures]) -> Validation {
        let mut names: Vec<(String, Unit)> = recorded
            .values
            .iter()
            .map(|(n, u, _)| (n.clone(), *u))
            .collect();
        for m in replayed {
            for (n, u, _) in &m.values {
                if !names.iter().any(|(x, _)| x == n) {
                    names.push((n.clone(), *u));
                }
            }
        }
        // Counts absent on a side are zero; times absent are unknown.
        let value = |m: &Measures, name: &str, unit: Unit| match m.get(name) {
            Some((_, v)) => v,
            None if unit == Unit::Calls => Some(0.0),
            None => None,
        };
        let rows: Vec<ValidationRow> = names
            .into_iter()
            .map(|(name, unit)| {
                let rec = value(recorded, &name, unit);
                let reps: Vec<f64> = replayed
                    .iter()
                    .filter_map(|m| value(m, &name, unit))
                    .collect();
                let (mean, low, high) = if reps.is_empty() {
                    (None, None, None)
                } else {
                    (
                        Some(reps.iter().sum::<f64>() / reps.len() as f64),
                        reps.iter().copied().reduce(f64::min),
                        reps.iter().copied().reduce(f64::max),
                    )
                };
                let difference = rec.zip(mean).map(|(r, m)| m - r);
                let relative_percent = rec
                    .zip(difference)
                    .map(|(r, d)| 100.0 * d / r.abs().max(1.0));
                let tol = unit.tolerance();
                let (band_low, band_high) = match (mean, low, high) {
                    (Some(m), Some(l), Some(h)) => {
                        let n = reps.len();
                        let half = if n >= 2 {
                            let var = reps.iter().map(|x| (x - m) * (x - m)).sum::<f64>()
                                / (n - 1) as f64;
                            t_quantile(n, 0.99) * (var * (1.0 + 1.0 / n as f64)).sqrt()
                        } else if unit == Unit::Calls {
                            // One replication shows no spread: a count's own noise, about
                            // √n (Poisson, two standard deviations; assumption).
                            2.0 * m.abs().sqrt()
                        } else {
                            0.0
                        };
                        (Some(l.min(m - half) - tol), Some(h.max(m + half) + tol))
                    }
                    _ => (None, None),
                };
                let inside = match (rec, band_low, band_high) {
                    (Some(r), Some(l), Some(h)) => r >= l && r <= h,
                    (None, None, None) => true,
                    _ => false,
                };
                ValidationRow {
                    metric: name,
                    unit,
                    recorded: rec,
                    replayed: mean,
                    low,
                    high,
                    band_low,
                    band_high,
                    difference,
                    relative_percent,
                    inside,
                }
            })
            .collect();
        let summary = summary_line(&rows);
        Validation {
            replications: replayed.len(),
            rows,
            summary,
        }
    }

    /// The side-by-side table and the summary line.
    pub fn to_text(&self) -> String {
        let fmt = |u: Unit, x: Option<f64>| match (u, x) {
            (_, None) => "–".to_string(),
            (Unit::Calls, Some(v)) if v.fract() == 0.0 => format!("{v:.0}"),
            (Unit::Calls, Some(v)) => format!("{v:.1}"),
            (Unit::Seconds, Some(v)) => format!("{v:.1} s"),
        };
        let cells: Vec<[String; 5]> = self
            .rows
            .iter()
            .map(|r| {
                let range = match (r.low, r.high) {
                    (Some(l), Some(h)) if self.replications > 1 => {
                        format!(
                            "{} [{}, {}]",
                            fmt(r.unit, r.replayed),
                            fmt(r.unit, Some(l)),
                            fmt(r.unit, Some(h))
                        )
                    }
                    _ => fmt(r.unit, r.replayed),
                };
                let diff = match (r.difference, r.relative_percent) {
                    // No "-0.0": what rounds to zero is zero.
                    (Some(d), Some(p)) if d.abs() < 0.05 => {
                        format!("+{} ({:+.1} %)", fmt(r.unit, Some(0.0)), p)
                    }
                    (Some(d), Some(p)) => format!(
                        "{}{} ({:+.1} %)",
                        if d >= 0.0 { "+" } else { "" },
                        fmt(r.unit, Some(d)),
                        p
                    ),
                    _ => "–".into(),
                };
                [
                    r.metric.clone(),
                    fmt(r.unit, r.recorded),
                    range,
                    diff,
                    if r.inside { "ok" } else { "outside" }.into(),
                ]
            })
            .collect();
        let head = [
            "metric".to_string(),
            "recorded".to_string(),
            if self.replications > 1 {
                "replayed (mean [min, max])".to_string()
            } else {
                "replayed".to_string()
            },
            "difference".to_string(),
            String::new(),
        ];
        let width = |i: usize| {
            cells
                .iter()
                .chain(std::iter::once(&head))
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        };
        let (w0, w1, w2, w3) = (width(0), width(1), width(2), width(3));
        let mut out = String::new();
        for r in std::iter::once(&head).chain(cells.iter()) {
            let line = format!(
                "{:<w0$}  {:>w1$}  {:>w2$}  {:>w3$}  {}",
                r[0], r[1], r[2], r[3], r[4]
            );
            let _ = writeln!(out, "{}", line.trim_end());
        }
        let _ = writeln!(out, "{}", self.summary);
        out
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn to_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        for r in &self.rows {
            let _ = w.serialize(r);
        }
        String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
    }
}

fn summary_line(rows: &[ValidationRow]) -> String {
    let largest = |pred: &dyn Fn(&ValidationRow) -> bool| {
        rows.iter()
            .filter(|r| pred(r))
            .filter(|r| r.relative_percent.is_some())
            .max_by(|a, b| {
                let k = |r: &ValidationRow| r.relative_percent.unwrap_or(0.0).abs();
                k(a).total_cmp(&k(b))
            })
    };
    let describe = |r: &ValidationRow| {
        let f = |x: Option<f64>| match (r.unit, x) {
            (_, None) => "–".to_string(),
            (Unit::Calls, Some(v)) => format!("{v:.0}"),
            (Unit::Seconds, Some(v)) => format!("{v:.1} s"),
        };
        format!(
            "{}: recorded {}, replayed {} ({:+.1} %)",
            r.metric,
            f(r.recorded),
            f(r.replayed),
            r.relative_percent.unwrap_or(0.0)
        )
    };
    let unknown: Vec<&str> = rows
        .iter()
        .filter(|r| !r.inside && (r.recorded.is_none() || r.replayed.is_none()))
        .map(|r| r.metric.as_str())
        .collect();
    if rows.iter().all(|r| r.inside) {
        // Counts relative, times in seconds (a relative difference of a near-zero gap says
        // little).
        let calls = largest(&|r| r.unit == Unit::Calls);
        let secs = rows
            .iter()
            .filter(|r| r.unit == Unit::Seconds)
            .filter_map(|r| r.difference.map(f64::abs))
            .reduce(f64::max);
        match (calls, secs) {
            (None, None) => "replay reproduces the trail: nothing to compare".into(),
            (c, t) => format!(
                "replay reproduces the trail within {:.1} % of the calls and {:.1} s of the times: every recorded value lies where one more replication would (99 % prediction band, ± one call or one second)",
                c.and_then(|r| r.relative_percent).unwrap_or(0.0).abs(),
                t.unwrap_or(0.0)
            ),
        }
    } else {
        let mut line = match largest(&|r| !r.inside) {
            Some(r) => format!("the largest difference is {}", describe(r)),
            None => "the recording and the replay do not measure the same things".into(),
        };
        if !unknown.is_empty() {
            let _ = write!(line, "; only one side has {}", unknown.join(", "));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(vals: &[(&str, Unit, Option<f64>)]) -> Measures {
        Measures {
            values: vals
                .iter()
                .map(|(n, u, v)| (n.to_string(), *u, *v))
                .collect(),
        }
    }

    #[test]
    fn inside_within_the_spread_and_the_resolution() {
        let rec = m(&[
            ("a", Unit::Calls, Some(10.0)),
            ("t", Unit::Seconds, Some(5.0)),
        ]);
        let reps = [
            m(&[
                ("a", Unit::Calls, Some(11.0)),
                ("t", Unit::Seconds, Some(5.5)),
            ]),
            m(&[
                ("a", Unit::Calls, Some(13.0)),
                ("t", Unit::Seconds, Some(7.0)),
            ]),
        ];
        let v = Validation::new(&rec, &reps);
        assert!(v.rows.iter().all(|r| r.inside), "{v:?}");
        assert_eq!(v.rows[0].replayed, Some(12.0));
        assert_eq!(v.rows[0].relative_percent, Some(20.0));
        assert!(
            v.summary
                .starts_with("replay reproduces the trail within 20.0 %"),
            "{}",
            v.summary
        );
        let far = [m(&[
            ("a", Unit::Calls, Some(30.0)),
            ("t", Unit::Seconds, Some(5.0)),
        ])];
        let v = Validation::new(&rec, &far);
        assert!(!v.rows[0].inside && v.rows[1].inside);
        assert_eq!(
            v.summary,
            "the largest difference is a: recorded 10, replayed 30 (+200.0 %)"
        );
        // A count missing on one side is zero there.
        let v = Validation::new(&m(&[("b", Unit::Calls, Some(1.0))]), &[m(&[])]);
        assert_eq!(v.rows[0].replayed, Some(0.0));
        assert!(v.rows[0].inside, "one call is within the resolution");
    }
}
