//! The recommendation as files: a Helm values overlay holding only keys the real chart
//! has, a Deployment patch for environment variables the chart does not expose, and a
//! Markdown report.

use super::knobs::{self, Place};
use super::{Margin, Recommendation};
use crate::metrics::thresholds::Verdict;
use crate::scenario::{ScenarioSpec, Settings};
use crate::sweep::SweepDef;

fn num(x: f64) -> String {
    if x.is_nan() {
        "n/a".into()
    } else if x.fract() == 0.0 || x.abs() >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

/// "ENI creation p95 (…) 17.20 s, upper 95 % bound 18.05 s < 30 s: margin 11.95 s".
pub fn margin_line(m: &Margin) -> String {
    let unit = if m.unit == "%" {
        " %".to_string()
    } else {
        format!(" {}", m.unit)
    };
    if m.censored {
        format!(
            "{} more than {}{unit}: some replications did not finish by the horizon, limit < {}{unit}: {}",
            m.label,
            num(m.mean),
            num(m.limit),
            m.verdict.as_str()
        )
    } else if m.met() {
        format!(
            "{} {}{unit}, upper 95 % bound {}{unit} < {}{unit}: margin {}{unit}",
            m.label,
            num(m.mean),
            num(m.high),
            num(m.limit),
            num(m.margin())
        )
    } else {
        let over = if m.unit == "%" {
            format!("{} percentage points", num(-m.margin()))
        } else {
            format!("{}{unit}", num(-m.margin()))
        };
        let relative = if m.excess() >= 1.0 {
            format!("{:.1} × the limit", m.high / m.limit)
        } else {
            format!("+{:.0} %", m.excess() * 100.0)
        };
        format!(
            "{} {}{unit}, upper 95 % bound {}{unit}, limit < {}{unit}: over by {over} ({relative}), {}",
            m.label,
            num(m.mean),
            num(m.high),
            num(m.limit),
            m.verdict.as_str()
        )
    }
}

/// The scenario dimensions a header shows, with their `--set` keys.
const SCENARIO_KEYS: [&str; 6] = [
    "enisim.scenario.nodes",
    "enisim.scenario.enisPerNode",
    "enisim.scenario.instanceType",
    "enisim.scenario.layout",
    "enisim.scenario.deviceIndex",
    "enisim.scenario.horizon",
];

/// The scenario actually swept: its name, the `enisim.scenario.*` values given on top of
/// the built-in scenario of that name (`--set`, `--values`), and its size. With `at`, the
/// size of those settings (the chosen point); without, the base with every swept
/// dimension shown as its values (`{3|5} nodes`).
pub fn scenario_line(def: &SweepDef, at: Option<&Settings>) -> String {
    let swept = |k: &str| def.grid.axes.iter().find(|a| a.key == k);
    let show = |k: &str| -> String {
        match (at, swept(k)) {
            (Some(s), _) => knobs::value_of(s, k).unwrap_or_default(),
            (None, Some(a)) => format!("{{{}}}", a.values.join("|")),
            (None, None) => knobs::value_of(&def.base, k).unwrap_or_default(),
        }
    };
    let mut name = def.scenario.clone();
    if let Some(builtin) = ScenarioSpec::embedded(&def.scenario) {
        let plain = Settings::new(def.base.controller.clone(), builtin);
        let given: Vec<String> = SCENARIO_KEYS
            .iter()
            .filter(|k| swept(k).is_none())
            .filter_map(|k| {
                let v = knobs::value_of(&def.base, k)?;
                (knobs::value_of(&plain, k).as_ref() != Some(&v)).then(|| format!("{k}={v}"))
            })
            .collect();
        if !given.is_empty() {
            name = format!("{name} with {}", given.join(", "));
        }
    }
    let swept_keys: Vec<&str> = SCENARIO_KEYS
        .iter()
        .copied()
        .filter(|k| swept(k).is_some())
        .collect();
    format!(
        "{name}: {} nodes × {} ENIs on {}, layout {}, device index {}{}",
        show("enisim.scenario.nodes"),
        show("enisim.scenario.enisPerNode"),
        show("enisim.scenario.instanceType"),
        show("enisim.scenario.layout"),
        show("enisim.scenario.deviceIndex"),
        if swept_keys.is_empty() || at.is_some() {
            String::new()
        } else {
            format!(" (swept: {})", swept_keys.join(", "))
        }
    )
}

/// The Helm values overlay (`helm upgrade … -f values.yaml`), or `None` when no point
/// meets the thresholds.
pub fn values_overlay(r: &Recommendation) -> Option<String> {
    let c = r.chosen.as_ref()?;
    let def = &r.def;
    let mut y = String::new();
    y.push_str("# Helm values overlay for charts/aws-multi-eni-controller, written by `enisim recommend`.\n");
    y.push_str(&format!(
        "# Scenario {}.\n",
        scenario_line(def, Some(&c.settings))
    ));
    y.push_str(&format!(
        "# Grid point {} of {} ({}), {} replications, seed {}: every threshold met at the upper 95 % bound;\n",
        c.point,
        r.points,
        c.describe(),
        def.replications,
        def.seed
    ));
    y.push_str(&format!(
        "# {} of {} points qualify; chosen for the fewest EC2 calls per minute ({:.0}){}, then lower concurrency.\n",
        r.feasible,
        r.points,
        c.calls_per_min,
        cpu_clause(r)
    ));
    y.push_str("# Only keys the chart has are set here; knobs it does not expose are in deployment-patch.yaml.\n");
    y.push_str("controller:\n");
    for key in [
        "controller.maxConcurrentReconciles",
        "controller.maxConcurrentENICleanup",
    ] {
        let v = knobs::chart_value(&c.settings, key).unwrap_or(0);
        let short = key.trim_start_matches("controller.");
        if r.inert.iter().any(|k| k == key) {
            let axis = def.grid.axes.iter().find(|a| a.key == key);
            y.push_str(&format!(
                "  # {short}: no effect in this scenario (values {} gave identical runs); kept at {v}, the base value.\n",
                axis.map(|a| a.values.join(", ")).unwrap_or_default()
            ));
        } else {
            let swept = def.grid.axes.iter().any(|a| a.key == key);
            if !swept {
                y.push_str(&format!("  # {short}: not swept; the base value.\n"));
            }
            for m in &c.margins {
                y.push_str(&format!("  # predicted {}\n", margin_line(m)));
            }
        }
        y.push_str(&format!("  {short}: {v}\n"));
    }
    let s = &c.resources.sizes;
    let k = &c.resources.comments;
    let note = |i: usize| {
        if c.resources.predicted {
            format!("      # {}\n", k[i])
        } else {
            String::new()
        }
    };
    if !c.resources.predicted {
        y.push_str(&format!("# resources: {}.\n", k[0]));
    }
    y.push_str("resources:\n  controller:\n");
    // Comments 0–1 explain the requests, 2–3 the limits.
    for (i, (block, cpu_m, memory_mi)) in [
        ("requests", s.requests_cpu_m, s.requests_memory_mi),
        ("limits", s.limits_cpu_m, s.limits_memory_mi),
    ]
    .into_iter()
    .enumerate()
    {
        y.push_str(&format!("    {block}:\n"));
        y.push_str(&format!("{}      cpu: {cpu_m}m\n", note(2 * i)));
        y.push_str(&format!("{}      memory: {memory_mi}Mi\n", note(2 * i + 1)));
    }
    Some(y)
}

fn cpu_clause(r: &Recommendation) -> &'static str {
    if super::find_metric(&r.def, &super::resources::CPU_P95).is_some() {
        ", then the least controller CPU"
    } else {
        ""
    }
}

/// Environment variables the chosen point needs that the chart cannot set.
pub fn env_settings(r: &Recommendation) -> Vec<(String, Option<String>)> {
    let Some(c) = &r.chosen else {
        return Vec::new();
    };
    // An inert axis is not a choice: it keeps its base value, set only if that differs.
    let swept: Vec<String> = c
        .values
        .iter()
        .filter(|v| !v.inert)
        .map(|v| v.key.clone())
        .collect();
    knobs::env_to_set(&c.settings, &swept)
}

/// The Deployment patch (strategic merge: `kubectl patch` or a kustomize patch), or
/// `None` when the chosen point needs no environment variable beyond the chart's.
pub fn deployment_patch(r: &Recommendation) -> Option<String> {
    let env: Vec<(String, String)> = env_settings(r)
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
    if env.is_empty() {
        return None;
    }
    let c = r.chosen.as_ref()?;
    let mut y = String::new();
    y.push_str("# NOT a Helm values file. The chart (charts/aws-multi-eni-controller) has no env passthrough:\n");
    y.push_str(
        "# these controller environment variables can only be set by patching its Deployment.\n",
    );
    y.push_str(&format!(
        "# Written by `enisim recommend` for grid point {} ({}).\n",
        c.point,
        c.describe()
    ));
    y.push_str(&format!(
        "#   kubectl -n {ns} patch deployment {d} --type strategic --patch-file deployment-patch.yaml\n",
        ns = knobs::CHART_NAMESPACE,
        d = knobs::CHART_DEPLOYMENT
    ));
    y.push_str("# or list it under `patches:` of a kustomization over the rendered chart.\n");
    y.push_str("# A later `helm upgrade` re-renders the Deployment and drops it: apply it again after each upgrade.\n");
    y.push_str("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n");
    y.push_str(&format!(
        "  name: {}\n  namespace: {}\n",
        knobs::CHART_DEPLOYMENT,
        knobs::CHART_NAMESPACE
    ));
    y.push_str("spec:\n  template:\n    spec:\n      containers:\n");
    y.push_str(&format!(
        "        - name: {}\n          env:\n",
        knobs::CHART_CONTAINER
    ));
    for (k, v) in env {
        y.push_str(&format!(
            "            - name: {k}\n              value: \"{}\"\n",
            v.replace('"', "\\\"")
        ));
    }
    Some(y)
}

/// The report (Markdown), also printed by the CLI.
pub fn report(r: &Recommendation) -> String {
    let def = &r.def;
    let mut o = String::new();
    o.push_str(&format!(
        "# enisim recommend — {}\n\n",
        scenario_line(def, None)
    ));
    o.push_str(&format!(
        "{} grid points × {} replications (seed {}, common random numbers); grid: {}.\n\n",
        r.points,
        def.replications,
        def.seed,
        if def.grid.axes.is_empty() {
            "none (the base settings)".to_string()
        } else {
            def.grid
                .axes
                .iter()
                .map(|a| a.spec())
                .collect::<Vec<_>>()
                .join(" × ")
        }
    ));
    match (&r.chosen, &r.diagnosis) {
        (Some(c), _) => {
            o.push_str(&format!(
                "**Recommended: {}** — {} of {} points meet every threshold at the upper 95 % bound; this one makes the fewest EC2 calls per minute ({:.0}){}, then has the lowest concurrency.\n\n",
                c.describe(),
                r.feasible,
                r.points,
                c.calls_per_min,
                cpu_clause(r)
            ));
            for m in &c.margins {
                o.push_str(&format!("- {}\n", margin_line(m)));
            }
            // The AWS API figure the plan's thresholds do not judge (unless enabled): what
            // the chosen point costs the account's shared buckets.
            let judged = |m: &str| r.def.thresholds.judged().any(|(n, _)| n == m);
            if let Some(t) = c.summary.get(&r.def, "ec2_throttled_percent") {
                if !judged("ec2_throttled_percent") && t.mean > 0.0 {
                    o.push_str(&format!(
                        "- AWS API (not judged): {:.2} % of the controller's EC2 attempts are throttled here (upper 95 % bound {:.2} %), which the account's other tenants share; enable `ec2_throttled_percent` in the thresholds to budget it\n",
                        t.mean,
                        t.high()
                    ));
                }
            }
            for v in c.values.iter().filter(|v| v.inert) {
                o.push_str(&format!(
                    "- {} made no difference in this scenario (identical runs for every value): kept at the base value {} in values.yaml and deployment-patch.yaml\n",
                    v.key, v.value
                ));
            }
            if !c.resources.predicted {
                o.push_str("- resources: the model in this build predicts no controller CPU or memory; the chart defaults are kept\n");
            } else if c.resources.calibrated {
                o.push_str("- resources: sized from the predicted CPU and memory, from calibrated per-operation costs\n");
            } else {
                let d = super::resources::CHART_DEFAULT;
                o.push_str(&format!(
                    "- resources: sized from the predicted CPU and memory, from **assumed** per-operation costs (not calibrated): never below the chart's defaults (requests {}m / {}Mi, limits {}m / {}Mi); calibrate the controller profile's `costs` before cutting them\n",
                    d.requests_cpu_m, d.requests_memory_mi, d.limits_cpu_m, d.limits_memory_mi
                ));
            }
            let env = env_settings(r);
            for (k, v) in &env {
                if v.is_none() {
                    o.push_str(&format!(
                        "- {k}: the chosen setting cannot be expressed as this environment variable (an enisim what-if): not in deployment-patch.yaml\n"
                    ));
                }
            }
            let what_if = knobs::what_ifs(&c.settings);
            if !what_if.is_empty() {
                o.push_str(&format!(
                    "- **needs a controller change** (not deployable by configuration): {}\n",
                    what_if.join(", ")
                ));
            }
            let scenario_keys: Vec<String> = c
                .values
                .iter()
                .filter(|v| !v.inert && knobs::place(&v.key) == Place::Scenario)
                .map(|v| format!("{}={}", v.key, v.value))
                .collect();
            if !scenario_keys.is_empty() {
                o.push_str(&format!(
                    "- your side of the deployment (NodeENIs, instances): {}\n",
                    scenario_keys.join(", ")
                ));
            }
            o.push('\n');
        }
        (None, Some(d)) => {
            o.push_str(&format!(
                "**No point meets every threshold** at the upper 95 % bound ({} points).\n\n",
                r.points
            ));
            if let Some(first) = d.breaches.first() {
                o.push_str(&format!(
                    "Fails first: **{}** — at the nearest point ({}) {}.\n\n",
                    first.label,
                    def.grid.describe(d.nearest),
                    margin_line(first)
                ));
            }
            if d.breaches.len() > 1 {
                o.push_str("Also failing there:\n");
                for b in &d.breaches[1..] {
                    o.push_str(&format!("- {}\n", margin_line(b)));
                }
                o.push('\n');
            }
            o.push_str("Points failing each threshold:\n");
            for (label, n) in &d.fail_counts {
                o.push_str(&format!("- {label}: {n} of {}\n", r.points));
            }
            if !d.bottleneck.is_empty() {
                o.push_str(&format!(
                    "\nBottleneck at the nearest point: {}\n",
                    d.bottleneck
                ));
            }
            o.push_str("\nWhat would change that:\n");
            if d.advice.is_empty() {
                o.push_str("- nothing in the sweep's reach: widen the grid (more workers, another layout or instance type)\n");
            }
            for a in &d.advice {
                o.push_str(&format!("- {a}\n"));
            }
            o.push('\n');
        }
        (None, None) => {}
    }
    if !r.presets.is_empty() {
        o.push_str("Presets at the same seeds:\n");
        for p in &r.presets {
            let holds = p.summary.meets;
            o.push_str(&format!(
                "- **{}** — {}: {}\n",
                p.name,
                p.description,
                if holds {
                    "holds — every threshold met".to_string()
                } else {
                    format!("does not hold — verdict {}", p.summary.worst.as_str())
                }
            ));
            for m in &p.margins {
                if m.verdict != Verdict::Acceptable || !holds {
                    o.push_str(&format!("  - {}\n", margin_line(m)));
                }
            }
            for n in &p.resource_notes {
                o.push_str(&format!("  - {n}\n"));
            }
        }
    }
    o
}
