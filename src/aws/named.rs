//! The EC2 profile's values by name — one scheme shared by calibration, sensitivity and the
//! profile's own `plausible:` section:
//!
//! | name | value |
//! |---|---|
//! | `ec2.latency.<Action>.median_ms` | service time median (scales the distribution: a lognormal keeps its p99/median ratio) |
//! | `ec2.latency.<Action>.p99_ms` | a lognormal service time's p99 (median kept) |
//! | `ec2.latency.default.…`, `ec2.latency.rejected.…` | the default service time; a rejected attempt's time |
//! | `ec2.bucket.<Action>.max`, `….refill_per_s` | per-action bucket |
//! | `ec2.bucket.unfiltered.<Action>.…` | unfiltered-describe bucket |
//! | `ec2.bucket.category.<category>.…` | per-category bucket (`non-mutating`, `mutating`, …) |
//! | `ec2.attach_delay.median_ms`, `ec2.detach_delay.median_ms` | attaching → attached, detaching → available (scaled) |
//! | `ec2.tenant.<Action>.rate_per_s` | other tenants' calls per second on the action (all of them) |
//! | `ec2.error_probability.<Action>` | probability an admitted call fails with a server error |
//! | `ec2.throttling.layout` | switch: `per-action` or `per-category` |
//! | `ec2.throttling.refill` | switch: `continuous` or `per-second-tick` |
//! | `ec2.throttling.describe_by_id_is_filtered` | switch: `true` or `false` |
//!
//! An action without its own latency entry reads the default's; setting it gives the
//! action its own entry (a copy of the default, then changed).

use super::action::{Action, Category, ALL_ACTIONS};
use super::bucket::RefillMode;
use super::profile::{BucketLayout, BucketSpec, Ec2Profile, Tenant};
use crate::engine::Distribution;
use crate::plausible::NamedValue;

/// The name of the tenant a calibration adds for an action that had none.
pub const CALIBRATED_TENANT: &str = "calibrated";

const CATEGORIES: [(Category, &str); 4] = [
    (Category::NonMutating, "non-mutating"),
    (Category::UnfilteredNonMutating, "unfiltered-non-mutating"),
    (Category::Mutating, "mutating"),
    (Category::Uncategorized, "uncategorized"),
];

/// The three structural switches of the throttling model, with their alternatives.
pub const SWITCHES: [(&str, [&str; 2]); 3] = [
    ("ec2.throttling.layout", ["per-action", "per-category"]),
    ("ec2.throttling.refill", ["continuous", "per-second-tick"]),
    (
        "ec2.throttling.describe_by_id_is_filtered",
        ["true", "false"],
    ),
];

fn action(name: &str) -> Result<Action, String> {
    Action::from_name(name).ok_or_else(|| format!("unknown EC2 action {name:?}"))
}

fn category(name: &str) -> Result<Category, String> {
    CATEGORIES
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(c, _)| *c)
        .ok_or_else(|| {
            format!(
                "unknown category {name:?}; known: {}",
                CATEGORIES.map(|c| c.1).join(", ")
            )
        })
}

fn number(v: &NamedValue, name: &str) -> Result<f64, String> {
    match v {
        NamedValue::Number(x) if x.is_finite() => Ok(*x),
        _ => Err(format!("{name} takes a finite number, got {v}")),
    }
}

fn choice<'a>(v: &'a NamedValue, name: &str, alts: &[&str; 2]) -> Result<&'a str, String> {
    let s = match v {
        NamedValue::Choice(s) => s.as_str(),
        NamedValue::Number(_) => "",
    };
    if alts.contains(&s) {
        Ok(s)
    } else {
        Err(format!("{name} takes one of {alts:?}, got {v}"))
    }
}

enum Field {
    Median,
    P99,
}

fn dist_field(d: &Distribution, f: &Field) -> Result<f64, String> {
    match (f, d) {
        (Field::Median, d) => Ok(d.median_ms()),
        (Field::P99, Distribution::Lognormal { p99_ms, .. }) => Ok(*p99_ms),
        (Field::P99, _) => Err("p99_ms is a value of a lognormal distribution only".into()),
    }
}

fn set_dist_field(d: &mut Distribution, f: &Field, v: f64) -> Result<(), String> {
    if v.is_nan() || v <= 0.0 {
        return Err(format!("must be > 0, got {v}"));
    }
    match (f, &mut *d) {
        (Field::Median, _) => {
            let m = d.median_ms();
            if m.is_nan() || m <= 0.0 {
                return Err("a distribution with median 0 cannot be scaled".into());
            }
            *d = d.scaled(v / m);
        }
        (Field::P99, Distribution::Lognormal { median_ms, p99_ms }) => {
            if v < *median_ms {
                return Err(format!("p99 {v} below the median {median_ms}"));
            }
            *p99_ms = v;
        }
        (Field::P99, _) => return Err("p99_ms is a value of a lognormal distribution only".into()),
    }
    Ok(())
}

fn field(s: &str) -> Result<Field, String> {
    match s {
        "median_ms" => Ok(Field::Median),
        "p99_ms" => Ok(Field::P99),
        _ => Err(format!("expected median_ms or p99_ms, got {s:?}")),
    }
}

fn bucket_field(b: &BucketSpec, f: &str) -> Result<f64, String> {
    match f {
        "max" => Ok(b.max),
        "refill_per_s" => Ok(b.refill_per_s),
        _ => Err(format!("expected max or refill_per_s, got {f:?}")),
    }
}

fn set_bucket_field(b: &mut BucketSpec, f: &str, v: f64) -> Result<(), String> {
    match f {
        "max" if v >= 1.0 => b.max = v,
        "refill_per_s" if v >= 0.0 => b.refill_per_s = v,
        "max" => return Err(format!("must be ≥ 1, got {v}")),
        "refill_per_s" => return Err(format!("must be ≥ 0, got {v}")),
        _ => return Err(format!("expected max or refill_per_s, got {f:?}")),
    }
    Ok(())
}

impl Ec2Profile {
    /// The value called `name` (see the module documentation for the scheme).
    pub fn named(&self, name: &str) -> Result<NamedValue, String> {
        let unknown = || format!("unknown parameter name {name:?}");
        let rest = name.strip_prefix("ec2.").ok_or_else(unknown)?;
        let parts: Vec<&str> = rest.split('.').collect();
        let t = &self.throttling;
        let n = NamedValue::Number;
        Ok(match parts.as_slice() {
            ["latency", "default", f] => n(dist_field(&self.latency.default, &field(f)?)?),
            ["latency", "rejected", f] => n(dist_field(&self.latency.rejected, &field(f)?)?),
            ["latency", a, f] => n(dist_field(self.latency_for(action(a)?), &field(f)?)?),
            ["bucket", "unfiltered", a, f] => {
                action(a)?;
                n(bucket_field(
                    t.unfiltered
                        .get(*a)
                        .ok_or_else(|| format!("{a} has no unfiltered bucket in this profile"))?,
                    f,
                )?)
            }
            ["bucket", "category", c, f] => n(bucket_field(
                t.categories
                    .get(&category(c)?)
                    .ok_or_else(|| format!("category {c} has no bucket in this profile"))?,
                f,
            )?),
            ["bucket", a, f] => {
                action(a)?;
                n(bucket_field(
                    t.actions
                        .get(*a)
                        .ok_or_else(|| format!("{a} has no bucket in this profile"))?,
                    f,
                )?)
            }
            ["attach_delay", "median_ms"] => n(self.attachment.attach.median_ms()),
            ["detach_delay", "median_ms"] => n(self.attachment.detach.median_ms()),
            ["tenant", a, "rate_per_s"] => {
                action(a)?;
                n(self
                    .background
                    .iter()
                    .filter(|b| b.action == *a)
                    .map(|b| b.rate_per_s)
                    .sum())
            }
            ["error_probability", a] => {
                action(a)?;
                n(self
                    .faults
                    .error_probability
                    .get(*a)
                    .copied()
                    .unwrap_or(0.0))
            }
            ["throttling", "layout"] => NamedValue::Choice(
                match t.layout {
                    BucketLayout::PerAction => "per-action",
                    BucketLayout::PerCategory => "per-category",
                }
                .into(),
            ),
            ["throttling", "refill"] => NamedValue::Choice(
                match t.refill {
                    RefillMode::Continuous => "continuous",
                    RefillMode::PerSecondTick => "per-second-tick",
                }
                .into(),
            ),
            ["throttling", "describe_by_id_is_filtered"] => {
                NamedValue::Choice(t.describe_by_id_is_filtered.to_string())
            }
            _ => return Err(unknown()),
        })
    }

    /// Sets the value called `name`; the profile is still valid afterwards, or the error
    /// says why not and nothing changed.
    pub fn set_named(&mut self, name: &str, v: &NamedValue) -> Result<(), String> {
        let mut next = self.clone();
        next.set_named_unchecked(name, v)?;
        next.validate().map_err(|(k, m)| format!("{k}: {m}"))?;
        *self = next;
        Ok(())
    }

    fn set_named_unchecked(&mut self, name: &str, v: &NamedValue) -> Result<(), String> {
        let unknown = || format!("unknown parameter name {name:?}");
        let rest = name.strip_prefix("ec2.").ok_or_else(unknown)?;
        let parts: Vec<&str> = rest.split('.').collect();
        match parts.as_slice() {
            ["latency", "default", f] => {
                set_dist_field(&mut self.latency.default, &field(f)?, number(v, name)?)?
            }
            ["latency", "rejected", f] => {
                set_dist_field(&mut self.latency.rejected, &field(f)?, number(v, name)?)?
            }
            ["latency", a, f] => {
                let act = action(a)?;
                let mut d = self.latency_for(act).clone();
                set_dist_field(&mut d, &field(f)?, number(v, name)?)?;
                self.latency.actions.insert(act.name().to_string(), d);
            }
            ["bucket", "unfiltered", a, f] => {
                action(a)?;
                let b = self
                    .throttling
                    .unfiltered
                    .get_mut(*a)
                    .ok_or_else(|| format!("{a} has no unfiltered bucket in this profile"))?;
                set_bucket_field(b, f, number(v, name)?)?
            }
            ["bucket", "category", c, f] => {
                let b = self
                    .throttling
                    .categories
                    .get_mut(&category(c)?)
                    .ok_or_else(|| format!("category {c} has no bucket in this profile"))?;
                set_bucket_field(b, f, number(v, name)?)?
            }
            ["bucket", a, f] => {
                action(a)?;
                let b = self
                    .throttling
                    .actions
                    .get_mut(*a)
                    .ok_or_else(|| format!("{a} has no bucket in this profile"))?;
                set_bucket_field(b, f, number(v, name)?)?
            }
            ["attach_delay", "median_ms"] => set_dist_field(
                &mut self.attachment.attach,
                &Field::Median,
                number(v, name)?,
            )?,
            ["detach_delay", "median_ms"] => set_dist_field(
                &mut self.attachment.detach,
                &Field::Median,
                number(v, name)?,
            )?,
            ["tenant", a, "rate_per_s"] => {
                let act = action(a)?;
                let rate = number(v, name)?;
                if rate < 0.0 {
                    return Err(format!("must be ≥ 0, got {rate}"));
                }
                let total: f64 = self
                    .background
                    .iter()
                    .filter(|b| b.action == *a)
                    .map(|b| b.rate_per_s)
                    .sum();
                if total > 0.0 {
                    // Every tenant of the action keeps its share.
                    for b in self.background.iter_mut().filter(|b| b.action == *a) {
                        b.rate_per_s *= rate / total;
                    }
                } else {
                    self.background.retain(|b| b.action != *a);
                    if rate > 0.0 {
                        self.background.push(Tenant {
                            name: CALIBRATED_TENANT.into(),
                            action: act.name().into(),
                            rate_per_s: rate,
                            filtered: true,
                        });
                    }
                }
            }
            ["error_probability", a] => {
                let act = action(a)?;
                let p = number(v, name)?;
                if p == 0.0 {
                    self.faults.error_probability.remove(act.name());
                } else {
                    self.faults
                        .error_probability
                        .insert(act.name().to_string(), p);
                }
            }
            ["throttling", "layout"] => {
                self.throttling.layout = match choice(v, name, &SWITCHES[0].1)? {
                    "per-action" => BucketLayout::PerAction,
                    _ => BucketLayout::PerCategory,
                }
            }
            ["throttling", "refill"] => {
                self.throttling.refill = match choice(v, name, &SWITCHES[1].1)? {
                    "continuous" => RefillMode::Continuous,
                    _ => RefillMode::PerSecondTick,
                }
            }
            ["throttling", "describe_by_id_is_filtered"] => {
                self.throttling.describe_by_id_is_filtered =
                    choice(v, name, &SWITCHES[2].1)? == "true"
            }
            _ => return Err(unknown()),
        }
        Ok(())
    }

    /// Every name this profile has a value for, in a fixed order: latencies, buckets,
    /// delays, tenants, error probabilities, switches.
    pub fn names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for f in ["median_ms", "p99_ms"] {
            for a in ["default", "rejected"] {
                out.push(format!("ec2.latency.{a}.{f}"));
            }
        }
        for a in ALL_ACTIONS {
            for f in ["median_ms", "p99_ms"] {
                out.push(format!("ec2.latency.{a}.{f}"));
            }
        }
        let t = &self.throttling;
        for a in t.actions.keys() {
            for f in ["max", "refill_per_s"] {
                out.push(format!("ec2.bucket.{a}.{f}"));
            }
        }
        for a in t.unfiltered.keys() {
            for f in ["max", "refill_per_s"] {
                out.push(format!("ec2.bucket.unfiltered.{a}.{f}"));
            }
        }
        for (c, n) in CATEGORIES {
            if t.categories.contains_key(&c) {
                for f in ["max", "refill_per_s"] {
                    out.push(format!("ec2.bucket.category.{n}.{f}"));
                }
            }
        }
        out.push("ec2.attach_delay.median_ms".into());
        out.push("ec2.detach_delay.median_ms".into());
        for a in ALL_ACTIONS {
            out.push(format!("ec2.tenant.{a}.rate_per_s"));
        }
        for a in ALL_ACTIONS {
            out.push(format!("ec2.error_probability.{a}"));
        }
        out.extend(SWITCHES.iter().map(|s| s.0.to_string()));
        out.retain(|n| self.named(n).is_ok());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(x: f64) -> NamedValue {
        NamedValue::Number(x)
    }

    #[test]
    fn every_listed_name_reads_and_writes_back() {
        let p = Ec2Profile::embedded();
        let names = p.names();
        assert!(names.len() > 60, "{}", names.len());
        for n in &names {
            let v = p.named(n).unwrap();
            let mut q = p.clone();
            q.set_named(n, &v).unwrap_or_else(|e| panic!("{n}: {e}"));
            assert_eq!(q.named(n).unwrap(), v, "{n}");
        }
    }

    #[test]
    fn scaling_a_median_keeps_the_p99_ratio() {
        let mut p = Ec2Profile::embedded();
        let n = "ec2.latency.CreateNetworkInterface.median_ms";
        p.set_named(n, &num(300.0)).unwrap();
        assert_eq!(
            p.latency.actions["CreateNetworkInterface"],
            Distribution::Lognormal {
                median_ms: 300.0,
                p99_ms: 4000.0
            }
        );
        // An action without its own entry gets a copy of the default.
        let n = "ec2.latency.CreateTags.median_ms";
        assert_eq!(p.named(n).unwrap(), num(150.0));
        p.set_named(n, &num(75.0)).unwrap();
        assert_eq!(
            p.named("ec2.latency.CreateTags.p99_ms").unwrap(),
            num(1000.0)
        );
        assert_eq!(
            p.named("ec2.latency.default.median_ms").unwrap(),
            num(150.0)
        );
    }

    #[test]
    fn tenants_errors_buckets_and_switches() {
        let mut p = Ec2Profile::embedded();
        let n = "ec2.tenant.DescribeNetworkInterfaces.rate_per_s";
        assert_eq!(p.named(n).unwrap(), num(0.0));
        p.set_named(n, &num(2.5)).unwrap();
        assert_eq!(p.background.len(), 1);
        assert_eq!(p.named(n).unwrap(), num(2.5));
        p.set_named(n, &num(0.0)).unwrap();
        assert_eq!(p.named(n).unwrap(), num(0.0));
        let n = "ec2.error_probability.AttachNetworkInterface";
        p.set_named(n, &num(0.01)).unwrap();
        assert_eq!(p.faults.error_probability["AttachNetworkInterface"], 0.01);
        assert!(p.set_named(n, &num(1.5)).is_err());
        assert_eq!(p.faults.error_probability["AttachNetworkInterface"], 0.01);
        let n = "ec2.bucket.AttachNetworkInterface.refill_per_s";
        p.set_named(n, &num(2.0)).unwrap();
        assert_eq!(
            p.throttling.actions["AttachNetworkInterface"].refill_per_s,
            2.0
        );
        p.set_named(
            "ec2.throttling.refill",
            &NamedValue::Choice("per-second-tick".into()),
        )
        .unwrap();
        assert_eq!(p.throttling.refill, RefillMode::PerSecondTick);
        assert!(p
            .set_named(
                "ec2.throttling.refill",
                &NamedValue::Choice("hourly".into())
            )
            .is_err());
        for bad in [
            "ec2.latency.Nope.median_ms",
            "ec2.bucket.x",
            "controller.x",
            "ec2",
        ] {
            assert!(p.named(bad).is_err(), "{bad}");
        }
    }
}
