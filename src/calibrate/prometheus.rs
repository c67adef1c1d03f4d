//! The controller's CPU and memory costs from its own Prometheus metrics over the recorded
//! window (calibration.md §2): CPU seconds per window regressed, with non-negative
//! coefficients, on the operations of the window (reconciles and status/metadata writes
//! from the controller's series, EC2 attempts from the trail itself, whose times share the
//! wall clock); memory as a base plus a cost per attachment held.
//!
//! Input: Prometheus HTTP API `query_range` answers (JSON, `resultType: matrix`) or
//! text-format scrapes with timestamps (`name{labels} value timestamp_ms`), one or many
//! files. Series used: `process_cpu_seconds_total`, `process_resident_memory_bytes`,
//! `controller_runtime_reconcile_total` (summed over `result`), `rest_client_requests_total`
//! (`method="PUT"`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nalgebra::{DMatrix, DVector};
use serde::Serialize;

/// A problem with a metrics file: the file, where in it, and what.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{}: {message}", path.display(), at.as_ref().map(|a| format!(":{a}")).unwrap_or_default())]
pub struct PromError {
    pub path: PathBuf,
    /// `line N` (text) or the JSON path of the problem.
    pub at: Option<String>,
    pub message: String,
}

/// Samples of each series (summed over the label sets kept), by name: (unix ms, value).
pub type Series = BTreeMap<String, Vec<(i64, f64)>>;

const CPU: &str = "process_cpu_seconds_total";
const RSS: &str = "process_resident_memory_bytes";
const RECONCILES: &str = "controller_runtime_reconcile_total";
const REST: &str = "rest_client_requests_total";

fn keep(name: &str, labels: &BTreeMap<String, String>) -> bool {
    match name {
        CPU | RSS | RECONCILES => true,
        REST => labels.get("method").is_some_and(|m| m == "PUT"),
        _ => false,
    }
}

fn add(series: &mut Series, name: &str, t: i64, v: f64) {
    series.entry(name.to_string()).or_default().push((t, v));
}

/// Reads one file (JSON `query_range` or text scrapes) into `series`.
pub fn read(path: &Path, series: &mut Series) -> Result<(), PromError> {
    let err = |at: Option<String>, m: String| PromError {
        path: path.to_path_buf(),
        at,
        message: m,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(None, format!("cannot read: {e}")))?;
    if text.trim_start().starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| err(Some(format!("line {}", e.line())), format!("bad JSON: {e}")))?;
        let data = v.get("data").ok_or_else(|| {
            err(
                Some("data".into()),
                "not a Prometheus query_range answer (no `data`)".into(),
            )
        })?;
        if data.get("resultType").and_then(|t| t.as_str()) != Some("matrix") {
            return Err(err(
                Some("data.resultType".into()),
                "expected a query_range answer (resultType \"matrix\")".into(),
            ));
        }
        let result = data
            .get("result")
            .and_then(|r| r.as_array())
            .ok_or_else(|| {
                err(
                    Some("data.result".into()),
                    "expected an array of series".into(),
                )
            })?;
        for (i, s) in result.iter().enumerate() {
            let at = |k: &str| Some(format!("data.result[{i}].{k}"));
            let metric = s
                .get("metric")
                .and_then(|m| m.as_object())
                .ok_or_else(|| err(at("metric"), "expected the series' labels".into()))?;
            let labels: BTreeMap<String, String> = metric
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect();
            let name = labels.get("__name__").cloned().ok_or_else(|| {
                err(
                    at("metric.__name__"),
                    "the series has no __name__ label".into(),
                )
            })?;
            if !keep(&name, &labels) {
                continue;
            }
            let values = s
                .get("values")
                .and_then(|v| v.as_array())
                .ok_or_else(|| err(at("values"), "expected [[time, \"value\"], …]".into()))?;
            for (j, p) in values.iter().enumerate() {
                let pair = p.as_array().filter(|a| a.len() == 2);
                let t = pair.and_then(|a| a[0].as_f64());
                let v = pair
                    .and_then(|a| a[1].as_str())
                    .and_then(|s| s.parse::<f64>().ok());
                match (t, v) {
                    (Some(t), Some(v)) => add(series, &name, (t * 1000.0).round() as i64, v),
                    _ => {
                        return Err(err(
                            at(&format!("values[{j}]")),
                            "expected [unix seconds, \"number\"]".into(),
                        ))
                    }
                }
            }
        }
        return Ok(());
    }
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = Some(format!("line {}", n + 1));
        let (head, rest) = match line.find('}') {
            Some(i) => (&line[..=i], line[i + 1..].trim()),
            None => match line.split_once(' ') {
                Some((h, r)) => (h, r.trim()),
                None => return Err(err(at, "expected `name{labels} value timestamp_ms`".into())),
            },
        };
        let (name, labels) = match head.split_once('{') {
            Some((n, l)) => {
                let l = l.trim_end_matches('}');
                let labels: BTreeMap<String, String> = l
                    .split(',')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
                    .collect();
                (n.to_string(), labels)
            }
            None => (head.to_string(), BTreeMap::new()),
        };
        let mut parts = rest.split_whitespace();
        let v = parts.next().and_then(|s| s.parse::<f64>().ok());
        let t = parts.next().and_then(|s| s.parse::<i64>().ok());
        match (v, t) {
            (Some(v), Some(t)) => {
                if keep(&name, &labels) {
                    add(series, &name, t, v);
                }
            }
            (Some(_), None) => {
                return Err(err(
                    at,
                    format!("{name}: a scrape without a timestamp; export with timestamps (`name value timestamp_ms`)"),
                ))
            }
            _ => return Err(err(at, format!("{name}: expected a number value"))),
        }
    }
    Ok(())
}

/// Sums each series over its label sets at equal timestamps, in time order.
fn collapse(series: &mut Series) {
    for v in series.values_mut() {
        let mut m: BTreeMap<i64, f64> = BTreeMap::new();
        for (t, x) in v.iter() {
            *m.entry(*t).or_default() += x;
        }
        *v = m.into_iter().collect();
    }
}

/// Lawson–Hanson non-negative least squares: argmin ‖Ax − b‖ subject to x ≥ 0.
pub fn nnls(a: &DMatrix<f64>, b: &DVector<f64>) -> DVector<f64> {
    let n = a.ncols();
    let mut x = DVector::zeros(n);
    let mut passive = vec![false; n];
    for _ in 0..3 * n + 10 {
        let w = a.transpose() * (b - a * &x);
        let pick = (0..n)
            .filter(|&j| !passive[j] && w[j] > 1e-12)
            .max_by(|&i, &j| w[i].total_cmp(&w[j]));
        let Some(j) = pick else { break };
        passive[j] = true;
        loop {
            let idx: Vec<usize> = (0..n).filter(|&k| passive[k]).collect();
            let ap = DMatrix::from_fn(a.nrows(), idx.len(), |r, c| a[(r, idx[c])]);
            let z = match (ap.transpose() * &ap).try_inverse() {
                Some(inv) => inv * ap.transpose() * b,
                None => break,
            };
            if z.iter().all(|&v| v > 0.0) {
                for (c, &k) in idx.iter().enumerate() {
                    x[k] = z[c];
                }
                break;
            }
            let mut alpha = f64::INFINITY;
            for (c, &k) in idx.iter().enumerate() {
                if z[c] <= 0.0 {
                    alpha = alpha.min(x[k] / (x[k] - z[c]));
                }
            }
            for (c, &k) in idx.iter().enumerate() {
                x[k] += alpha * (z[c] - x[k]);
                if x[k] <= 1e-12 {
                    x[k] = 0.0;
                    passive[k] = false;
                }
            }
        }
    }
    x
}

/// Non-negative least squares of `b` on the columns of `a`, each coefficient scaled into
/// its cost's unit, with standard errors from the residual variance.
fn costs_of(a: &DMatrix<f64>, b: &DVector<f64>, names: &[(&str, f64)]) -> Vec<Cost> {
    let x = nnls(a, b);
    let resid = b - a * &x;
    let dof = (a.nrows() as f64 - a.ncols() as f64).max(1.0);
    let s2 = resid.norm_squared() / dof;
    let cov = (a.transpose() * a).try_inverse().map(|m| m * s2);
    names
        .iter()
        .enumerate()
        .map(|(j, (name, unit))| Cost {
            name: format!("controller.costs.{name}"),
            value: x[j] * unit,
            standard_error: cov.as_ref().map_or(f64::NAN, |c| c[(j, j)].max(0.0).sqrt()) * unit,
        })
        .collect()
}

/// A fitted cost with its standard error (from the residual variance).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cost {
    pub name: String,
    pub value: f64,
    pub standard_error: f64,
}

/// The fit: CPU (millicores base, ms per operation) and memory (MiB base, KiB per
/// attachment), with the windows they rest on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostFit {
    pub windows: usize,
    pub costs: Vec<Cost>,
}

fn counter_at(s: &[(i64, f64)], t: i64) -> Option<f64> {
    // The last sample at or before t.
    let i = s.partition_point(|p| p.0 <= t);
    (i > 0).then(|| s[i - 1].1)
}

/// Fits the costs from the series and the trail's controller EC2 attempts (`attempts_ms`,
/// unix ms) and attachments held over time (`attachments`: (unix ms, count) steps).
pub fn fit(
    series: &mut Series,
    attempts_ms: &[i64],
    attachments: &[(i64, f64)],
    path: &Path,
) -> Result<CostFit, PromError> {
    collapse(series);
    let need = |name: &str| -> Result<Vec<(i64, f64)>, PromError> {
        series
            .get(name)
            .filter(|v| v.len() >= 2)
            .cloned()
            .ok_or_else(|| PromError {
                path: path.to_path_buf(),
                at: None,
                message: format!(
                    "the metrics hold no series {name} (at least two samples are needed)"
                ),
            })
    };
    let cpu = need(CPU)?;
    let rec = need(RECONCILES)?;
    let rest = series.get(REST).cloned().unwrap_or_default();
    let mut rows: Vec<[f64; 4]> = Vec::new();
    let mut y: Vec<f64> = Vec::new();
    for w in cpu.windows(2) {
        let (t0, t1) = (w[0].0, w[1].0);
        let dt = (t1 - t0) as f64 / 1000.0;
        if dt <= 0.0 {
            continue;
        }
        let d = |s: &[(i64, f64)]| -> f64 {
            match (counter_at(s, t0), counter_at(s, t1)) {
                (Some(a), Some(b)) => (b - a).max(0.0),
                _ => 0.0,
            }
        };
        let n_ec2 = attempts_ms.iter().filter(|&&t| t > t0 && t <= t1).count() as f64;
        rows.push([dt, d(&rec), n_ec2, d(&rest)]);
        y.push((w[1].1 - w[0].1).max(0.0));
    }
    if rows.len() < 5 {
        return Err(PromError {
            path: path.to_path_buf(),
            at: None,
            message: format!(
                "{CPU} has {} windows; at least 5 are needed to fit 4 costs",
                rows.len()
            ),
        });
    }
    let a = DMatrix::from_fn(rows.len(), 4, |i, j| rows[i][j]);
    // CPU seconds → millicores and ms per operation.
    let mut costs = costs_of(
        &a,
        &DVector::from_vec(y),
        &[
            ("cpu_base_millicores", 1000.0),
            ("cpu_ms_per_reconcile", 1000.0),
            ("cpu_ms_per_ec2_attempt", 1000.0),
            ("cpu_ms_per_status_write", 1000.0),
        ],
    );
    if let Ok(rss) = need(RSS) {
        let pts: Vec<(f64, f64)> = rss
            .iter()
            .map(|&(t, v)| (counter_at(attachments, t).unwrap_or(0.0), v))
            .collect();
        let a = DMatrix::from_fn(pts.len(), 2, |i, j| if j == 0 { 1.0 } else { pts[i].0 });
        let b = DVector::from_iterator(pts.len(), pts.iter().map(|p| p.1));
        // Bytes → MiB and KiB per attachment.
        costs.extend(costs_of(
            &a,
            &b,
            &[
                ("memory_base_mib", 1.0 / 1048576.0),
                ("memory_kib_per_attachment", 1.0 / 1024.0),
            ],
        ));
    }
    Ok(CostFit {
        windows: rows.len(),
        costs,
    })
}

/// [`fit`] with the EC2 attempts and the attachments held taken from a recorded trail (its
/// controller calls, whose eventTimes share the metrics' wall clock).
pub fn fit_with_trail(
    series: &mut Series,
    trail: &super::observed::Trail,
    path: &Path,
) -> Result<CostFit, PromError> {
    let attempts: Vec<i64> = trail.controller().map(|c| c.t_s * 1000).collect();
    let mut held = 0.0;
    let mut attachments = Vec::new();
    for c in trail.controller() {
        let d = match c.action.as_str() {
            "AttachNetworkInterface" if c.ok() => 1.0,
            "DeleteNetworkInterface" if c.ok() => -1.0,
            _ => continue,
        };
        held = f64::max(held + d, 0.0);
        attachments.push((c.t_s * 1000, held));
    }
    fit(series, &attempts, &attachments, path)
}

/// The controller profile with the fitted costs set (and marked calibrated), as YAML with
/// a comment per fitted cost.
pub fn controller_yaml(
    base: &crate::controller::ControllerProfile,
    fit: &CostFit,
    source: &str,
) -> Result<String, String> {
    let mut p = base.clone();
    for c in &fit.costs {
        p.set_named(
            &c.name,
            &crate::plausible::NamedValue::Number(c.value.max(0.0)),
        )?;
        if let Some(e) = p.plausible.get_mut(&c.name) {
            if let Some([lo, hi]) = &mut e.range {
                *lo = lo.min(c.value);
                *hi = hi.max(c.value);
            }
        }
    }
    p.costs.calibrated = true;
    let body = serde_yaml_ng::to_string(&p).map_err(|e| e.to_string())?;
    let mut out = format!(
        "# Controller profile with CPU and memory costs fitted by `enisim calibrate` from {source}\n# (non-negative least squares over {} windows):\n",
        fit.windows
    );
    for c in &fit.costs {
        out.push_str(&format!(
            "#   {} = {:.4} ± {:.4} (standard error)\n",
            c.name, c.value, c.standard_error
        ));
    }
    out.push_str(&body);
    crate::controller::ControllerProfile::from_str(Path::new("controller.yaml"), &out)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nnls_matches_least_squares_inside_and_clips_outside() {
        let a = DMatrix::from_row_slice(4, 2, &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0, 1.0]);
        let truth = DVector::from_vec(vec![2.0, 3.0]);
        let x = nnls(&a, &(&a * &truth));
        assert!((x - truth).norm() < 1e-9);
        // b wants a negative second coefficient: it is clipped to 0.
        let b = DVector::from_vec(vec![1.0, -1.0, 0.0, 1.0]);
        let x = nnls(&a, &b);
        assert!(x[1] == 0.0 && x[0] > 0.0, "{x}");
    }
}
