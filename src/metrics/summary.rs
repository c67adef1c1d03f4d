//! Replications summarised: mean and 95 % CI of each metric, verdicts, the bottleneck.

use super::record::{RunMetrics, RunRecord};
use super::stats::{mean_ci, MeanCi};
use super::thresholds::{Thresholds, Verdict};
use crate::aws::Action;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VerdictRow {
    pub metric: String,
    pub label: String,
    pub unit: String,
    /// The mean over replications; a lower bound when `censored > 0`.
    pub mean: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// Replications in which the value is censored: the run ended before the metric's
    /// event (an ENI never created or attached, a cluster never converged), so the value
    /// is only known to exceed `mean`. Any censored replication is a critical breach.
    pub censored: usize,
    /// Whether there is an interval (two replications or more); with one, the point
    /// itself is judged.
    pub has_interval: bool,
    pub threshold: String,
    pub verdict: Verdict,
}

impl VerdictRow {
    /// The prediction as printed, with its unit: "36.19 [33.51, 38.87] s", "> 1800.00 s
    /// (unfinished in 20 of 20)", "36.19 s (no interval)".
    pub fn prediction(&self, replications: usize) -> String {
        let unit = &self.unit;
        if self.censored > 0 {
            format!(
                "> {:.2} {unit} (unfinished in {} of {replications})",
                self.mean, self.censored
            )
        } else if !self.has_interval {
            format!("{:.2} {unit} (no interval)", self.mean)
        } else {
            format!(
                "{:.2} [{:.2}, {:.2}] {unit}",
                self.mean, self.ci_low, self.ci_high
            )
        }
    }
}

/// The verdict table's header: what `run` prints and the HTML report shows.
pub const VERDICT_HEAD: [&str; 4] = ["metric", "predicted (95 % CI)", "threshold", "verdict"];

/// The verdict table's cells, one row per verdict: metric, prediction with its interval,
/// threshold, verdict — the one formatting of these numbers, for the text table and the
/// HTML report alike.
pub fn verdict_cells(verdicts: &[VerdictRow], replications: usize) -> Vec<[String; 4]> {
    verdicts
        .iter()
        .map(|v| {
            [
                v.label.clone(),
                v.prediction(replications),
                v.threshold.clone(),
                v.verdict.as_str().to_string(),
            ]
        })
        .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct ActionSummary {
    pub calls: f64,
    pub attempts: f64,
    pub throttled: f64,
    /// Mean over replications of the throttled share of this action's attempts.
    pub throttled_percent: f64,
    pub errors: f64,
    pub retries: f64,
    pub peak_per_s: f64,
    pub mean_per_s: f64,
    pub latency_p95_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub replications: usize,
    pub metrics: BTreeMap<String, MeanCi>,
    pub verdicts: Vec<VerdictRow>,
    pub actions: BTreeMap<String, ActionSummary>,
    pub bottleneck: String,
    pub worst: Verdict,
    /// What the reader must know about how far the verdicts hold (one replication, runs
    /// that did not finish).
    pub warnings: Vec<String>,
}

/// The numeric fields of `RunMetrics` by name.
pub fn metric_values(m: &RunMetrics) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(m) {
        for (k, v) in map {
            let x = match v {
                serde_json::Value::Number(n) => n.as_f64(),
                serde_json::Value::Bool(b) => Some(if b { 1.0 } else { 0.0 }),
                _ => None,
            };
            if let Some(x) = x {
                out.insert(k, x);
            }
        }
    }
    out
}

impl Summary {
    /// Widens a judged metric's interval to hold `[low, high]` too — under a calibration,
    /// the interval that holds the parameters' uncertainty beside the Monte Carlo noise of
    /// the mean — and judges it again at the new upper end (a censored metric stays
    /// critical), so a verdict promises what the wider interval says.
    pub fn widen(&mut self, metric: &str, low: f64, high: f64, thresholds: &Thresholds) {
        let Some(th) = thresholds.metrics.get(metric) else {
            return;
        };
        for row in self.verdicts.iter_mut().filter(|r| r.metric == metric) {
            row.ci_low = row.ci_low.min(low);
            row.ci_high = row.ci_high.max(high);
            row.has_interval = true;
            if row.censored == 0 {
                row.verdict = th.judge(row.ci_high);
            }
        }
        self.worst = worst_of(&self.verdicts);
    }
}

fn worst_of(verdicts: &[VerdictRow]) -> Verdict {
    verdicts
        .iter()
        .map(|v| v.verdict)
        .max()
        .unwrap_or(Verdict::Acceptable)
}

pub fn summarise(runs: &[RunRecord], thresholds: &Thresholds, workers: u32) -> Summary {
    let per_run: Vec<BTreeMap<String, f64>> =
        runs.iter().map(|r| metric_values(&r.metrics)).collect();
    let mut metrics = BTreeMap::new();
    if let Some(first) = per_run.first() {
        for k in first.keys() {
            let xs: Vec<f64> = per_run.iter().filter_map(|m| m.get(k).copied()).collect();
            metrics.insert(k.clone(), mean_ci(&xs));
        }
    }
    let mut verdicts = Vec::new();
    for (name, th) in thresholds.judged() {
        let Some(ci) = metrics.get(name) else {
            continue;
        };
        let censored = per_run
            .iter()
            .filter(|m| m.get(&censor_key(name)).is_some_and(|c| *c != 0.0))
            .count();
        // A censored value is unbounded above: the run did not finish what the metric
        // measures, which no threshold can call acceptable.
        let verdict = if censored > 0 {
            Verdict::Critical
        } else if ci.has_interval() {
            th.judge(ci.high())
        } else {
            th.judge(ci.mean)
        };
        verdicts.push(VerdictRow {
            metric: name.clone(),
            label: th.label.clone(),
            unit: th.unit.clone(),
            mean: ci.mean,
            ci_low: ci.low(),
            ci_high: ci.high(),
            censored,
            has_interval: ci.has_interval(),
            threshold: th.describe(),
            verdict,
        });
    }
    // The design table's order, then anything else a thresholds file adds.
    verdicts.sort_by_key(|v| verdict_rank(&v.metric));
    let mut actions: BTreeMap<String, ActionSummary> = BTreeMap::new();
    let n = runs.len().max(1) as f64;
    let mut all: Vec<Action> = runs
        .iter()
        .flat_map(|r| r.actions.keys().copied())
        .collect();
    all.sort();
    all.dedup();
    for a in all {
        let get = |f: &dyn Fn(&super::record::ActionStats) -> f64| {
            runs.iter()
                .map(|r| r.actions.get(&a).map(f).unwrap_or(0.0))
                .sum::<f64>()
                / n
        };
        actions.insert(
            a.name().to_string(),
            ActionSummary {
                calls: get(&|s| s.calls as f64),
                attempts: get(&|s| s.attempts as f64),
                throttled: get(&|s| s.throttled as f64),
                throttled_percent: get(&|s| s.throttled_percent),
                errors: get(&|s| s.errors as f64),
                retries: get(&|s| s.retries as f64),
                peak_per_s: get(&|s| s.peak_per_s as f64),
                mean_per_s: get(&|s| s.mean_per_s),
                latency_p95_ms: get(&|s| s.latency_p95_ms),
            },
        );
    }
    let bottleneck = bottleneck(runs, &metrics, workers);
    let worst = worst_of(&verdicts);
    let mut warnings = Vec::new();
    if runs.len() == 1 {
        warnings.push(
            "1 replication: no confidence interval; each verdict judges the point estimate alone, \
             so Monte Carlo noise is not covered (use --replications 2 or more)"
                .to_string(),
        );
    }
    let unfinished = per_run
        .iter()
        .filter(|m| m.get("converged").is_some_and(|c| *c == 0.0))
        .count();
    if unfinished > 0 {
        warnings.push(format!(
            "{unfinished} of {} replications did not converge by the horizon: their times are \
             lower bounds (\"> …\") and judged critical",
            runs.len()
        ));
    }
    Summary {
        replications: runs.len(),
        metrics,
        verdicts,
        actions,
        bottleneck,
        worst,
        warnings,
    }
}

/// The order of the threshold metrics in every verdict table: the design table's, then
/// anything else a thresholds file adds.
pub const VERDICT_ORDER: [&str; 9] = [
    "eni_creation_p95_s",
    "eni_attachment_p95_s",
    "full_reconcile_s",
    "cpu_p95_millicores",
    "cpu_peak_millicores",
    "memory_p95_mib",
    "memory_peak_mib",
    "error_rate_percent",
    "ec2_throttled_percent",
];

/// A metric's place in [`VERDICT_ORDER`] (those it does not name sort after, in a stable
/// sort keeping their order).
pub fn verdict_rank(metric: &str) -> usize {
    VERDICT_ORDER
        .iter()
        .position(|o| *o == metric)
        .unwrap_or(VERDICT_ORDER.len())
}

/// The companion flag of a metric that can be censored: `eni_creation_p95_s` →
/// `eni_creation_p95_censored`, `full_reconcile_s` → `full_reconcile_censored`.
pub fn censor_key(metric: &str) -> String {
    let stem = metric.strip_suffix("_s").unwrap_or(metric);
    format!("{stem}_censored")
}

/// One line naming what limits the run most.
fn bottleneck(runs: &[RunRecord], m: &BTreeMap<String, MeanCi>, workers: u32) -> String {
    let n = runs.len().max(1) as f64;
    let mut buckets: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for r in runs {
        for (name, empty, throttled) in &r.buckets {
            let e = buckets.entry(name.as_str()).or_insert((0.0, 0.0));
            e.0 += empty / n;
            e.1 += *throttled as f64 / n;
        }
    }
    let worst_bucket = buckets
        .iter()
        .max_by(|a, b| a.1 .1.total_cmp(&b.1 .1).then(a.1 .0.total_cmp(&b.1 .0)));
    let get = |k: &str| m.get(k).map(|c| c.mean).unwrap_or(0.0);
    if let Some((name, (empty, throttled))) = worst_bucket {
        if *throttled > 0.0 {
            return format!(
                "{name} bucket empty for {empty:.1} s; {throttled:.0} throttled calls (mean per run)"
            );
        }
    }
    let wait = get("ec2_limiter_wait_s");
    if wait > 0.0 && wait >= 0.5 * get("end_s") {
        return format!(
            "the client-side EC2 rate limit holds the controller's calls: {wait:.0} s of waiting per run (summed over calls) in a run of {:.0} s",
            get("end_s")
        );
    }
    if get("churned_enis") > 0.0 {
        return format!(
            "attach failures churn ENIs: {:.0} created then deleted per run (create → attach fail → delete)",
            get("churned_enis")
        );
    }
    let busy = get("workers_busy_to_converge");
    if busy >= 0.9 * workers as f64 {
        return format!(
            "all {workers} reconcile workers busy until converged (mean {busy:.1} busy): NodeENIs wait for a worker"
        );
    }
    format!(
        "no EC2 throttling; time goes to sequential EC2 calls inside each reconcile (mean {busy:.1} of {workers} workers busy until converged)"
    )
}
