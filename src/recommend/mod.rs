//! From a sweep's results to a recommendation: the grid point that meets every threshold
//! at the upper 95 % bound, preferring fewer EC2 calls per minute, then less controller
//! CPU, then lower concurrency; written as a Helm values overlay with the predicted margin
//! beside each value, plus a Deployment patch for knobs the chart does not expose. When no
//! point qualifies: which threshold fails first, by how much, and what would change that.

pub mod advice;
pub mod knobs;
pub mod presets;
pub mod render;
pub mod resources;

use crate::metrics::thresholds::Verdict;
use crate::metrics::MeanCi;
use crate::scenario::Settings;
use crate::sweep::{PointSummary, SweepDef, SweepResults, CALLS_PER_MIN};
use resources::{Predicted, Resources};

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Points within this fraction of the best EC2 calls per minute (then of the best CPU)
    /// count as equally good, so that lower concurrency decides between them.
    pub tolerance: f64,
    /// Headroom over the predicted CPU and memory for `resources`.
    pub headroom: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            tolerance: 0.02,
            headroom: 0.3,
        }
    }
}

/// A threshold at a point: the upper 95 % bound against the acceptable limit.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Margin {
    pub metric: String,
    pub label: String,
    pub unit: String,
    pub mean: f64,
    pub high: f64,
    pub limit: f64,
    pub verdict: Verdict,
    /// Some replication did not finish what the metric measures: `mean` and `high` are
    /// lower bounds, and the verdict is critical whatever they say.
    pub censored: bool,
}

impl Margin {
    /// Limit minus upper bound: positive when met.
    pub fn margin(&self) -> f64 {
        self.limit - self.high
    }

    /// How far over the limit, relative to it (≤ 0 when met).
    pub fn excess(&self) -> f64 {
        if self.limit.abs() < 1e-12 {
            self.high - self.limit
        } else {
            (self.high - self.limit) / self.limit.abs()
        }
    }

    pub fn met(&self) -> bool {
        self.verdict == Verdict::Acceptable
    }
}

/// The thresholds at a point, in the thresholds' order.
pub fn margins(def: &SweepDef, s: &PointSummary) -> Vec<Margin> {
    let order = [
        "eni_creation_p95_s",
        "eni_attachment_p95_s",
        "full_reconcile_s",
        "controller_cpu_p95_millicores",
        "controller_memory_peak_mib",
        "error_rate_percent",
    ];
    // Only the thresholds that judge (`enabled`): a disabled one has no verdict.
    let mut out: Vec<Margin> = def
        .thresholds
        .judged()
        .filter_map(|(name, th)| {
            let ci = s.get(def, name)?;
            let censored = s
                .get(def, &crate::metrics::summary::censor_key(name))
                .is_some_and(|c| c.mean > 0.0);
            Some(Margin {
                censored,
                metric: name.clone(),
                label: th.label.clone(),
                unit: th.unit.clone(),
                mean: ci.mean,
                high: ci.high(),
                limit: th.acceptable,
                verdict: s.verdicts.get(name).copied().unwrap_or(Verdict::Critical),
            })
        })
        .collect();
    out.sort_by_key(|m| {
        order
            .iter()
            .position(|o| *o == m.metric)
            .unwrap_or(order.len())
    });
    out
}

/// The first of `names` the sweep has as a metric.
pub fn find_metric<'a>(def: &SweepDef, names: &[&'a str]) -> Option<&'a str> {
    names
        .iter()
        .copied()
        .find(|n| def.metrics.iter().any(|m| m == n))
}

fn metric(def: &SweepDef, s: &PointSummary, names: &[&str]) -> Option<MeanCi> {
    find_metric(def, names).and_then(|n| s.get(def, n))
}

/// The predicted CPU and memory at a point, when the model predicts them.
pub fn predicted_resources(def: &SweepDef, s: &PointSummary) -> Option<Predicted> {
    let p = Predicted {
        cpu_p95: metric(def, s, &resources::CPU_P95)?,
        cpu_peak: metric(def, s, &resources::CPU_PEAK)?,
        mem_p95: metric(def, s, &resources::MEM_P95)?,
        mem_peak: metric(def, s, &resources::MEM_PEAK)?,
    };
    [p.cpu_p95, p.cpu_peak, p.mem_p95, p.mem_peak]
        .iter()
        .all(|c| c.high().is_finite())
        .then_some(p)
}

/// (maxConcurrentReconciles, maxConcurrentENICleanup) of a point: lower is preferred.
fn concurrency(def: &SweepDef, p: usize) -> (u32, u32) {
    def.grid
        .settings(&def.base, p)
        .map(|s| {
            (
                s.controller.env.max_concurrent_reconciles,
                s.controller.env.max_concurrent_eni_cleanup,
            )
        })
        .unwrap_or((u32::MAX, u32::MAX))
}

/// The preferred point among those that meet every threshold: fewest EC2 calls per minute
/// (within `tolerance` of the best), then least controller CPU (same), then the lowest
/// (maxConcurrentReconciles, maxConcurrentENICleanup), then the lowest point number.
pub fn choose(def: &SweepDef, summaries: &[PointSummary], tolerance: f64) -> Option<usize> {
    let mut cands: Vec<&PointSummary> = summaries.iter().filter(|s| s.meets).collect();
    let mut narrow = |names: &[&str]| {
        let value = |s: &PointSummary| metric(def, s, names).map(|c| c.mean);
        let best = cands
            .iter()
            .filter_map(|s| value(s))
            .filter(|x| x.is_finite())
            .fold(f64::INFINITY, f64::min);
        if best.is_finite() {
            let cut = best + tolerance * best.abs() + 1e-12;
            cands.retain(|s| value(s).is_some_and(|x| x <= cut));
        }
    };
    narrow(&[CALLS_PER_MIN]);
    narrow(&resources::CPU_P95);
    cands
        .into_iter()
        .min_by_key(|s| (concurrency(def, s.point), s.point))
        .map(|s| s.point)
}

/// Axes along which nothing changed: every pair of points that differ only in that axis
/// gave identical runs (a knob the scenario does not exercise, such as the cleanup pool in
/// a burst without deletions).
pub fn inert_axes(results: &SweepResults) -> Vec<String> {
    let def = &results.def;
    let r = def.replications as usize;
    let rows_of = |p: usize| &results.rows[p * r..(p + 1) * r];
    if results.rows.len() != def.points() * r {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (a, axis) in def.grid.axes.iter().enumerate() {
        if axis.values.len() < 2 {
            continue;
        }
        let inert = (0..def.points()).all(|p| {
            let c = def.grid.coordinates(p);
            if c[a] == 0 {
                return true;
            }
            // The same point with this axis at its first value.
            let mut q = 0;
            for (i, ax) in def.grid.axes.iter().enumerate() {
                q = q * ax.values.len() + if i == a { 0 } else { c[i] };
            }
            rows_of(p)
                .iter()
                .zip(rows_of(q))
                .all(|(x, y)| x.outcome == y.outcome)
        });
        if inert {
            out.push(axis.key.clone());
        }
    }
    out
}

/// How a named preset fares: its verdicts at the sweep's seeds, and its resources against
/// the predicted CPU and memory.
#[derive(Debug, Clone)]
pub struct PresetCheck {
    pub name: String,
    pub description: String,
    pub summary: PointSummary,
    pub margins: Vec<Margin>,
    pub resource_notes: Vec<String>,
}

/// The recommendation.
#[derive(Debug, Clone)]
pub struct Recommendation {
    pub def: SweepDef,
    pub points: usize,
    pub feasible: usize,
    pub chosen: Option<Chosen>,
    pub diagnosis: Option<advice::Diagnosis>,
    pub inert: Vec<String>,
    pub presets: Vec<PresetCheck>,
    pub options: Options,
}

#[derive(Debug, Clone)]
pub struct Chosen {
    pub point: usize,
    /// The settings to deploy: the base with the point's values of every axis that made a
    /// difference (an inert axis keeps its base value). The one source of the chosen
    /// values: the headline, values.yaml and the Deployment patch all read them here.
    pub settings: Settings,
    /// Each axis with its chosen value, as `key=value` would set it.
    pub values: Vec<ChosenValue>,
    pub summary: PointSummary,
    pub margins: Vec<Margin>,
    pub resources: Resources,
    /// Mean EC2 calls per minute at the point.
    pub calls_per_min: f64,
}

/// One axis of the grid at the chosen point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChosenValue {
    pub key: String,
    pub value: String,
    /// The axis changed nothing: the value is the base value, not a swept one.
    pub inert: bool,
}

impl Chosen {
    /// `key=value …` of the chosen values, an inert axis marked as kept at its base value.
    pub fn describe(&self) -> String {
        if self.values.is_empty() {
            return "the base settings".into();
        }
        self.values
            .iter()
            .map(|v| {
                if v.inert {
                    format!("{}={} (no effect; the base value)", v.key, v.value)
                } else {
                    format!("{}={}", v.key, v.value)
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The settings of point `p` with the inert axes left at their base values, and each
/// axis's chosen value.
pub fn chosen_settings(
    def: &SweepDef,
    p: usize,
    inert: &[String],
) -> Result<(Settings, Vec<ChosenValue>), String> {
    let mut settings = def.base.clone();
    for (axis, i) in def.grid.axes.iter().zip(def.grid.coordinates(p)) {
        if inert.contains(&axis.key) {
            continue;
        }
        settings
            .apply(&axis.key, &axis.value(i))
            .map_err(|m| format!("{}={}: {m}", axis.key, axis.values[i]))?;
    }
    let values = def
        .grid
        .axes
        .iter()
        .zip(def.grid.coordinates(p))
        .map(|(axis, i)| {
            let inert = inert.contains(&axis.key);
            ChosenValue {
                key: axis.key.clone(),
                value: if inert {
                    knobs::value_of(&settings, &axis.key).unwrap_or_else(|| "unset".into())
                } else {
                    axis.values[i].clone()
                },
                inert,
            }
        })
        .collect();
    Ok((settings, values))
}

/// Recommends from complete sweep results. Runs the presets (and, when no point meets
/// the thresholds, the nearest point again for a diagnosis) at the sweep's seeds.
pub fn recommend(results: &SweepResults, opts: Options) -> Recommendation {
    let def = &results.def;
    let summaries = results.summaries();
    let feasible = summaries.iter().filter(|s| s.meets).count();
    let inert = inert_axes(results);
    let chosen = choose(def, &summaries, opts.tolerance).and_then(|p| {
        let summary = summaries.iter().find(|s| s.point == p).cloned()?;
        // An inert knob keeps the base value (the chart default unless a values file or
        // --set gave another): the sweep says nothing about it.
        let (settings, values) = chosen_settings(def, p, &inert).ok()?;
        let calibrated = settings.controller.costs.calibrated;
        Some(Chosen {
            point: p,
            values,
            margins: margins(def, &summary),
            resources: resources::size(
                predicted_resources(def, &summary),
                opts.headroom,
                calibrated,
            ),
            calls_per_min: summary
                .get(def, CALLS_PER_MIN)
                .map(|c| c.mean)
                .unwrap_or(f64::NAN),
            settings,
            summary,
        })
    });
    let diagnosis = if chosen.is_none() {
        advice::diagnose(results, &summaries)
    } else {
        None
    };
    let presets = presets::check_all(def);
    Recommendation {
        def: def.clone(),
        points: summaries.len(),
        feasible,
        chosen,
        diagnosis,
        inert,
        presets,
        options: opts,
    }
}
