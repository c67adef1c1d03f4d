//! What a calibration writes into its directory: `ec2.yaml` (a complete EC2 profile, each
//! calibrated value commented with the trail, n, method and interval), `calibration.json`
//! and `calibration.md` (every parameter, every moment, the J test), and `controller.yaml`
//! when Prometheus costs were fitted. Everything is rendered and checked first (the
//! profile is loaded back), then written file by file atomically: an error leaves nothing
//! half-written.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::fit::{Calibration, ParamResult};
use super::floor::TARGET as FLOOR_TARGET;
use super::workload::{Note, Origin};
use crate::aws::Ec2Profile;
use crate::input::locate_yaml_key;
use crate::plausible::Plausible;

pub const EC2_FILE: &str = "ec2.yaml";
pub const CONTROLLER_FILE: &str = "controller.yaml";
pub const JSON_FILE: &str = "calibration.json";
pub const MD_FILE: &str = "calibration.md";
/// The recorded workload as a scenario file (when the workload was recorded).
pub const SCENARIO_FILE: &str = "scenario.yaml";

fn g(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let a = x.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.4}")
    }
}

/// The comment a value gets in the calibrated profile.
pub fn comment(p: &ParamResult, source: &str) -> String {
    if p.identified {
        format!(
            "calibrated from {source}: n = {}, {}, 95 % interval [{}, {}]",
            p.n,
            p.method,
            g(p.low),
            g(p.high)
        )
    } else {
        let why = p.note.as_deref().unwrap_or("");
        if why.starts_with("not identifiable") || why.starts_with("no throttle") {
            format!("{why}; not identifiable from this trail: kept assumption").replace(
                "kept assumption; not identifiable from this trail: kept assumption",
                "kept assumption",
            )
        } else {
            format!("not identifiable from this trail: kept assumption ({why})")
        }
    }
}

/// The YAML path of the line that holds a parameter's value in a serialised profile.
fn yaml_path(p: &Ec2Profile, name: &str) -> Option<String> {
    let rest = name.strip_prefix("ec2.")?;
    let parts: Vec<&str> = rest.split('.').collect();
    Some(match parts.as_slice() {
        ["latency", "default" | "rejected", _] => format!("latency.{}", parts[1]),
        ["latency", a, _] => format!("latency.actions.{a}"),
        ["bucket", "unfiltered", a, f] => format!("throttling.unfiltered.{a}.{f}"),
        ["bucket", "category", c, f] => format!("throttling.categories.{c}.{f}"),
        ["bucket", a, f] => format!("throttling.actions.{a}.{f}"),
        ["attach_delay", _] => "attachment.attach".into(),
        ["detach_delay", _] => "attachment.detach".into(),
        ["tenant", a, _] => {
            let i = p.background.iter().position(|t| t.action == *a)?;
            format!("background[{i}].rate_per_s")
        }
        ["error_probability", a] => format!("faults.error_probability.{a}"),
        _ => return None,
    })
}

/// The line (1-based) of `path` in `text`, for list items by counting `- ` entries.
fn line_of(text: &str, path: &str) -> Option<usize> {
    if let Some((list, rest)) = path.split_once('[') {
        let (idx, tail) = rest.split_once(']')?;
        let idx: usize = idx.parse().ok()?;
        let start = locate_yaml_key(text, list)?;
        let lines: Vec<&str> = text.lines().collect();
        let mut seen = 0;
        for (i, l) in lines.iter().enumerate().skip(start) {
            if l.trim_start().starts_with("- ") {
                if seen == idx {
                    let field = tail.trim_start_matches('.');
                    for (j, m) in lines.iter().enumerate().skip(i) {
                        let t = m.trim_start().trim_start_matches("- ");
                        if t.starts_with(&format!("{field}:")) {
                            return Some(j + 1);
                        }
                    }
                    return Some(i + 1);
                }
                seen += 1;
            }
        }
        return None;
    }
    locate_yaml_key(text, path)
}

/// The calibrated EC2 profile as YAML: the serialised profile, a header naming the trail,
/// a comment on each calibrated or kept value, and the plausible ranges of the calibrated
/// values replaced by their 95 % intervals (what sensitivity should vary now).
pub fn ec2_yaml(cal: &Calibration) -> Result<String, String> {
    let mut profile = cal.model.ec2.clone();
    for p in &cal.parameters {
        if p.identified
            && p.low.is_finite()
            && p.high.is_finite()
            && p.low <= p.value
            && p.value <= p.high
        {
            profile.plausible.insert(
                p.name.clone(),
                Plausible {
                    range: Some([p.low, p.high]),
                    alternatives: None,
                    why: format!(
                        "calibrated from {}: 95 % interval ({})",
                        cal.source, p.method
                    ),
                },
            );
        } else if let Some(e) = profile.plausible.get_mut(&p.name) {
            // Keep the file loadable: a range must hold its value.
            if let Some([lo, hi]) = &mut e.range {
                *lo = lo.min(p.value);
                *hi = hi.max(p.value);
            }
        }
    }
    // A value that moved with a calibrated one (a p99 scaled with its median) must stay in
    // its range for the file to load: widen the range, and say so.
    let names: Vec<String> = profile.plausible.keys().cloned().collect();
    for name in names {
        if let Ok(crate::plausible::NamedValue::Number(v)) = profile.named(&name) {
            if let Some(e) = profile.plausible.get_mut(&name) {
                if let Some([lo, hi]) = &mut e.range {
                    if v < *lo || v > *hi {
                        *lo = lo.min(v);
                        *hi = hi.max(v);
                        e.why =
                            format!("{} (widened to hold the calibrated profile's value)", e.why);
                    }
                }
            }
        }
    }
    let body = serde_yaml_ng::to_string(&profile).map_err(|e| e.to_string())?;
    let mut lines: Vec<String> = body.lines().map(str::to_string).collect();
    for p in &cal.parameters {
        let Some(path) = yaml_path(&profile, &p.name) else {
            continue;
        };
        if let Some(l) = line_of(&body, &path) {
            let line = &mut lines[l - 1];
            let sep = if line.contains(" # ") { "; " } else { "  # " };
            let _ = write!(line, "{sep}{}: {}", p.name, comment(p, &cal.source));
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# EC2 profile calibrated by `enisim calibrate` from {} (seed {}, {} replications per point).",
        cal.source, cal.seed, cal.replications
    );
    let _ = writeln!(out, "# {}", cal.verdict);
    let _ = writeln!(
        out,
        "# Load it with --ec2-profile, or use the directory with --calibration."
    );
    let _ = writeln!(out, "# Per parameter (see calibration.md):");
    for p in &cal.parameters {
        let _ = writeln!(
            out,
            "#   {} = {}: {}",
            p.name,
            g(p.value),
            comment(p, &cal.source)
        );
    }
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
    Ec2Profile::from_str(Path::new(EC2_FILE), &out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// calibration.md: the report a person reads.
pub fn markdown(cal: &Calibration) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Calibration from {}\n", cal.source);
    let _ = writeln!(s, "**Fit:** {}.\n", cal.verdict);
    if let Some(j) = &cal.j_test {
        let _ = writeln!(
            s,
            "Hansen's J = {:.2}, {} degrees of freedom, p = {:.3} ({} moments, {} fitted parameters; {} replications per point, seed {}).\n",
            j.statistic,
            j.df,
            j.p_value,
            cal.moments.len(),
            cal.fitted.fitted_count(),
            cal.replications,
            cal.seed
        );
    }
    for w in &cal.warnings {
        let _ = writeln!(s, "- warning: {w}");
    }
    if !cal.warnings.is_empty() {
        s.push('\n');
    }
    let _ = writeln!(s, "## Parameters\n");
    let _ = writeln!(
        s,
        "| parameter | prior | fitted | 95 % interval | n | method | identified |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    for p in &cal.parameters {
        let ident = if p.identified {
            "yes".to_string()
        } else {
            format!("no: {}", p.note.as_deref().unwrap_or(""))
        };
        let fitted = if p.identified {
            g(p.value)
        } else {
            "—".into()
        };
        let _ = writeln!(
            s,
            "| `{}` | {} | {} | [{}, {}] | {} | {} | {} |",
            p.name,
            g(p.prior),
            fitted,
            g(p.low),
            g(p.high),
            p.n,
            p.method,
            ident
        );
    }
    s.push_str(&floors_markdown(cal));
    let _ = writeln!(s, "\n## Moments (observed beside simulated at the fit)\n");
    let _ = writeln!(s, "| moment | observed | simulated | sd of one trail |");
    let _ = writeln!(s, "|---|---|---|---|");
    for m in &cal.moments {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            m.name,
            g(m.observed),
            g(m.simulated),
            g(m.sd)
        );
    }
    if !cal.eigenvalues.is_empty() {
        let ev: Vec<String> = cal.eigenvalues.iter().map(|e| format!("{e:.3e}")).collect();
        let _ = writeln!(s, "\nEigenvalues of JᵀWJ: {}.", ev.join(", "));
    }
    let t = &cal.trail_settings;
    let _ = writeln!(
        s,
        "\n## What the trail shows of the settings\n\n- NodeENIs in flight at most: {}\n- ENI targets created: {} ({} NodeENIs, {} nodes, up to {} on one node)\n- successful Detaches (DryRun probes aside): {}\n- verify period (median gap between probes of one ENI): {}",
        t.nodeenis_in_flight,
        t.targets,
        t.nodeenis,
        t.nodes,
        t.enis_per_node,
        t.detached,
        t.verify_period_s.map_or("no probes".into(), |p| format!("{p} s"))
    );
    s
}

/// calibration.md's section on what the trail could tell at best.
fn floors_markdown(cal: &Calibration) -> String {
    let mut s = String::new();
    if cal.floors.is_empty() {
        return s;
    }
    let _ = writeln!(
        s,
        "\n## What this trail can tell at best\n\nEven timed exactly, n calls of an action pin its median's logarithm no better than σ/√n (Cramér–Rao; σ from the profile's p99/median, an assumption). One-second eventTimes and gaps that mix calls only widen that: a target below this floor needs a longer recording, not a better fit.\n"
    );
    let _ = writeln!(
        s,
        "| parameter | controller calls | σ | narrowest 95 % interval | calls for ±{:.0} % |",
        100.0 * FLOOR_TARGET
    );
    let _ = writeln!(s, "|---|---|---|---|---|");
    for f in &cal.floors {
        let _ = writeln!(
            s,
            "| `{}` | {} | {:.2} | ±{:.0} % | {} |",
            f.name,
            f.calls,
            f.sigma,
            100.0 * f.half_width(),
            f.calls_for(FLOOR_TARGET)
        );
    }
    s
}

/// calibration.md's section on the workload simulated.
fn workload_markdown(w: &Note) -> String {
    let mut s = String::new();
    let from = match w.origin {
        Origin::Scenario => "As given".to_string(),
        Origin::AuditLog => match &w.audit_log {
            Some(p) => format!("From the audit log {} ({SCENARIO_FILE})", p.display()),
            None => format!("From the audit log ({SCENARIO_FILE})"),
        },
        Origin::Reconstructed => format!(
            "Reconstructed from the controller's calls, no scenario or audit log being given ({SCENARIO_FILE})"
        ),
    };
    let _ = writeln!(
        s,
        "\n## Workload\n\n{from}: scenario `{}` (kind {}), {}.",
        w.scenario, w.kind, w.description
    );
    for note in &w.warnings {
        let _ = writeln!(s, "- note: {note}");
    }
    s
}

/// The files of a calibration, rendered: (file name, bytes). `scenario_yaml` is the
/// recorded workload as a scenario file, when the workload was recorded.
pub fn render(
    cal: &Calibration,
    controller_yaml: Option<String>,
    workload: &Note,
    scenario_yaml: Option<String>,
) -> Result<Vec<(&'static str, Vec<u8>)>, String> {
    let mut files = vec![(EC2_FILE, ec2_yaml(cal)?.into_bytes())];
    if let Some(text) = controller_yaml {
        files.push((CONTROLLER_FILE, text.into_bytes()));
    }
    /// calibration.json: the calibration's fields, then the workload's.
    #[derive(serde::Serialize)]
    struct Doc<'a> {
        #[serde(flatten)]
        cal: &'a Calibration,
        workload: &'a Note,
    }
    let json = serde_json::to_string_pretty(&Doc { cal, workload }).map_err(|e| e.to_string())?;
    files.push((JSON_FILE, format!("{json}\n").into_bytes()));
    let md = markdown(cal) + &workload_markdown(workload);
    files.push((MD_FILE, md.into_bytes()));
    if let Some(text) = scenario_yaml {
        files.push((SCENARIO_FILE, text.into_bytes()));
    }
    Ok(files)
}

/// Writes rendered files into `dir` (each atomically, after all were rendered).
pub fn write(dir: &Path, files: &[(&'static str, Vec<u8>)]) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for (name, bytes) in files {
        let path = dir.join(name);
        crate::atomic::write_atomically(&path, bytes)?;
        out.push(path);
    }
    Ok(out)
}
