//! When no grid point meets every threshold: the nearest point, which threshold fails
//! first there and by how much, and what would change that, from a detailed re-run of
//! that point (per-action throttling, churn, worker occupancy).

use super::{margins, Margin};
use crate::metrics::summary::{summarise, Summary};
use crate::metrics::thresholds::Verdict;
use crate::scenario::{simulate, Layout};
use crate::sweep::definition::replication_seed;
use crate::sweep::{PointSummary, SweepDef, SweepResults};
use rayon::prelude::*;

#[derive(Debug, Clone)]
pub struct Diagnosis {
    /// The point closest to meeting every threshold (smallest worst relative excess).
    pub nearest: usize,
    /// Its failing thresholds, the one furthest over its limit first.
    pub breaches: Vec<Margin>,
    /// Per threshold (label): how many points fail it.
    pub fail_counts: Vec<(String, usize)>,
    /// Failed runs at the nearest point, with the first error.
    pub failed_runs: Option<(usize, String)>,
    pub bottleneck: String,
    /// What would change it, most direct first.
    pub advice: Vec<String>,
}

fn worst_excess(m: &[Margin], s: &PointSummary) -> f64 {
    if s.ok == 0 {
        return f64::INFINITY;
    }
    let e = m
        .iter()
        .map(|m| m.excess())
        .fold(f64::NEG_INFINITY, f64::max);
    if s.failed > 0 {
        e.max(0.0) + 1.0
    } else {
        e
    }
}

/// The number of NodeENI objects a layout makes, and how many ENIs each holds.
fn nodeeni_objects(s: &crate::scenario::Settings) -> (u32, u32) {
    let c = &s.scenario.cluster;
    match c.layout {
        Layout::SubnetPerNodeeni => (c.enis_per_node, c.nodes),
        Layout::OneNodeeni => (1, c.nodes * c.enis_per_node),
        Layout::NodeeniPerNode => (c.nodes, c.enis_per_node),
    }
}

fn push(advice: &mut Vec<String>, s: String) {
    if !advice.contains(&s) {
        advice.push(s);
    }
}

/// Re-runs point `p` keeping every record, for the per-action figures the sweep's table
/// does not hold.
fn detail(def: &SweepDef, p: usize) -> Option<Summary> {
    let settings = def.grid.settings(&def.base, p).ok()?;
    let runs: Vec<_> = (0..def.replications)
        .into_par_iter()
        .filter_map(|r| simulate(&settings, &def.model, replication_seed(def.seed, r)).ok())
        .collect();
    if runs.is_empty() {
        return None;
    }
    Some(summarise(
        &runs,
        &def.thresholds,
        settings.controller.env.max_concurrent_reconciles,
    ))
}

/// `None` for a sweep without points (nothing to diagnose).
pub fn diagnose(results: &SweepResults, summaries: &[PointSummary]) -> Option<Diagnosis> {
    let def = &results.def;
    let scored: Vec<(f64, &PointSummary, Vec<Margin>)> = summaries
        .iter()
        .map(|s| {
            let m = margins(def, s);
            (worst_excess(&m, s), s, m)
        })
        .collect();
    let (_, nearest, m) = scored
        .iter()
        .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.point.cmp(&b.1.point)))?;
    let mut breaches: Vec<Margin> = m.iter().filter(|m| !m.met()).cloned().collect();
    breaches.sort_by(|a, b| b.excess().total_cmp(&a.excess()));
    let mut fail_counts = Vec::new();
    for (name, th) in def.thresholds.judged() {
        let n = summaries
            .iter()
            .filter(|s| {
                s.verdicts
                    .get(name)
                    .is_some_and(|v| *v != crate::metrics::thresholds::Verdict::Acceptable)
            })
            .count();
        if crate::sweep::table::metric_index(def, name).is_some() {
            fail_counts.push((th.label.clone(), n));
        }
    }
    let failed_runs =
        (nearest.failed > 0).then(|| (nearest.failed, nearest.error.clone().unwrap_or_default()));

    let detail_nearest = detail(def, nearest.point);
    let mut advice = Vec::new();
    if let Some((n, e)) = &failed_runs {
        push(
            &mut advice,
            format!("{n} runs fail at this point ({e}): fix that first"),
        );
    }
    // A threshold the nearest point fails but other points meet: the thresholds conflict
    // along the grid; what would change it is what fails at those points.
    let mut at_nearest = Vec::new();
    for b in &breaches {
        let alt = scored
            .iter()
            .filter(|(_, s, _)| s.ok > 0 && s.verdicts.get(&b.metric) == Some(&Verdict::Acceptable))
            .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.point.cmp(&b.1.point)));
        match alt {
            Some((_, alt, am)) => {
                let mut alt_breaches: Vec<Margin> =
                    am.iter().filter(|m| !m.met()).cloned().collect();
                alt_breaches.sort_by(|a, b| b.excess().total_cmp(&a.excess()));
                let unit = |m: &Margin| {
                    if m.unit == "%" {
                        " %".to_string()
                    } else {
                        format!(" {}", m.unit)
                    }
                };
                let met = am
                    .iter()
                    .find(|m| m.metric == b.metric)
                    .map(|m| {
                        format!(
                            "upper 95 % bound {:.2}{u} < {}{u}",
                            m.high,
                            m.limit,
                            u = unit(m)
                        )
                    })
                    .unwrap_or_default();
                let fails: Vec<String> = alt_breaches
                    .iter()
                    .map(|m| {
                        format!(
                            "{} fails ({:.2}{u} against < {}{u})",
                            m.label,
                            m.high,
                            m.limit,
                            u = unit(m)
                        )
                    })
                    .collect();
                push(
                    &mut advice,
                    format!(
                        "{} is met at {} ({met}), but there {}: the thresholds pull the grid's knobs in opposite directions",
                        b.label,
                        def.grid.describe(alt.point),
                        fails.join("; ")
                    ),
                );
                let d = detail(def, alt.point);
                advise_at(def, alt.point, &alt_breaches, d.as_ref(), &mut advice);
            }
            None => at_nearest.push(b.clone()),
        }
    }
    advise_at(
        def,
        nearest.point,
        &at_nearest,
        detail_nearest.as_ref(),
        &mut advice,
    );
    Some(Diagnosis {
        nearest: nearest.point,
        breaches,
        fail_counts,
        failed_runs,
        bottleneck: detail_nearest.map(|d| d.bottleneck).unwrap_or_default(),
        advice,
    })
}

/// Rules for what would change each breach at point `p`, from its detailed re-run.
fn advise_at(
    def: &SweepDef,
    p: usize,
    breaches: &[Margin],
    detail: Option<&Summary>,
    advice: &mut Vec<String>,
) {
    let settings = def.grid.settings(&def.base, p).ok();
    let get = |k: &str| {
        detail
            .and_then(|d| d.metrics.get(k))
            .map(|c| c.mean)
            .unwrap_or(0.0)
    };
    for b in breaches {
        let throttled: Vec<(&String, &crate::metrics::summary::ActionSummary)> = detail
            .map(|d| {
                let mut v: Vec<_> = d
                    .actions
                    .iter()
                    .filter(|(_, a)| a.throttled >= 0.5)
                    .collect();
                v.sort_by(|x, y| y.1.throttled.total_cmp(&x.1.throttled));
                v
            })
            .unwrap_or_default();
        let churn = get("churned_enis");
        let is_time = matches!(
            b.metric.as_str(),
            "eni_creation_p95_s" | "full_reconcile_s" | "eni_attachment_p95_s"
        );
        if churn > 0.0 && (is_time || b.metric == "error_rate_percent") {
            if let Some(s) = &settings {
                let need = s.scenario.cluster.enis_per_node + 1;
                let current = &s.scenario.cluster.instance_type;
                let family = current.split('.').next().unwrap_or("");
                let better = def
                    .model
                    .instance_types
                    .iter()
                    .filter(|t| t.name.starts_with(&format!("{family}.")))
                    .filter(|t| t.max_enis_default_card >= need)
                    .min_by_key(|t| (t.max_enis_default_card, t.name.clone()))
                    .map(|t| format!(" (e.g. {}: {})", t.name, t.max_enis_default_card))
                    .unwrap_or_default();
                push(
                    advice,
                    format!(
                        "{churn:.0} ENIs per run are created, fail to attach and are deleted: {current} has too few interfaces for {} ENIs per node; use an instance type with ≥ {need} interfaces on its default card{better}, or fewer ENIs per node",
                        s.scenario.cluster.enis_per_node
                    ),
                );
            }
        }
        if (matches!(
            b.metric.as_str(),
            "error_rate_percent" | "ec2_throttled_percent"
        ) || is_time)
            && !throttled.is_empty()
        {
            for (name, a) in throttled.iter().take(2) {
                let bucket = def.model.ec2.throttling.actions.get(*name);
                let rate = bucket.map(|b| b.refill_per_s).unwrap_or(f64::NAN);
                let want = (a.peak_per_s.ceil()).max(rate.floor() + 1.0);
                push(
                    advice,
                    format!(
                        "request a rate increase for {name} to {want:.0}/s from AWS (its bucket refills {rate}/s; the controller asked for up to {:.0}/s and {:.0} calls per run were throttled)",
                        a.peak_per_s, a.throttled
                    ),
                );
            }
            if settings
                .as_ref()
                .is_some_and(|s| s.controller.behaviour.self_trigger)
            {
                push(
                    advice,
                    "most calls come from the self-triggered verify loop (status writes re-enqueue the NodeENI): a controller that paces it by RECONCILE_PERIOD makes far fewer calls (a code change, not a setting): compare `enisim run --set enisim.whatIf.paceByPeriod=true`".into(),
                );
            }
        }
        if matches!(b.metric.as_str(), "eni_creation_p95_s" | "full_reconcile_s")
            && throttled.is_empty()
            && churn == 0.0
        {
            if let Some(s) = &settings {
                let workers = s.controller.env.max_concurrent_reconciles;
                let (objects, per_object) = nodeeni_objects(s);
                let parallel = workers.min(objects).max(1);
                let needed = ((parallel as f64) * b.high / (0.8 * b.limit)).ceil() as u32;
                let total = s.scenario.cluster.nodes * s.scenario.cluster.enis_per_node;
                if needed > objects && needed <= total {
                    push(
                        advice,
                        format!(
                            "split the NodeENIs into {needed} objects (now {objects}, {per_object} ENIs each, processed one after another inside a NodeENI) and set maxConcurrentReconciles ≥ {needed}: {} would then take about {:.0} {}",
                            b.label,
                            b.high * parallel as f64 / needed as f64,
                            b.unit
                        ),
                    );
                } else if needed > objects {
                    push(
                        advice,
                        format!(
                            "even one NodeENI per ENI would not bring {} under {} {}: the controller creates and attaches one ENI after another inside a NodeENI; `--set enisim.whatIf.parallelNodes=true` shows what parallel node processing would give",
                            b.label, b.limit, b.unit
                        ),
                    );
                } else if needed > workers {
                    push(
                        advice,
                        format!(
                            "raise maxConcurrentReconciles to about {needed} (the {objects} NodeENIs can then be worked on at once; the nearest point has {workers})"
                        ),
                    );
                }
            }
        }
        if b.metric == "eni_attachment_p95_s" && throttled.is_empty() && churn == 0.0 {
            push(
                advice,
                "attachment time is EC2's own attach delay (attachment.attach in the EC2 profile) after the Attach call: no controller setting shortens it; calibrate the profile from CloudTrail before trusting this breach".into(),
            );
        }
        if b.metric.contains("cpu") || b.metric.contains("memory") {
            push(
                advice,
                format!(
                    "{} grows with concurrent reconciles and EC2 calls: a lower maxConcurrentReconciles, or a larger limit for the controller if the {} threshold allows",
                    b.label, b.unit
                ),
            );
        }
    }
}
