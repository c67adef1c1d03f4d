//! The replay benchmark's input (BENCHMARKS.md, `enisim bench --replay`): a recorded trail
//! of a 10 × 10 burst rollout with a day of other tenants' calls, built as the table
//! `trace ingest` would give (ingest is not what is measured).

use super::replayed_table;
use crate::aws::profile::Tenant;
use crate::aws::Action;
use crate::engine::SECOND;
use crate::scenario::{simulate_replication, Model, ScenarioSpec, Settings};
use crate::workload::Trail;

/// Tenants' mix of actions (assumption: describe-heavy, as the VPC CNI and other
/// controllers are, with some ENI and IP mutations): (action, tenant, parts of 20).
const MIX: [(Action, u32, u32); 6] = [
    (Action::DescribeNetworkInterfaces, 0, 11),
    (Action::DescribeInstances, 0, 4),
    (Action::AssignPrivateIpAddresses, 0, 2),
    (Action::DescribeSubnets, 1, 1),
    (Action::CreateNetworkInterface, 1, 1),
    (Action::AttachNetworkInterface, 1, 1),
];

/// Replication 0 of the default burst, observed for `span_s` after it converged (the
/// controller's steady state is in the trail too), beside about `tenant_calls` calls of two
/// other tenants (`vpc-cni`, `other`; Poisson streams in the mix above, drawing on the
/// same buckets, so the recording is one the model could have made), as a trail table;
/// virtual time 0 at 2025-01-01T00:00:00Z.
pub fn burst_with_tenants(tenant_calls: u64, span_s: u64, seed: u64) -> Trail {
    let mut scenario = ScenarioSpec::embedded("burst").expect("embedded burst");
    scenario.run.observe_after_converged.0 = span_s * SECOND;
    scenario.run.horizon.0 = (span_s + 3600) * SECOND;
    let settings = Settings::new(crate::controller::ControllerProfile::embedded(), scenario);
    let mut model = Model::embedded();
    let per_s = tenant_calls as f64 / span_s.max(1) as f64;
    let parts: u32 = MIX.iter().map(|m| m.2).sum();
    for &(action, tenant, n) in &MIX {
        model.ec2.background.push(Tenant {
            name: ["vpc-cni", "other"][tenant as usize].into(),
            action: action.name().into(),
            rate_per_s: per_s * f64::from(n) / f64::from(parts),
            filtered: true,
        });
    }
    let run = simulate_replication(&settings, &model, seed, 0).expect("the embedded burst builds");
    let df = replayed_table(&run, 1_735_689_600_000_000_000).expect("a table of a run");
    Trail::from_table(df, "bench trail")
}
