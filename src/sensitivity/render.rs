//! The sensitivity ranking as text (a tornado in a table) and JSON.

use super::{Factor, MetricInfo, Sensitivity};
use crate::calibrate::params::Domain;

/// How many parameters each metric's own ranking lists in the text.
const PER_METRIC: usize = 3;

fn num(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let a = x.abs();
    if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 1.0 {
        format!("{x:.2}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else {
        format!("{x:.3}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

fn domain(f: &Factor) -> String {
    let d = match &f.domain {
        Domain::Range { low, high } => format!("[{}, {}] ({})", num(*low), num(*high), f.base),
        Domain::Alternatives(alts) => format!("{} ({})", alts.join(" | "), f.base),
    };
    // A calibrated profile (`--calibration`) gives a fitted value its 95 % interval as the
    // range: what is left to vary is the fit's uncertainty, not an assumption's.
    if f.why.starts_with("calibrated") {
        format!("{d}, calibrated")
    } else {
        d
    }
}

fn metric<'a>(s: &'a Sensitivity, name: &str) -> Option<&'a MetricInfo> {
    s.metrics.iter().find(|m| m.name == name)
}

/// "ENI creation p95 36.19 → 95.30 s (198 %)", or "no judged metric moves".
fn swing(s: &Sensitivity, f: &Factor) -> String {
    let (Some(m), Some(w)) = (metric(s, &f.top_metric), f.swings.get(&f.top_metric)) else {
        return "no judged metric moves".into();
    };
    if w.share_of_threshold == 0.0 {
        return "no judged metric moves".into();
    }
    let censored = f
        .points
        .iter()
        .chain(std::iter::once(&s.base))
        .any(|p| p.censored.contains(&f.top_metric));
    format!(
        "{}: {} → {}{} {} ({:.0} % of < {} {})",
        short_label(&m.label),
        num(w.min),
        if censored { "> " } else { "" },
        num(w.max),
        m.unit,
        100.0 * w.share_of_threshold,
        num(m.acceptable),
        m.unit
    )
}

/// The label up to its parenthesis: "ENI creation p95".
fn short_label(label: &str) -> &str {
    label.split(" (").next().unwrap_or(label).trim()
}

fn flips(f: &Factor) -> String {
    let v: Vec<String> = f
        .swings
        .iter()
        .filter(|(_, w)| !w.verdicts_flipped.is_empty())
        .map(|(m, w)| {
            let vs: Vec<&str> = w.verdicts_flipped.iter().map(|v| v.as_str()).collect();
            format!("{m} {}", vs.join("/"))
        })
        .collect();
    if v.is_empty() {
        if f.flips_verdict {
            "worst verdict changes".into()
        } else {
            "-".into()
        }
    } else {
        v.join("; ")
    }
}

pub fn to_text(s: &Sensitivity) -> String {
    let ranges = s.factors.iter().filter(|f| f.kind == "range").count();
    let switches = s.factors.len() - ranges;
    let mut out = format!(
        "sensitivity of {}: {} assumption{} ({ranges} range{}, {switches} switch{}), one at a time\n\
         {} replications per point (seed {}, the base's seeds at every point): {} runs\n",
        s.scenario,
        s.factors.len(),
        if s.factors.len() == 1 { "" } else { "s" },
        if ranges == 1 { "" } else { "s" },
        if switches == 1 { "" } else { "es" },
        s.replications,
        s.seed,
        s.runs
    );
    let base: Vec<String> = s
        .metrics
        .iter()
        .filter_map(|m| {
            let mean = s.base.means.get(&m.name)?;
            let v = s.base.verdicts.get(&m.name)?;
            Some(format!(
                "{} {} {} {}",
                short_label(&m.label),
                num(*mean),
                m.unit,
                v.as_str()
            ))
        })
        .collect();
    out.push_str(&format!("base: {}\n\n", base.join("; ")));
    let rows: Vec<[String; 5]> = s
        .factors
        .iter()
        .enumerate()
        .map(|(i, f)| {
            [
                format!("{}", i + 1),
                f.name.clone(),
                domain(f),
                swing(s, f),
                flips(f),
            ]
        })
        .collect();
    let head = [
        "rank".to_string(),
        "parameter".into(),
        "plausible (base)".into(),
        "moves most (swing over the range, share of threshold)".into(),
        "verdicts it flips".into(),
    ];
    let mut width = [0usize; 5];
    for r in std::iter::once(&head).chain(&rows) {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    for r in std::iter::once(&head).chain(&rows) {
        let mut line = String::new();
        for (k, (w, c)) in width.iter().zip(r).enumerate() {
            let pad = w - c.chars().count();
            if k == 0 {
                line.push_str(&" ".repeat(pad));
                line.push_str(c);
            } else {
                line.push_str(c);
                if k < 4 {
                    line.push_str(&" ".repeat(pad));
                }
            }
            if k < 4 {
                line.push_str("  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push('\n');
    for m in &s.metrics {
        let names = s.by_metric.get(&m.name).map(Vec::as_slice).unwrap_or(&[]);
        let top: Vec<String> = names
            .iter()
            .take(PER_METRIC)
            .filter_map(|n| {
                let f = s.factors.iter().find(|f| &f.name == n)?;
                let w = f.swings.get(&m.name)?;
                // Under half a per cent of the threshold prints as 0 %: not worth a name.
                (w.share_of_threshold >= 0.005).then_some(())?;
                Some(format!("{n} ({:.0} %)", 100.0 * w.share_of_threshold))
            })
            .collect();
        out.push_str(&format!(
            "{}: {}\n",
            short_label(&m.label),
            if top.is_empty() {
                "no parameter moves it".to_string()
            } else {
                top.join(", ")
            }
        ));
    }
    let flippers: Vec<&str> = s
        .factors
        .iter()
        .filter(|f| f.flips_verdict)
        .map(|f| f.name.as_str())
        .collect();
    out.push('\n');
    if flippers.is_empty() {
        out.push_str(
            "no assumption flips a verdict inside its plausible range: the verdicts hold whatever a real run measures within those ranges\n",
        );
    } else {
        out.push_str(&format!(
            "{} assumption{} can flip a verdict inside {} plausible range: measure {} first (a small real run, then `enisim calibrate`)\n",
            flippers.len(),
            if flippers.len() == 1 { "" } else { "s" },
            if flippers.len() == 1 { "its" } else { "their" },
            flippers.iter().take(3).copied().collect::<Vec<_>>().join(", ")
        ));
    }
    out
}

pub fn to_json(s: &Sensitivity) -> String {
    serde_json::to_string_pretty(s).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
