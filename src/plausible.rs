//! Plausible ranges of the model's assumed values: the `plausible:` section of a profile in
//! `models/`, keyed by the parameter names of `calibrate::params` (`ec2.latency.…`,
//! `controller.costs.…`). Each entry says how far the value could be from the truth and why;
//! calibration uses them as bounds and priors, sensitivity analysis as the range to vary.
//!
//! ```yaml
//! plausible:
//!   ec2.latency.CreateNetworkInterface.median_ms: { range: [50, 450], why: "…" }
//!   ec2.throttling.refill: { alternatives: [continuous, per-second-tick], why: "…" }
//! ```

use crate::input::InputError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// One entry: a numeric range or a set of named alternatives, with its reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plausible {
    /// `[low, high]`, inclusive, in the value's own unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<[f64; 2]>,
    /// The discrete alternatives of a structural switch (the value's spellings in the
    /// profile, e.g. `continuous`, `per-second-tick`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternatives: Option<Vec<String>>,
    /// Why the range is what it is (its source, or "assumption" and the reasoning).
    pub why: String,
}

/// The `plausible:` section: parameter name → entry.
pub type PlausibleSection = BTreeMap<String, Plausible>;

/// A named value of a profile: a number or one of a switch's alternatives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NamedValue {
    Number(f64),
    Choice(String),
}

impl NamedValue {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            NamedValue::Number(x) => Some(*x),
            NamedValue::Choice(_) => None,
        }
    }
}

impl std::fmt::Display for NamedValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NamedValue::Number(x) => write!(f, "{x}"),
            NamedValue::Choice(s) => f.write_str(s),
        }
    }
}

impl Plausible {
    /// Checks the entry's shape and that it fits the kind of `current` (number or switch).
    pub fn validate(&self, current: &NamedValue) -> Result<(), String> {
        if self.why.trim().is_empty() {
            return Err("`why` must give the reason for the range".into());
        }
        match (&self.range, &self.alternatives, current) {
            (Some([lo, hi]), None, NamedValue::Number(v)) => {
                if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
                    return Err(format!("range [{lo}, {hi}] must be finite with low ≤ high"));
                }
                // A value outside its range is the user's to set (a profile edited for a
                // what-if, a calibrated value): the range is widened to hold it where used.
                let _ = v;
                Ok(())
            }
            (None, Some(alts), NamedValue::Choice(c)) => {
                if alts.len() < 2 {
                    return Err("a switch needs at least two alternatives".into());
                }
                if !alts.contains(c) {
                    return Err(format!(
                        "the profile's value {c:?} is not among the alternatives {alts:?}"
                    ));
                }
                Ok(())
            }
            (Some(_), Some(_), _) | (None, None, _) => {
                Err("give exactly one of `range` and `alternatives`".into())
            }
            (Some(_), None, NamedValue::Choice(_)) => {
                Err("this value is a switch: give `alternatives`, not `range`".into())
            }
            (None, Some(_), NamedValue::Number(_)) => {
                Err("this value is a number: give `range`, not `alternatives`".into())
            }
        }
    }
}

/// Checks every entry of a profile's `plausible:` section: the name must be one of the
/// profile's values (`lookup`), the entry well formed and holding the current value. The
/// error names the file, the entry's line and the key.
pub fn validate_section(
    file: &Path,
    text: &str,
    section: &PlausibleSection,
    lookup: impl Fn(&str) -> Result<NamedValue, String>,
) -> Result<(), InputError> {
    for (name, entry) in section {
        let at = |msg: String| {
            let mut e = InputError::new(file, msg).with_key(format!("plausible.{name}"));
            e.line = line_of_entry(text, name);
            e
        };
        let current = lookup(name).map_err(at)?;
        entry.validate(&current).map_err(at)?;
    }
    Ok(())
}

/// The 1-based line of `name:` inside the top-level `plausible:` block (names hold dots,
/// so the dotted-path locator of `input` cannot find them).
pub fn line_of_entry(text: &str, name: &str) -> Option<usize> {
    let mut inside = false;
    for (i, line) in text.lines().enumerate() {
        if !line.starts_with(' ') && !line.starts_with('#') && !line.trim().is_empty() {
            inside = line.trim_end().starts_with("plausible:");
            continue;
        }
        if inside {
            let t = line.trim_start();
            let key = t.split(':').next().unwrap_or("").trim_matches(['"', '\'']);
            if key == name {
                return Some(i + 1);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(lo: f64, hi: f64) -> Plausible {
        Plausible {
            range: Some([lo, hi]),
            alternatives: None,
            why: "test".into(),
        }
    }

    #[test]
    fn entries_are_checked_for_shape_and_kind() {
        assert!(range(1.0, 3.0).validate(&NamedValue::Number(2.0)).is_ok());
        // A value outside its range is allowed (an edited or calibrated profile).
        assert!(range(1.0, 3.0).validate(&NamedValue::Number(5.0)).is_ok());
        assert!(range(3.0, 1.0).validate(&NamedValue::Number(2.0)).is_err());
        let alt = Plausible {
            range: None,
            alternatives: Some(vec!["a".into(), "b".into()]),
            why: "x".into(),
        };
        assert!(alt.validate(&NamedValue::Choice("a".into())).is_ok());
        assert!(alt.validate(&NamedValue::Choice("c".into())).is_err());
        assert!(alt.validate(&NamedValue::Number(1.0)).is_err());
    }

    #[test]
    fn entry_lines_are_found_under_the_section() {
        let text = "a:\n  x.y: 1\nplausible:\n  # c\n  x.y: { range: [1, 2], why: w }\n";
        assert_eq!(line_of_entry(text, "x.y"), Some(5));
        assert_eq!(line_of_entry(text, "x.z"), None);
    }
}
