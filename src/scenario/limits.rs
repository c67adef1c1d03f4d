//! The largest work the model accepts, and what a run will cost in memory before it starts.
//!
//! Each bound is well past any real cluster the controller serves (its own performance plan
//! stops at 10 × 10), and low enough that a typo (`maxConcurrentReconciles=4294967296`) is
//! an error rather than hours of simulation or an exhausted machine. The README's knob
//! table lists them.

use super::values::Settings;

/// Reconcile workers (`controller.maxConcurrentReconciles`): controller-runtime takes any
/// positive int; past the number of NodeENIs extra workers only sit idle.
pub const MAX_WORKERS: u64 = 10_000;
/// Cleanup pool (`controller.maxConcurrentENICleanup`): the pool never exceeds the ENIs of
/// one NodeENI (PC:26), which `MAX_NODES × MAX_ENIS_PER_NODE` bounds.
pub const MAX_CLEANUP_WORKERS: u64 = 10_000;
/// Nodes: the Kubernetes scalability limit of 5 000 nodes per cluster.
pub const MAX_NODES: u64 = 5_000;
/// ENIs per node: more than any instance type's interfaces (the largest have 16 per card).
pub const MAX_ENIS_PER_NODE: u64 = 64;
/// `DEFAULT_DEVICE_INDEX` and device indices: EC2 numbers them below the interface count.
pub const MAX_DEVICE_INDEX: u64 = 127;
/// `AWS_MAX_ATTEMPTS`: the SDK takes any int; 100 attempts of ≤ 20 s is over half an hour.
pub const MAX_AWS_ATTEMPTS: u64 = 100;
/// Circuit-breaker thresholds.
pub const MAX_BREAKER_THRESHOLD: u64 = 1_000_000;
/// A client-side limiter's burst.
pub const MAX_LIMITER_BURST: u64 = 1_000_000;
/// One replication's horizon: a week of virtual time.
pub const MAX_HORIZON_S: u64 = 7 * 24 * 3600;
/// Convergence checks per replication (horizon / monitor interval).
pub const MAX_MONITOR_CHECKS: u64 = 10_000_000;
/// Replications of one run or grid point.
pub const MAX_REPLICATIONS: u64 = 100_000;
/// Worker threads (`--threads`).
pub const MAX_THREADS: u64 = 1_024;

/// Memory one worker, object and ENI take in a replication (measured on this model: a
/// million workers took 2.4 GB, i.e. ≈ 2.4 KB each; an ENI with its timeline, status entry,
/// EC2 record and the calls of its lifetime ≈ 8 KB).
const BYTES_PER_WORKER: u64 = 2_500;
const BYTES_PER_ENI: u64 = 8_000;
const BYTES_PER_NODE: u64 = 4_000;
const BYTES_BASE: u64 = 4 << 20;

/// An estimate of the peak memory of `parallel` replications of these settings running at
/// once (the live state, not the recorded calls, which grow with the horizon).
pub fn estimated_bytes(settings: &Settings, parallel: u64) -> u64 {
    let c = &settings.scenario.cluster;
    let workers = settings.controller.env.max_concurrent_reconciles as u64
        + settings.controller.env.max_concurrent_eni_cleanup as u64;
    let nodes = c.nodes as u64;
    let enis = nodes.saturating_mul(c.enis_per_node as u64);
    let one = BYTES_BASE
        .saturating_add(workers.saturating_mul(BYTES_PER_WORKER))
        .saturating_add(nodes.saturating_mul(BYTES_PER_NODE))
        .saturating_add(enis.saturating_mul(BYTES_PER_ENI));
    one.saturating_mul(parallel.max(1))
}

/// Refuses work whose estimated memory exceeds `available` bytes.
pub fn check_memory(settings: &Settings, parallel: u64, available: u64) -> Result<(), String> {
    let need = estimated_bytes(settings, parallel);
    if need > available {
        return Err(format!(
            "these settings need about {:.1} GiB ({} replications at once), more than this machine's {:.1} GiB: lower the workers, nodes or --threads",
            need as f64 / (1u64 << 30) as f64,
            parallel.max(1),
            available as f64 / (1u64 << 30) as f64,
        ));
    }
    Ok(())
}

/// The machine's physical memory (Linux `/proc/meminfo`), if it can be read.
pub fn machine_memory_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::ControllerProfile;
    use crate::scenario::ScenarioSpec;

    #[test]
    fn a_million_workers_do_not_fit_in_a_gigabyte() {
        let mut s = Settings::new(
            ControllerProfile::embedded(),
            ScenarioSpec::embedded("burst").unwrap(),
        );
        assert!(check_memory(&s, 2, 1 << 30).is_ok());
        s.controller.env.max_concurrent_reconciles = 1_000_000;
        let e = check_memory(&s, 2, 1 << 30).unwrap_err();
        assert!(e.contains("GiB"), "{e}");
    }
}
