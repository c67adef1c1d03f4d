//! Sensitivity: which assumption moves which verdict (calibration.md §4). Every parameter
//! that is still an assumption has a plausible range (or, for a structural switch, its
//! alternatives) beside its value in `models/`; each is moved over its range one at a time,
//! every point under the same replication seeds as the base (common random numbers), and
//! the parameters are ranked by how far they move each judged metric, as a share of that
//! metric's acceptable threshold. The top of the ranking is what a small real run must
//! measure; a parameter that flips a verdict inside its plausible range is one the verdict
//! cannot be trusted without.

pub mod render;

use crate::calibrate::params::{self, Domain, ParamError, ParamSpec, Registry};
use crate::metrics::summary::{summarise, Summary};
use crate::metrics::thresholds::{Thresholds, Verdict};
use crate::plausible::NamedValue;
use crate::scenario::world::BuildError;
use crate::scenario::{replicate, Model, Settings};
use serde::Serialize;
use std::collections::BTreeMap;

/// How to run the analysis.
#[derive(Debug, Clone)]
pub struct Options {
    /// Replications per point (the base and every end of every range).
    pub replications: u32,
    pub seed: u64,
    /// Only parameters whose name starts with one of these (all when empty).
    pub only: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SensitivityError {
    #[error(transparent)]
    Param(#[from] ParamError),
    #[error("{0}")]
    Build(#[from] BuildError),
    #[error("no parameter to vary: {0}")]
    Nothing(String),
    #[error("sensitivity needs at least 2 replications per point (an interval), got {0}")]
    TooFewReplications(u32),
}

/// One judged metric, as the thresholds name it.
#[derive(Debug, Clone, Serialize)]
pub struct MetricInfo {
    pub name: String,
    pub label: String,
    pub unit: String,
    pub acceptable: f64,
}

/// The model at one value of one parameter (or the base).
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    pub value: String,
    /// Mean over replications of each judged metric (a lower bound where `censored`).
    pub means: BTreeMap<String, f64>,
    /// Metrics with a replication that did not finish what they measure.
    pub censored: Vec<String>,
    pub verdicts: BTreeMap<String, Verdict>,
    pub worst: Verdict,
}

impl Point {
    fn of(value: String, summary: &Summary) -> Point {
        let mut means = BTreeMap::new();
        let mut verdicts = BTreeMap::new();
        let mut censored = Vec::new();
        for v in &summary.verdicts {
            means.insert(v.metric.clone(), v.mean);
            verdicts.insert(v.metric.clone(), v.verdict);
            if v.censored > 0 {
                censored.push(v.metric.clone());
            }
        }
        Point {
            value,
            means,
            censored,
            verdicts,
            worst: summary.worst,
        }
    }
}

/// How far one parameter moves one metric.
#[derive(Debug, Clone, Serialize)]
pub struct Swing {
    /// Lowest and highest mean over the base and the parameter's points.
    pub min: f64,
    pub max: f64,
    /// `max − min` over the metric's acceptable threshold.
    pub share_of_threshold: f64,
    /// The verdicts met over those points, when more than one.
    pub verdicts_flipped: Vec<Verdict>,
}

/// One parameter's result.
#[derive(Debug, Clone, Serialize)]
pub struct Factor {
    pub name: String,
    /// `range` or `switch`.
    pub kind: &'static str,
    pub base: String,
    /// `[low, high]` for a range; the alternatives for a switch.
    pub domain: Domain,
    pub why: String,
    /// The points besides the base: low and high of a range, the other alternatives of a
    /// switch.
    pub points: Vec<Point>,
    pub swings: BTreeMap<String, Swing>,
    /// The largest share of threshold over the metrics, and the metric it is on.
    pub effect: f64,
    pub top_metric: String,
    /// Whether some metric's verdict, or the worst verdict, differs between the points.
    pub flips_verdict: bool,
}

/// The analysis: the base, every parameter ranked, and each metric's own ranking.
#[derive(Debug, Clone, Serialize)]
pub struct Sensitivity {
    pub scenario: String,
    pub replications: u32,
    pub seed: u64,
    pub runs: u64,
    pub metrics: Vec<MetricInfo>,
    pub base: Point,
    /// Most effect first (ties: name order).
    pub factors: Vec<Factor>,
    /// Per metric, the parameter names by their swing on it, largest first (those that
    /// move it at all).
    pub by_metric: BTreeMap<String, Vec<String>>,
    /// The thresholds the verdicts were judged against.
    pub thresholds: Thresholds,
}

/// A value as the report prints it: numbers to 4 significant digits (a scaled mixture's
/// median is not a round number), −0 as 0; a switch's spelling as it is.
pub fn value_text(v: &NamedValue) -> String {
    match v {
        NamedValue::Number(x) if *x == 0.0 => "0".into(),
        NamedValue::Number(x) => {
            let digits = (3 - x.abs().log10().floor() as i32).clamp(0, 6) as usize;
            let t = format!("{x:.digits$}");
            if t.contains('.') {
                t.trim_end_matches('0').trim_end_matches('.').to_string()
            } else {
                t
            }
        }
        NamedValue::Choice(c) => c.clone(),
    }
}

/// The alternatives to simulate for `p`: the two ends of a range (an end equal to the base
/// value is still run: the base is its own point), the other spellings of a switch.
fn points_of(p: &ParamSpec) -> Vec<NamedValue> {
    match &p.domain {
        Domain::Range { low, high } => vec![NamedValue::Number(*low), NamedValue::Number(*high)],
        Domain::Alternatives(_) => p.alternatives().into_iter().skip(1).collect(),
    }
}

/// The parameters `opts.only` selects, registry order.
pub fn selected(registry: &Registry, opts: &Options) -> Result<Vec<ParamSpec>, SensitivityError> {
    let chosen: Vec<ParamSpec> = registry
        .params
        .iter()
        .filter(|p| opts.only.is_empty() || opts.only.iter().any(|o| p.name.starts_with(o)))
        .cloned()
        .collect();
    if chosen.is_empty() {
        let why = if registry.params.is_empty() {
            "the profiles give no plausible ranges (a `plausible:` section)".to_string()
        } else {
            format!(
                "no registered parameter starts with {} (there are {}, e.g. {})",
                opts.only.join(" or "),
                registry.params.len(),
                registry.params[0].name
            )
        };
        return Err(SensitivityError::Nothing(why));
    }
    Ok(chosen)
}

/// Runs the analysis. `progress` is called after each point (the base included) with
/// (points done, points in all).
pub fn analyse(
    settings: &Settings,
    model: &Model,
    thresholds: &Thresholds,
    opts: &Options,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Sensitivity, SensitivityError> {
    if opts.replications < 2 {
        return Err(SensitivityError::TooFewReplications(opts.replications));
    }
    let registry = Registry::of(model, settings);
    let chosen = selected(&registry, opts)?;
    let workers = settings.controller.env.max_concurrent_reconciles;
    let total = 1 + chosen
        .iter()
        .map(|p| points_of(p).len() as u64)
        .sum::<u64>();
    let mut done = 0u64;
    let mut simulate = |s: &Settings, m: &Model| -> Result<Summary, SensitivityError> {
        let runs = replicate(s, m, opts.seed, opts.replications, &|| {})?;
        done += 1;
        progress(done, total);
        Ok(summarise(&runs, thresholds, workers))
    };
    let base_summary = simulate(settings, model)?;
    let base = Point::of("base".into(), &base_summary);
    let metrics: Vec<MetricInfo> = thresholds
        .judged()
        .filter(|(n, _)| base.means.contains_key(*n))
        .map(|(n, t)| MetricInfo {
            name: n.clone(),
            label: t.label.clone(),
            unit: t.unit.clone(),
            acceptable: t.acceptable,
        })
        .collect();

    let mut factors = Vec::with_capacity(chosen.len());
    for p in &chosen {
        let mut points = Vec::new();
        for value in points_of(p) {
            let (mut m, mut s) = (model.clone(), settings.clone());
            params::set(&mut m, &mut s, &p.name, &value)?;
            let summary = simulate(&s, &m)?;
            points.push(Point::of(value_text(&value), &summary));
        }
        factors.push(factor(p, &base, points, &metrics));
    }
    factors.sort_by(|a, b| {
        b.effect
            .total_cmp(&a.effect)
            .then_with(|| b.flips_verdict.cmp(&a.flips_verdict))
            .then_with(|| a.name.cmp(&b.name))
    });
    let by_metric = metrics
        .iter()
        .map(|m| {
            let mut moved: Vec<(&Factor, f64)> = factors
                .iter()
                .filter_map(|f| {
                    let s = f.swings.get(&m.name)?.share_of_threshold;
                    (s > 0.0).then_some((f, s))
                })
                .collect();
            moved.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.name.cmp(&b.0.name)));
            (
                m.name.clone(),
                moved.into_iter().map(|(f, _)| f.name.clone()).collect(),
            )
        })
        .collect();
    Ok(Sensitivity {
        scenario: settings.scenario.name.clone(),
        replications: opts.replications,
        seed: opts.seed,
        runs: total * u64::from(opts.replications),
        metrics,
        base,
        factors,
        by_metric,
        thresholds: thresholds.clone(),
    })
}

fn factor(p: &ParamSpec, base: &Point, points: Vec<Point>, metrics: &[MetricInfo]) -> Factor {
    let mut swings = BTreeMap::new();
    let (mut effect, mut top_metric) = (0.0f64, String::new());
    let mut flips = points.iter().any(|q| q.worst != base.worst);
    for m in metrics {
        let all = std::iter::once(base).chain(&points);
        let values: Vec<f64> = all
            .clone()
            .filter_map(|q| q.means.get(&m.name).copied())
            .collect();
        let (min, max) = values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
                (lo.min(x), hi.max(x))
            });
        if !min.is_finite() || !max.is_finite() {
            continue;
        }
        let share = if m.acceptable > 0.0 {
            (max - min) / m.acceptable
        } else {
            0.0
        };
        let mut verdicts: Vec<Verdict> = all
            .filter_map(|q| q.verdicts.get(&m.name).copied())
            .collect();
        verdicts.sort();
        verdicts.dedup();
        if verdicts.len() > 1 {
            flips = true;
        } else {
            verdicts.clear();
        }
        if share > effect {
            effect = share;
            top_metric = m.name.clone();
        }
        swings.insert(
            m.name.clone(),
            Swing {
                min,
                max,
                share_of_threshold: share,
                verdicts_flipped: verdicts,
            },
        );
    }
    if top_metric.is_empty() {
        // Nothing moved: name the first metric, with no effect.
        top_metric = metrics.first().map(|m| m.name.clone()).unwrap_or_default();
    }
    Factor {
        name: p.name.clone(),
        kind: if p.is_switch() { "switch" } else { "range" },
        base: value_text(&p.value),
        domain: p.domain.clone(),
        why: p.why.clone(),
        points,
        swings,
        effect,
        top_metric,
        flips_verdict: flips,
    }
}
