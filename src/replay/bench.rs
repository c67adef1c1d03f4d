//! The replay benchmark's input (BENCHMARKS.md, `enisim bench --replay`): a recorded trail
//! of a 10 × 10 burst rollout with a day of other tenants' calls, built as the table
//! `trace ingest` would give (ingest is not what is measured).

use super::replayed_table;
use crate::aws::tenants::TenantCall;
use crate::aws::Action;
use crate::engine::SECOND;
use crate::scenario::{simulate_replication, Model, ScenarioSpec, Settings};
use crate::workload::Trail;

/// Tenants' mix of actions (assumption: describe-heavy, as the VPC CNI and other
/// controllers are, with some ENI and IP mutations), per 20 calls.
const MIX: [(Action, u32, u32); 6] = [
    (Action::DescribeNetworkInterfaces, 0, 11),
    (Action::DescribeInstances, 0, 4),
    (Action::AssignPrivateIpAddresses, 0, 2),
    (Action::DescribeSubnets, 1, 1),
    (Action::CreateNetworkInterface, 1, 1),
    (Action::AttachNetworkInterface, 1, 1),
];

/// Replication 0 of the default burst, observed for `span_s` after it converged (the
/// controller's steady state is in the trail too), as a trail with `tenant_calls`
/// other-tenant calls spread evenly over `span_s` seconds (two tenants, `vpc-cni` and
/// `other`, in the mix above); virtual time 0 at 2025-01-01T00:00:00Z.
pub fn burst_with_tenants(tenant_calls: u64, span_s: u64, seed: u64) -> Trail {
    let mut scenario = ScenarioSpec::embedded("burst").expect("embedded burst");
    scenario.run.observe_after_converged.0 = span_s * SECOND;
    scenario.run.horizon.0 = (span_s + 3600) * SECOND;
    let settings = Settings::new(crate::controller::ControllerProfile::embedded(), scenario);
    let mut run = simulate_replication(&settings, &Model::embedded(), seed, 0)
        .expect("the embedded burst builds");
    let per: Vec<(Action, u32)> = MIX
        .iter()
        .flat_map(|&(a, t, n)| std::iter::repeat_n((a, t), n as usize))
        .collect();
    let span = span_s.max(1) * SECOND;
    run.tenant_names = vec!["vpc-cni".into(), "other".into()];
    run.tenant_calls = (0..tenant_calls)
        .map(|k| {
            let (action, tenant) = per[(k % per.len() as u64) as usize];
            TenantCall {
                at: (u128::from(k) * u128::from(span) / u128::from(tenant_calls.max(1))) as u64,
                action,
                tenant,
                throttled: false,
            }
        })
        .collect();
    let df = replayed_table(&run, 1_735_689_600_000_000_000).expect("a table of a run");
    Trail::from_table(df, "bench trail")
}
