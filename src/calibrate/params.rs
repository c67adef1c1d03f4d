//! The parameter registry: every value of the model a calibration fits or a sensitivity
//! analysis varies, by one name scheme over both profiles (`ec2.…` in `aws::named`,
//! `controller.…` in `controller::named`), with get/set on a (model, settings) pair and the
//! plausible range or alternatives the profiles give beside the assumed values.

use crate::aws::Ec2Profile;
use crate::controller::ControllerProfile;
use crate::plausible::{NamedValue, Plausible};
use crate::scenario::{Model, Settings};

/// What a parameter may take.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Domain {
    /// A number in `[low, high]`.
    Range { low: f64, high: f64 },
    /// A structural switch: one of these spellings.
    Alternatives(Vec<String>),
}

/// One registered parameter: an assumption with its plausible domain.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ParamSpec {
    pub name: String,
    /// The profile's value (the assumption, or what a calibration set).
    pub value: NamedValue,
    pub domain: Domain,
    /// The reason for the domain, from the profile.
    pub why: String,
}

impl ParamSpec {
    pub fn is_switch(&self) -> bool {
        matches!(self.domain, Domain::Alternatives(_))
    }

    /// `[low, high]` of a numeric parameter.
    pub fn range(&self) -> Option<(f64, f64)> {
        match self.domain {
            Domain::Range { low, high } => Some((low, high)),
            Domain::Alternatives(_) => None,
        }
    }

    /// The alternatives of a switch, the current one first.
    pub fn alternatives(&self) -> Vec<NamedValue> {
        match &self.domain {
            Domain::Range { .. } => Vec::new(),
            Domain::Alternatives(alts) => {
                let cur = self.value.to_string();
                let mut out = vec![NamedValue::Choice(cur.clone())];
                out.extend(
                    alts.iter()
                        .filter(|a| **a != cur)
                        .map(|a| NamedValue::Choice(a.clone())),
                );
                out
            }
        }
    }
}

/// A name the registry does not know, or a value the profile refuses.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    #[error("unknown parameter {name:?} (nearest: {nearest})")]
    Unknown { name: String, nearest: String },
    #[error("{name}: {reason}")]
    Invalid { name: String, reason: String },
}

/// The registered parameters of a (model, settings) pair: every entry of the two profiles'
/// `plausible:` sections, EC2 first, each section in name order.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Registry {
    pub params: Vec<ParamSpec>,
}

fn spec(name: &str, value: NamedValue, p: &Plausible) -> ParamSpec {
    let domain = match (&p.range, &p.alternatives) {
        // Widened to hold the profile's own value (an edited or calibrated profile).
        (Some([low, high]), _) => {
            let v = value.as_f64().unwrap_or(*low);
            Domain::Range {
                low: low.min(v),
                high: high.max(v),
            }
        }
        (None, Some(alts)) => Domain::Alternatives(alts.clone()),
        // Validated at load: exactly one of the two.
        (None, None) => Domain::Alternatives(vec![value.to_string()]),
    };
    ParamSpec {
        name: name.to_string(),
        value,
        domain,
        why: p.why.clone(),
    }
}

impl Registry {
    pub fn of(model: &Model, settings: &Settings) -> Registry {
        Self::of_profiles(&model.ec2, &settings.controller)
    }

    pub fn of_profiles(ec2: &Ec2Profile, controller: &ControllerProfile) -> Registry {
        let mut params = Vec::new();
        for (n, p) in &ec2.plausible {
            if let Ok(v) = ec2.named(n) {
                params.push(spec(n, v, p));
            }
        }
        for (n, p) in &controller.plausible {
            if let Ok(v) = controller.named(n) {
                params.push(spec(n, v, p));
            }
        }
        Registry { params }
    }

    pub fn get(&self, name: &str) -> Option<&ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }

    /// The numeric parameters (calibration's and a tornado's continuous axes).
    pub fn numeric(&self) -> impl Iterator<Item = &ParamSpec> {
        self.params.iter().filter(|p| !p.is_switch())
    }

    /// The structural switches.
    pub fn switches(&self) -> impl Iterator<Item = &ParamSpec> {
        self.params.iter().filter(|p| p.is_switch())
    }
}

/// Every name either profile has a value for (registered or not).
pub fn all_names(model: &Model, settings: &Settings) -> Vec<String> {
    let mut v = model.ec2.names();
    v.extend(settings.controller.names());
    v
}

fn unknown(model: &Model, settings: &Settings, name: &str) -> ParamError {
    let nearest = all_names(model, settings)
        .into_iter()
        .max_by(|a, b| {
            strsim::jaro_winkler(a, name)
                .total_cmp(&strsim::jaro_winkler(b, name))
                .then_with(|| b.cmp(a))
        })
        .unwrap_or_default();
    ParamError::Unknown {
        name: name.to_string(),
        nearest,
    }
}

/// The value of parameter `name`.
pub fn get(model: &Model, settings: &Settings, name: &str) -> Result<NamedValue, ParamError> {
    let r = if name.starts_with("ec2.") {
        model.ec2.named(name)
    } else if name.starts_with("controller.") {
        settings.controller.named(name)
    } else {
        return Err(unknown(model, settings, name));
    };
    r.map_err(|_| unknown(model, settings, name))
}

/// Sets parameter `name` (a lognormal median keeps its p99/median ratio; see
/// `aws::named`). On error nothing changed.
pub fn set(
    model: &mut Model,
    settings: &mut Settings,
    name: &str,
    value: &NamedValue,
) -> Result<(), ParamError> {
    get(model, settings, name)?;
    let r = if name.starts_with("ec2.") {
        model.ec2.set_named(name, value)
    } else {
        settings.controller.set_named(name, value)
    };
    r.map_err(|reason| ParamError::Invalid {
        name: name.to_string(),
        reason,
    })
}

/// Sets several numeric parameters at once (a point θ of a calibration).
pub fn set_all(
    model: &mut Model,
    settings: &mut Settings,
    values: &[(String, f64)],
) -> Result<(), ParamError> {
    for (n, v) in values {
        set(model, settings, n, &NamedValue::Number(*v))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::ScenarioSpec;

    fn base() -> (Model, Settings) {
        let s = Settings::new(
            ControllerProfile::embedded(),
            ScenarioSpec::embedded("burst").unwrap(),
        );
        (Model::embedded(), s)
    }

    #[test]
    fn registry_holds_assumptions_with_ranges_and_switches() {
        let (m, s) = base();
        let r = Registry::of(&m, &s);
        let p = r
            .get("ec2.latency.CreateNetworkInterface.median_ms")
            .unwrap();
        assert_eq!(p.value, NamedValue::Number(150.0));
        assert!(p.range().is_some_and(|(lo, hi)| lo < 150.0 && hi > 150.0));
        let sw: Vec<&str> = r.switches().map(|p| p.name.as_str()).collect();
        for n in [
            "ec2.throttling.layout",
            "ec2.throttling.refill",
            "ec2.throttling.describe_by_id_is_filtered",
            "controller.behaviour.self_trigger",
        ] {
            assert!(sw.contains(&n), "{n} in {sw:?}");
        }
        let refill = r.get("ec2.throttling.refill").unwrap();
        assert_eq!(
            refill.alternatives(),
            vec![
                NamedValue::Choice("continuous".into()),
                NamedValue::Choice("per-second-tick".into())
            ]
        );
        assert!(r.get("controller.costs.cpu_ms_per_reconcile").is_some());
        // Every assumption that is a number is in its own range.
        for p in r.numeric() {
            let (lo, hi) = p.range().unwrap();
            let v = p.value.as_f64().unwrap();
            assert!(lo <= v && v <= hi, "{}", p.name);
        }
    }

    #[test]
    fn get_and_set_across_both_profiles() {
        let (mut m, mut s) = base();
        set(
            &mut m,
            &mut s,
            "ec2.bucket.AttachNetworkInterface.refill_per_s",
            &NamedValue::Number(2.0),
        )
        .unwrap();
        assert_eq!(
            m.ec2.throttling.actions["AttachNetworkInterface"].refill_per_s,
            2.0
        );
        set_all(
            &mut m,
            &mut s,
            &[("controller.costs.cpu_ms_per_ec2_attempt".into(), 3.0)],
        )
        .unwrap();
        assert_eq!(s.controller.costs.cpu_ms_per_ec2_attempt, 3.0);
        match get(&m, &s, "ec2.latency.CreateNetworkInterface.median") {
            Err(ParamError::Unknown { nearest, .. }) => {
                assert!(
                    nearest.starts_with("ec2.latency.CreateNetworkInterface."),
                    "{nearest}"
                )
            }
            other => panic!("{other:?}"),
        }
        let e = set(
            &mut m,
            &mut s,
            "ec2.error_probability.CreateNetworkInterface",
            &NamedValue::Number(2.0),
        );
        assert!(matches!(e, Err(ParamError::Invalid { .. })), "{e:?}");
    }
}
