//! The reconstruction's assumptions (`models/workload/reconstruction.yaml`, embedded;
//! another copy by path): what a trail cannot say about the NodeENI workload, chosen and
//! said, with its plausible range — loaded and checked as the profiles in `models/` are.

use crate::input::{parse_yaml, read_text, InputError};
use crate::plausible::{validate_section, NamedValue, PlausibleSection};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::LazyLock;

pub const EMBEDDED_PATH: &str = "models/workload/reconstruction.yaml";
const EMBEDDED: &str = include_str!("../../models/workload/reconstruction.yaml");

/// The longest `busy_gap_s` accepted: a day (a longer silence is no busy period).
const MAX_BUSY_GAP_S: f64 = 86_400.0;

/// The assumptions of [`crate::workload::RecordedWorkload::from_trail`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reconstruction {
    /// The longest silence (s) between two of the controller's calls inside one busy
    /// period; a NodeENI is created when the busy period holding its first Create began.
    pub busy_gap_s: f64,
    /// Plausible ranges, keyed `workload.<field>`.
    #[serde(default, skip_serializing_if = "PlausibleSection::is_empty")]
    pub plausible: PlausibleSection,
}

static PARSED: LazyLock<Reconstruction> = LazyLock::new(|| {
    Reconstruction::from_str(Path::new(EMBEDDED_PATH), EMBEDDED)
        .unwrap_or_else(|e| panic!("the embedded reconstruction settings are invalid: {e}"))
});

impl Reconstruction {
    /// The settings embedded in the binary (parsed once).
    pub fn embedded() -> Reconstruction {
        PARSED.clone()
    }

    pub fn load(path: &Path) -> Result<Reconstruction, InputError> {
        let text = read_text(path)?;
        Self::from_str(path, &text)
    }

    /// Parses and checks `text`; an error names `file`, the line and the key.
    pub fn from_str(file: &Path, text: &str) -> Result<Reconstruction, InputError> {
        let r: Reconstruction = parse_yaml(file, text)?;
        if !(r.busy_gap_s.is_finite() && (0.0..=MAX_BUSY_GAP_S).contains(&r.busy_gap_s)) {
            return Err(InputError::for_yaml_key(
                file,
                text,
                "busy_gap_s",
                format!(
                    "must be a number of seconds ≥ 0 and at most {MAX_BUSY_GAP_S} (a day), got {}",
                    r.busy_gap_s
                ),
            ));
        }
        validate_section(file, text, &r.plausible, |n| r.named(n))?;
        Ok(r)
    }

    /// The value a plausible-range name stands for.
    pub fn named(&self, name: &str) -> Result<NamedValue, String> {
        match name {
            "workload.busy_gap_s" => Ok(NamedValue::Number(self.busy_gap_s)),
            _ => Err(format!(
                "unknown reconstruction setting {name:?}; known: workload.busy_gap_s"
            )),
        }
    }

    /// `busy_gap_s` in nanoseconds.
    pub(crate) fn busy_gap_ns(&self) -> i64 {
        (self.busy_gap_s * 1e9).round() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_settings_load_with_their_range() {
        let r = Reconstruction::embedded();
        assert_eq!(r.busy_gap_s, 10.0);
        assert_eq!(r.busy_gap_ns(), 10_000_000_000);
        let p = &r.plausible["workload.busy_gap_s"];
        assert_eq!(p.range, Some([5.0, 30.0]));
        assert!(p.why.starts_with("assumption"), "{}", p.why);
    }

    #[test]
    fn a_bad_value_names_the_file_line_and_key() {
        let f = Path::new("r.yaml");
        for (text, line, key, says) in [
            ("# c\nbusy_gap_s: -1\n", 2, "busy_gap_s", "≥ 0"),
            ("busy_gap_s: 1e9\n", 1, "busy_gap_s", "a day"),
            ("busy_gap_s: ten\n", 1, "busy_gap_s", "invalid type"),
            ("busy_gap_s: 10\nbusy_gap: 3\n", 2, "", "unknown field"),
            (
                "busy_gap_s: 10\nplausible:\n  workload.gap_s: { range: [1, 2], why: x }\n",
                3,
                "plausible.workload.gap_s",
                "unknown reconstruction setting",
            ),
            (
                "busy_gap_s: 10\nplausible:\n  workload.busy_gap_s: { range: [9, 2], why: x }\n",
                3,
                "plausible.workload.busy_gap_s",
                "low ≤ high",
            ),
        ] {
            let e = Reconstruction::from_str(f, text).unwrap_err();
            assert_eq!(e.file, f);
            assert_eq!(e.line, Some(line), "{text}: {e}");
            if !key.is_empty() {
                assert_eq!(e.key.as_deref(), Some(key), "{text}: {e}");
            }
            assert!(e.to_string().contains(says), "{text}: {e}");
        }
    }
}
