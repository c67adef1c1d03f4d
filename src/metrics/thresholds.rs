//! Threshold verdicts (`models/thresholds.yaml`, embedded; overridable by path).

use crate::input::{parse_yaml, read_text, InputError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

pub const EMBEDDED_PATH: &str = "models/thresholds.yaml";
const EMBEDDED: &str = include_str!("../../models/thresholds.yaml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Acceptable,
    Degraded,
    Warning,
    Critical,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Acceptable => "acceptable",
            Verdict::Degraded => "degraded",
            Verdict::Warning => "warning",
            Verdict::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    pub label: String,
    pub unit: String,
    pub acceptable: f64,
    #[serde(default)]
    pub warning: Option<f64>,
    #[serde(default)]
    pub critical: Option<f64>,
    /// Judged at all (default true). The AWS API metrics ship disabled: the plan's
    /// thresholds are on ENI operations, and a user opts into a throttling budget.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

impl Threshold {
    pub fn judge(&self, value: f64) -> Verdict {
        if value < self.acceptable {
            return Verdict::Acceptable;
        }
        if self.critical.is_some_and(|c| value > c) {
            return Verdict::Critical;
        }
        if self.warning.is_some_and(|w| value > w) {
            return Verdict::Warning;
        }
        if self.warning.is_none() && self.critical.is_none() {
            return Verdict::Warning;
        }
        Verdict::Degraded
    }

    pub fn describe(&self) -> String {
        let mut s = format!("< {} {}", fmt_num(self.acceptable), self.unit);
        if let Some(w) = self.warning {
            s.push_str(&format!(", warn > {}", fmt_num(w)));
        }
        if let Some(c) = self.critical {
            s.push_str(&format!(", crit > {}", fmt_num(c)));
        }
        s
    }
}

/// The metrics a threshold can name: every numeric field of a run's metrics.
pub fn judgeable_metrics() -> Vec<String> {
    super::summary::metric_values(&super::RunMetrics::default())
        .into_keys()
        .filter(|k| !k.ends_with("_censored"))
        .collect()
}

fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub metrics: BTreeMap<String, Threshold>,
}

impl Thresholds {
    pub fn embedded() -> Thresholds {
        Self::from_str(Path::new(EMBEDDED_PATH), EMBEDDED)
            .unwrap_or_else(|e| panic!("the embedded thresholds are invalid: {e}"))
    }

    /// The thresholds that are judged (`enabled`), by metric name.
    pub fn judged(&self) -> impl Iterator<Item = (&String, &Threshold)> {
        self.metrics.iter().filter(|(_, t)| t.enabled)
    }

    pub fn load(path: &Path) -> Result<Thresholds, InputError> {
        let text = read_text(path)?;
        Self::from_str(path, &text)
    }

    pub fn from_str(file: &Path, text: &str) -> Result<Thresholds, InputError> {
        let t: Thresholds = parse_yaml(file, text)?;
        if t.metrics.is_empty() {
            return Err(InputError::new(
                file,
                format!(
                    "no metrics to judge: a thresholds file needs at least one entry under `metrics:` (for example eni_creation_p95_s; the embedded {EMBEDDED_PATH} lists them all)"
                ),
            )
            .with_key("metrics"));
        }
        if !t.metrics.values().any(|m| m.enabled) {
            return Err(InputError::new(
                file,
                "every metric is `enabled: false`: nothing would be judged",
            )
            .with_key("metrics"));
        }
        let known = judgeable_metrics();
        for (name, th) in &t.metrics {
            let key = format!("metrics.{name}");
            if !known.iter().any(|k| k == name) {
                let nearest = known
                    .iter()
                    .max_by(|a, b| {
                        strsim::jaro_winkler(a, name).total_cmp(&strsim::jaro_winkler(b, name))
                    })
                    .cloned()
                    .unwrap_or_default();
                return Err(InputError::for_yaml_key(
                    file,
                    text,
                    &key,
                    format!(
                        "unknown metric {name:?}; did you mean {nearest:?}? (`enisim run --format json` lists every metric under summary.metrics)"
                    ),
                ));
            }
            let ordered = th.warning.is_none_or(|w| w >= th.acceptable)
                && th
                    .critical
                    .is_none_or(|c| c >= th.warning.unwrap_or(th.acceptable));
            if !th.acceptable.is_finite() || !ordered {
                return Err(InputError::for_yaml_key(
                    file,
                    text,
                    &key,
                    "levels must rise: acceptable ≤ warning ≤ critical",
                ));
            }
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        let t = Thresholds::embedded();
        let c = &t.metrics["eni_creation_p95_s"];
        assert_eq!(c.judge(29.9), Verdict::Acceptable);
        assert_eq!(c.judge(40.0), Verdict::Degraded);
        assert_eq!(c.judge(50.0), Verdict::Warning);
        assert_eq!(c.judge(61.0), Verdict::Critical);
        let a = &t.metrics["eni_attachment_p95_s"];
        assert_eq!(a.judge(16.0), Verdict::Warning);
        assert!(!t.metrics["ec2_throttled_percent"].enabled);
    }

    #[test]
    fn unknown_or_missing_metrics_are_errors() {
        let p = Path::new("t.yaml");
        let e = Thresholds::from_str(
            p,
            "metrics:\n  eni_creation_p59_s:\n    label: x\n    unit: s\n    acceptable: 30\n",
        )
        .unwrap_err();
        assert!(e.message.contains("\"eni_creation_p95_s\""), "{e}");
        assert_eq!(e.line, Some(2));
        let e = Thresholds::from_str(p, "metrics: {}\n").unwrap_err();
        assert!(e.message.contains("no metrics"), "{e}");
        let e = Thresholds::from_str(
            p,
            "metrics:\n  error_rate_percent: {label: x, unit: \"%\", acceptable: 1, enabled: false}\n",
        )
        .unwrap_err();
        assert!(e.message.contains("nothing would be judged"), "{e}");
    }
}
