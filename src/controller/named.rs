//! The controller profile's values by name, in the scheme of `aws::named`:
//! `controller.costs.<field>` (the CPU and memory costs of `costs:`, numbers) and
//! `controller.behaviour.self_trigger` (a switch, `true` or `false`: a status write
//! re-enqueues the key, §4 of the reference, or the period paces the reconciles).

use super::profile::{ControllerProfile, Costs};
use crate::plausible::NamedValue;

/// The cost fields, in the order of the profile.
pub const COST_FIELDS: [&str; 12] = [
    "cpu_base_millicores",
    "cpu_ms_per_reconcile",
    "cpu_ms_per_ec2_attempt",
    "cpu_ms_per_status_write",
    "cpu_ms_per_meta_write",
    "cpu_ms_per_watch_event",
    "memory_base_mib",
    "memory_kib_per_node",
    "memory_kib_per_nodeeni",
    "memory_kib_per_attachment",
    "memory_kib_per_inflight_call",
    "memory_kib_per_busy_worker",
];

const SELF_TRIGGER: &str = "controller.behaviour.self_trigger";

fn cost_mut<'a>(c: &'a mut Costs, field: &str) -> Option<&'a mut f64> {
    Some(match field {
        "cpu_base_millicores" => &mut c.cpu_base_millicores,
        "cpu_ms_per_reconcile" => &mut c.cpu_ms_per_reconcile,
        "cpu_ms_per_ec2_attempt" => &mut c.cpu_ms_per_ec2_attempt,
        "cpu_ms_per_status_write" => &mut c.cpu_ms_per_status_write,
        "cpu_ms_per_meta_write" => &mut c.cpu_ms_per_meta_write,
        "cpu_ms_per_watch_event" => &mut c.cpu_ms_per_watch_event,
        "memory_base_mib" => &mut c.memory_base_mib,
        "memory_kib_per_node" => &mut c.memory_kib_per_node,
        "memory_kib_per_nodeeni" => &mut c.memory_kib_per_nodeeni,
        "memory_kib_per_attachment" => &mut c.memory_kib_per_attachment,
        "memory_kib_per_inflight_call" => &mut c.memory_kib_per_inflight_call,
        "memory_kib_per_busy_worker" => &mut c.memory_kib_per_busy_worker,
        _ => return None,
    })
}

impl ControllerProfile {
    /// The value called `name`.
    pub fn named(&self, name: &str) -> Result<NamedValue, String> {
        if name == SELF_TRIGGER {
            return Ok(NamedValue::Choice(self.behaviour.self_trigger.to_string()));
        }
        let field = name
            .strip_prefix("controller.costs.")
            .ok_or_else(|| format!("unknown parameter name {name:?}"))?;
        let mut c = self.costs.clone();
        cost_mut(&mut c, field)
            .map(|v| NamedValue::Number(*v))
            .ok_or_else(|| format!("unknown parameter name {name:?}"))
    }

    /// Sets the value called `name`; the profile stays valid or nothing changes.
    pub fn set_named(&mut self, name: &str, v: &NamedValue) -> Result<(), String> {
        let mut next = self.clone();
        if name == SELF_TRIGGER {
            next.behaviour.self_trigger = match v {
                NamedValue::Choice(s) if s == "true" => true,
                NamedValue::Choice(s) if s == "false" => false,
                _ => return Err(format!("{name} takes true or false, got {v}")),
            };
        } else {
            let field = name
                .strip_prefix("controller.costs.")
                .ok_or_else(|| format!("unknown parameter name {name:?}"))?;
            let slot = cost_mut(&mut next.costs, field)
                .ok_or_else(|| format!("unknown parameter name {name:?}"))?;
            *slot = v
                .as_f64()
                .ok_or_else(|| format!("{name} takes a number, got {v}"))?;
        }
        next.validate().map_err(|(k, m)| format!("{k}: {m}"))?;
        *self = next;
        Ok(())
    }

    /// Every name this profile has a value for.
    pub fn names(&self) -> Vec<String> {
        COST_FIELDS
            .iter()
            .map(|f| format!("controller.costs.{f}"))
            .chain([SELF_TRIGGER.to_string()])
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_and_the_switch_read_and_write() {
        let mut p = ControllerProfile::embedded();
        for n in p.names() {
            let v = p.named(&n).unwrap();
            let mut q = p.clone();
            q.set_named(&n, &v).unwrap();
            assert_eq!(q, p, "{n}");
        }
        p.set_named(
            "controller.costs.cpu_ms_per_reconcile",
            &NamedValue::Number(4.0),
        )
        .unwrap();
        assert_eq!(p.costs.cpu_ms_per_reconcile, 4.0);
        assert!(p
            .set_named(
                "controller.costs.cpu_ms_per_reconcile",
                &NamedValue::Number(-1.0)
            )
            .is_err());
        assert_eq!(p.costs.cpu_ms_per_reconcile, 4.0);
        p.set_named(SELF_TRIGGER, &NamedValue::Choice("false".into()))
            .unwrap();
        assert!(!p.behaviour.self_trigger);
        assert!(p.named("controller.costs.nope").is_err());
    }
}
