//! Named presets (`models/presets/*.yaml`, embedded): Helm values files a user may be
//! considering, above all the performance plan's own advice, evaluated at the sweep's
//! seeds so the user sees whether each holds.

use super::resources::{parse_cpu_m, parse_memory_mi};
use super::{margins, predicted_resources, PresetCheck};
use crate::sweep::definition::replication_seed;
use crate::sweep::runner::run_one;
use crate::sweep::table::summarise_point;
use crate::sweep::{RunRow, SweepDef};
use rayon::prelude::*;
use serde_yaml_ng::Value;
use std::path::Path;

/// (name, description, values file).
pub const PRESETS: [(&str, &str, &str); 2] = [
    (
        "plan",
        "the performance plan's advice (maxConcurrentReconciles 15, maxConcurrentENICleanup 8, CPU 200m/1000m, memory 256Mi/1Gi)",
        include_str!("../../models/presets/plan.yaml"),
    ),
    (
        "chart-defaults",
        "the chart's defaults (5, 3, CPU 100m/500m, memory 128Mi/512Mi)",
        include_str!("../../models/presets/chart-defaults.yaml"),
    ),
];

pub fn get(name: &str) -> Option<(&'static str, &'static str, &'static str)> {
    PRESETS.iter().copied().find(|(n, _, _)| *n == name)
}

/// `resources.controller.<section>.<what>` of a values file.
fn resource(text: &str, section: &str, what: &str) -> Option<String> {
    let doc: Value = serde_yaml_ng::from_str(text).ok()?;
    let v = doc
        .get("resources")?
        .get("controller")?
        .get(section)?
        .get(what)?;
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Runs a preset at the sweep's seeds and judges it.
pub fn check(
    def: &SweepDef,
    name: &str,
    description: &str,
    text: &str,
) -> Result<PresetCheck, String> {
    let mut settings = def.base.clone();
    settings
        .apply_values_text(Path::new(&format!("models/presets/{name}.yaml")), text)
        .map_err(|e| e.to_string())?;
    let rows: Vec<RunRow> = (0..def.replications)
        .into_par_iter()
        .map(|r| {
            let seed = replication_seed(def.seed, r);
            RunRow {
                point: 0,
                replication: r,
                seed,
                outcome: run_one(&settings, &def.model, seed, &def.metrics),
            }
        })
        .collect();
    let summary = summarise_point(def, usize::MAX, &rows);
    let mut notes = Vec::new();
    match predicted_resources(def, &summary) {
        Some(p) => {
            let source = if settings.controller.costs.calibrated {
                "calibrated costs"
            } else {
                "assumed costs"
            };
            let mut say = |what: &str, q: Option<String>, parse: fn(&str) -> Option<f64>, predicted: f64, unit: &str, risk: &str| {
                if let Some(v) = q.as_deref().and_then(parse) {
                    let q = q.unwrap_or_default();
                    if v >= predicted {
                        notes.push(format!(
                            "{what} {q} covers the predicted {predicted:.0}{unit} (upper 95 % bound, {source}), margin {:.0}{unit}",
                            v - predicted
                        ));
                    } else {
                        notes.push(format!(
                            "{what} {q} is below the predicted {predicted:.0}{unit} (upper 95 % bound, {source}): {risk}"
                        ));
                    }
                }
            };
            say("CPU request", resource(text, "requests", "cpu"), parse_cpu_m, p.cpu_p95.high(), "m", "the scheduler reserves less than the controller uses at p95");
            say("CPU limit", resource(text, "limits", "cpu"), parse_cpu_m, p.cpu_peak.high(), "m", "the controller is CPU-throttled at its peak");
            say("memory request", resource(text, "requests", "memory"), parse_memory_mi, p.mem_p95.high(), "Mi", "the node may be overcommitted");
            say("memory limit", resource(text, "limits", "memory"), parse_memory_mi, p.mem_peak.high(), "Mi", "the controller would be OOM-killed at its peak");
        }
        None => notes.push(
            "resources not checked: enisim's model in this build predicts no controller CPU or memory"
                .into(),
        ),
    }
    Ok(PresetCheck {
        name: name.to_string(),
        description: description.to_string(),
        margins: margins(def, &summary),
        summary,
        resource_notes: notes,
    })
}

/// Every embedded preset. A preset that cannot be applied (it cannot happen with the
/// embedded files) is skipped.
pub fn check_all(def: &SweepDef) -> Vec<PresetCheck> {
    PRESETS
        .iter()
        .filter_map(|(n, d, t)| check(def, n, d, t).ok())
        .collect()
}
