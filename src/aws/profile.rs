//! The EC2 profile: buckets, service times, attachment state delays, faults and other
//! tenants, as data (`models/aws/ec2-default.yaml`, embedded; overridable by path).

use super::action::{Action, Category};
use super::bucket::RefillMode;
use crate::engine::Distribution;
use crate::input::{parse_yaml, read_text, InputError};
use crate::plausible::{validate_section, PlausibleSection};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

pub const EMBEDDED_PATH: &str = "models/aws/ec2-default.yaml";
const EMBEDDED: &str = include_str!("../../models/aws/ec2-default.yaml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum BucketLayout {
    /// "each API is evaluated individually" (current AWS doc).
    #[default]
    PerAction,
    /// One shared bucket per category (older revisions of the doc).
    PerCategory,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketSpec {
    pub max: f64,
    pub refill_per_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Throttling {
    #[serde(default)]
    pub layout: BucketLayout,
    #[serde(default)]
    pub refill: RefillMode,
    /// Is a describe naming ids (no filter, no pagination) "filtered"? (aws-ec2.md §1,
    /// open ambiguity; assumption.)
    pub describe_by_id_is_filtered: bool,
    /// Per-action buckets (per-action layout).
    pub actions: BTreeMap<String, BucketSpec>,
    /// Buckets for unfiltered, unpaginated describes (per-action layout).
    #[serde(default)]
    pub unfiltered: BTreeMap<String, BucketSpec>,
    /// Category buckets (per-category layout).
    #[serde(default)]
    pub categories: BTreeMap<Category, BucketSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    /// How long a throttled (or outage-rejected) attempt takes to come back, for actions
    /// not listed in `rejected_actions`.
    pub rejected: Distribution,
    /// Per-action latency of a throttled (or outage-rejected) attempt.
    #[serde(default)]
    pub rejected_actions: BTreeMap<String, Distribution>,
    /// Service time per action, for actions not listed `default`.
    pub default: Distribution,
    #[serde(default)]
    pub actions: BTreeMap<String, Distribution>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentDelays {
    /// attaching → attached, after the Attach call returns.
    pub attach: Distribution,
    /// detaching → available, after the Detach call returns.
    pub detach: Distribution,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    pub start_s: f64,
    pub end_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThrottleStorm {
    pub action: String,
    pub start_s: f64,
    pub end_s: f64,
    pub rate_per_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// Probability that an admitted call fails with InternalError (HTTP 500).
    #[serde(default)]
    pub error_probability: BTreeMap<String, f64>,
    /// Windows in which every call fails with 503 Unavailable.
    #[serde(default)]
    pub outages: Vec<Window>,
    /// Windows of extra load from other tenants on one action's bucket.
    #[serde(default)]
    pub throttle_storms: Vec<ThrottleStorm>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    pub name: String,
    pub action: String,
    pub rate_per_s: f64,
    #[serde(default = "yes")]
    pub filtered: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ec2Profile {
    pub throttling: Throttling,
    pub latency: Latency,
    pub attachment: AttachmentDelays,
    #[serde(default)]
    pub faults: Faults,
    #[serde(default)]
    pub background: Vec<Tenant>,
    /// How far each assumed value could plausibly be from the truth, and why, keyed by
    /// the names of `aws::named` (`ec2.latency.<Action>.median_ms`, …): calibration's
    /// bounds and priors, sensitivity's ranges.
    #[serde(default, skip_serializing_if = "PlausibleSection::is_empty")]
    pub plausible: PlausibleSection,
}

impl Faults {
    /// Checks action names, probabilities and windows; keys are under `prefix`.
    pub fn validate(&self, prefix: &str) -> Result<(), (String, String)> {
        for (name, p) in &self.error_probability {
            let key = format!("{prefix}.error_probability.{name}");
            if name != "*" {
                action(&key, name)?;
            }
            if !(0.0..=1.0).contains(p) {
                return Err((key, format!("a probability must lie in [0, 1], got {p}")));
            }
        }
        for (i, w) in self.outages.iter().enumerate() {
            window(&format!("{prefix}.outages[{i}]"), w.start_s, w.end_s)?;
        }
        for (i, s) in self.throttle_storms.iter().enumerate() {
            let key = format!("{prefix}.throttle_storms[{i}]");
            action(&format!("{key}.action"), &s.action)?;
            window(&key, s.start_s, s.end_s)?;
            if !(s.rate_per_s.is_finite() && s.rate_per_s >= 0.0) {
                return Err((
                    format!("{key}.rate_per_s"),
                    format!("must be ≥ 0, got {}", s.rate_per_s),
                ));
            }
        }
        Ok(())
    }

    /// When the last fault window ends, in seconds (0 without windows).
    pub fn last_window_end_s(&self) -> f64 {
        self.outages
            .iter()
            .map(|w| w.end_s)
            .chain(self.throttle_storms.iter().map(|s| s.end_s))
            .fold(0.0, f64::max)
    }
}

impl Ec2Profile {
    /// The profile embedded in the binary.
    pub fn embedded() -> Ec2Profile {
        Self::from_str(Path::new(EMBEDDED_PATH), EMBEDDED)
            .unwrap_or_else(|e| panic!("the embedded EC2 profile is invalid: {e}"))
    }

    pub fn load(path: &Path) -> Result<Ec2Profile, InputError> {
        let text = read_text(path)?;
        Self::from_str(path, &text)
    }

    pub fn from_str(file: &Path, text: &str) -> Result<Ec2Profile, InputError> {
        let p: Ec2Profile = parse_yaml(file, text)?;
        p.validate()
            .map_err(|(key, msg)| InputError::for_yaml_key(file, text, &key, msg))?;
        validate_section(file, text, &p.plausible, |n| p.named(n))?;
        Ok(p)
    }

    pub fn latency_for(&self, action: Action) -> &Distribution {
        self.latency
            .actions
            .get(action.name())
            .unwrap_or(&self.latency.default)
    }

    /// Checks everything serde cannot: action names, signs, windows, probabilities.
    /// The error is (dotted key, message).
    pub fn validate(&self) -> Result<(), (String, String)> {
        fn bucket(key: &str, b: &BucketSpec) -> Result<(), (String, String)> {
            if !(b.max.is_finite() && b.max >= 1.0) {
                return Err((format!("{key}.max"), format!("must be ≥ 1, got {}", b.max)));
            }
            if !(b.refill_per_s.is_finite() && b.refill_per_s >= 0.0) {
                return Err((
                    format!("{key}.refill_per_s"),
                    format!("must be ≥ 0, got {}", b.refill_per_s),
                ));
            }
            Ok(())
        }
        fn dist(key: &str, d: &Distribution) -> Result<(), (String, String)> {
            d.validate().map_err(|m| (key.to_string(), m))
        }
        let t = &self.throttling;
        for (name, b) in &t.actions {
            let key = format!("throttling.actions.{name}");
            action(&key, name)?;
            bucket(&key, b)?;
        }
        for (name, b) in &t.unfiltered {
            let key = format!("throttling.unfiltered.{name}");
            action(&key, name)?;
            bucket(&key, b)?;
        }
        for (cat, b) in &t.categories {
            bucket(&format!("throttling.categories.{cat:?}"), b)?;
        }
        if t.layout == BucketLayout::PerCategory {
            for cat in [
                Category::NonMutating,
                Category::UnfilteredNonMutating,
                Category::Mutating,
            ] {
                if !t.categories.contains_key(&cat) {
                    return Err((
                        "throttling.categories".into(),
                        format!("the per-category layout needs a bucket for {cat:?}"),
                    ));
                }
            }
        }
        dist("latency.rejected", &self.latency.rejected)?;
        dist("latency.default", &self.latency.default)?;
        for (name, d) in &self.latency.rejected_actions {
            let key = format!("latency.rejected_actions.{name}");
            action(&key, name)?;
            dist(&key, d)?;
        }
        for (name, d) in &self.latency.actions {
            let key = format!("latency.actions.{name}");
            action(&key, name)?;
            dist(&key, d)?;
        }
        dist("attachment.attach", &self.attachment.attach)?;
        dist("attachment.detach", &self.attachment.detach)?;
        self.faults.validate("faults")?;
        for (i, b) in self.background.iter().enumerate() {
            let key = format!("background[{i}]");
            action(&format!("{key}.action"), &b.action)?;
            if !(b.rate_per_s.is_finite() && b.rate_per_s >= 0.0) {
                return Err((
                    format!("{key}.rate_per_s"),
                    format!("must be ≥ 0, got {}", b.rate_per_s),
                ));
            }
        }
        Ok(())
    }
}

fn action(key: &str, name: &str) -> Result<Action, (String, String)> {
    Action::from_name(name).ok_or_else(|| {
        (
            key.to_string(),
            format!("unknown EC2 action {name:?}; known: {}", known_actions()),
        )
    })
}

fn window(key: &str, start: f64, end: f64) -> Result<(), (String, String)> {
    if !(start.is_finite() && start >= 0.0) {
        return Err((
            format!("{key}.start_s"),
            format!("must be ≥ 0, got {start}"),
        ));
    }
    if !(end.is_finite() && end > start) {
        return Err((
            format!("{key}.end_s"),
            format!("the window ends ({end}) before it starts ({start})"),
        ));
    }
    Ok(())
}

fn known_actions() -> String {
    super::action::ALL_ACTIONS
        .iter()
        .map(|a| a.name())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_profile_loads_with_documented_buckets() {
        let p = Ec2Profile::embedded();
        let attach = p.throttling.actions["AttachNetworkInterface"];
        assert_eq!((attach.max, attach.refill_per_s), (50.0, 5.0));
        let create = p.throttling.actions["CreateNetworkInterface"];
        assert_eq!((create.max, create.refill_per_s), (100.0, 5.0));
    }

    fn err(text: &str) -> InputError {
        Ec2Profile::from_str(Path::new("p.yaml"), text).unwrap_err()
    }

    #[test]
    fn negative_rate_names_the_key_and_line() {
        let text = EMBEDDED.replace(
            "AttachNetworkInterface: { max: 50, refill_per_s: 5 }",
            "AttachNetworkInterface: { max: 50, refill_per_s: -5 }",
        );
        assert_ne!(text, EMBEDDED);
        let e = err(&text);
        assert_eq!(
            e.key.as_deref(),
            Some("throttling.actions.AttachNetworkInterface.refill_per_s")
        );
        assert!(e.line.is_some());
    }

    #[test]
    fn plausible_entries_are_checked_by_name_and_range() {
        let p = Ec2Profile::embedded();
        assert!(p
            .plausible
            .contains_key("ec2.latency.CreateNetworkInterface.median_ms"));
        let text =
            format!("{EMBEDDED}  ec2.latency.Bogus.median_ms: {{ range: [1, 2], why: x }}\n");
        let e = err(&text);
        assert_eq!(
            e.key.as_deref(),
            Some("plausible.ec2.latency.Bogus.median_ms")
        );
        assert_eq!(e.line, Some(text.lines().count()), "{e}");
        let text =
            format!("{EMBEDDED}  ec2.latency.CreateTags.median_ms: {{ range: [2, 1], why: x }}\n");
        assert!(err(&text).message.contains("low ≤ high"), "{}", err(&text));
    }

    #[test]
    fn unknown_distribution_and_unknown_key_are_rejected() {
        let text = EMBEDDED.replacen("lognormal:", "weibull:", 1);
        assert!(err(&text).message.contains("unknown variant `weibull`"));
        let text = format!("{EMBEDDED}\nsurprise: 1\n");
        assert!(err(&text).message.contains("unknown field `surprise`"));
        assert!(err("[1, 2").line.is_some());
    }
}
