//! Controller CPU and memory from a cost per operation (models/controller/*.yaml `costs`),
//! and the ENI Manager DaemonSet's load from its two 30 s loops.
//!
//! CPU: every reconcile pass, EC2 attempt, status or metadata write and watch event
//! handled costs core-milliseconds at the instant it happens, on top of a base; the
//! figure is reported over sliding windows (10 s by default), as
//! `rate(process_cpu_seconds_total[10s])` would show it. Memory (working set): a base,
//! the informer caches (Nodes, NodeENIs with their attachment lists), and what is in
//! flight (EC2 calls, busy reconcile workers), sampled every second.

use super::cluster::ApiStats;
use super::profile::{Costs, EniManagerCosts};
use super::recorder::ReconcileRecord;
use crate::aws::CallRecord;
use crate::engine::{Nanos, SECOND};
use crate::metrics::quantile;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct ResourceUse {
    pub cpu_p95_millicores: f64,
    pub cpu_peak_millicores: f64,
    pub cpu_mean_millicores: f64,
    pub memory_p95_mib: f64,
    pub memory_peak_mib: f64,
    pub eni_manager_cpu_millicores: f64,
    pub eni_manager_memory_mib: f64,
    /// API reads per second from all ENI Manager pods together.
    pub eni_manager_api_reads_per_s: f64,
}

/// Level of a count of overlapping intervals at each whole second 0..=end_s.
fn level_per_second(intervals: impl Iterator<Item = (Nanos, Nanos)>, seconds: usize) -> Vec<f64> {
    let mut delta = vec![0i64; seconds + 2];
    for (s, e) in intervals {
        // Sampled at second boundaries k·1 s: counted where s ≤ k < e.
        let first = s.div_ceil(SECOND) as usize;
        let last = e.div_ceil(SECOND) as usize;
        if first < last && first <= seconds {
            delta[first] += 1;
            delta[last.min(seconds + 1)] -= 1;
        }
    }
    let mut out = Vec::with_capacity(seconds + 1);
    let mut level = 0i64;
    for d in delta.iter().take(seconds + 1) {
        level += d;
        out.push(level as f64);
    }
    out
}

/// The controller's CPU and memory second by second over [from, to): what
/// `controller_resources` summarises, and what a Prometheus scrape would have seen.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResourceSeries {
    /// The base load, in millicores, on top of `cpu_ms`.
    pub cpu_base_millicores: f64,
    /// Core-milliseconds of work in each second `k` (k·1 s ≤ t < (k+1)·1 s), base excluded.
    pub cpu_ms: Vec<f64>,
    /// Working set in MiB sampled at each whole second `k`.
    pub memory_mib: Vec<f64>,
}

/// Second-by-second CPU work and memory of the controller over [from, to).
pub fn controller_series(
    costs: &Costs,
    reconciles: &[ReconcileRecord],
    calls: &[CallRecord],
    api: &ApiStats,
    from: Nanos,
    to: Nanos,
) -> ResourceSeries {
    let end = to.saturating_sub(from);
    let seconds = (end / SECOND) as usize;
    // Core-milliseconds spent in each second of the window.
    let mut cpu_ms = vec![0.0f64; seconds + 1];
    let mut add = |t: Nanos, ms: f64| {
        if t >= from && t < to {
            let i = (((t - from) / SECOND) as usize).min(seconds);
            cpu_ms[i] += ms;
        }
    };
    for r in reconciles {
        add(r.start, costs.cpu_ms_per_reconcile);
    }
    for c in calls {
        add(c.end, costs.cpu_ms_per_ec2_attempt);
    }
    for t in &api.status_write_times {
        add(*t, costs.cpu_ms_per_status_write);
    }
    for t in &api.meta_write_times {
        add(*t, costs.cpu_ms_per_meta_write);
    }
    for t in &api.watch_event_times {
        add(*t, costs.cpu_ms_per_watch_event);
    }
    // Memory, sampled each second.
    let shift = |(s, e): (Nanos, Nanos)| (s.saturating_sub(from), e.saturating_sub(from));
    let inflight = level_per_second(
        calls
            .iter()
            .filter(|c| c.end > from && c.start < to)
            .map(|c| shift((c.start, c.end))),
        seconds,
    );
    let busy = level_per_second(
        reconciles
            .iter()
            .filter(|r| r.end > from && r.start < to)
            .map(|r| shift((r.start, r.end))),
        seconds,
    );
    let mut objects = api.objects.iter().peekable();
    let mut current = (0u32, 0u32, 0u32);
    let mut mem = Vec::with_capacity(seconds + 1);
    for k in 0..=seconds {
        let t = from + k as Nanos * SECOND;
        while let Some(&&(at, n, e, a)) = objects.peek() {
            if at > t {
                break;
            }
            current = (n, e, a);
            objects.next();
        }
        let kib = costs.memory_kib_per_node * current.0 as f64
            + costs.memory_kib_per_nodeeni * current.1 as f64
            + costs.memory_kib_per_attachment * current.2 as f64
            + costs.memory_kib_per_inflight_call * inflight[k]
            + costs.memory_kib_per_busy_worker * busy[k];
        mem.push(costs.memory_base_mib + kib / 1024.0);
    }
    ResourceSeries {
        cpu_base_millicores: costs.cpu_base_millicores,
        cpu_ms,
        memory_mib: mem,
    }
}

/// The controller's CPU in millicores over sliding windows of `window` seconds, one per
/// window end (window, window + 1, … seconds; one scaled figure when the run is shorter
/// than a window): what `cpu_p95_millicores` and `cpu_peak_millicores` summarise.
pub fn cpu_windows(
    base_millicores: f64,
    cpu_ms: &[f64],
    window: usize,
    seconds: usize,
) -> Vec<f64> {
    let window = window.max(1);
    let mut windows = Vec::new();
    if seconds >= window {
        let mut sum: f64 = cpu_ms[..window].iter().sum();
        windows.push(sum);
        for k in window..seconds {
            sum += cpu_ms[k] - cpu_ms[k - window];
            windows.push(sum);
        }
    } else {
        windows.push(cpu_ms.iter().sum::<f64>() * window as f64 / (seconds.max(1)) as f64);
    }
    // core-ms per window of `window` s → millicores.
    windows
        .iter()
        .map(|ms| base_millicores + ms / window as f64)
        .collect()
}

/// Computes the controller's CPU and memory over [from, to).
pub fn controller_resources(
    costs: &Costs,
    manager: &EniManagerCosts,
    reconciles: &[ReconcileRecord],
    calls: &[CallRecord],
    api: &ApiStats,
    from: Nanos,
    to: Nanos,
) -> ResourceUse {
    let end = to.saturating_sub(from);
    let seconds = (end / SECOND) as usize;
    let ResourceSeries {
        cpu_ms,
        memory_mib: mut mem,
        ..
    } = controller_series(costs, reconciles, calls, api, from, to);
    let window = ((costs.cpu_window.0 / SECOND) as usize).max(1);
    let mut cpu = cpu_windows(costs.cpu_base_millicores, &cpu_ms, window, seconds);
    cpu.sort_by(f64::total_cmp);
    let total_ms: f64 = cpu_ms.iter().sum();
    mem.sort_by(f64::total_cmp);
    let (nodes, nodeenis) = api
        .objects
        .iter()
        .fold((0u32, 0u32), |(n, e), o| (n.max(o.1), e.max(o.2)));
    let per_loop_ms =
        manager.cpu_ms_per_loop + manager.cpu_ms_per_nodeeni_per_loop * nodeenis as f64;
    let interval_s = manager.loop_interval.0 as f64 / SECOND as f64;
    ResourceUse {
        cpu_p95_millicores: quantile(&cpu, 0.95),
        cpu_peak_millicores: cpu.last().copied().unwrap_or(0.0),
        cpu_mean_millicores: costs.cpu_base_millicores
            + total_ms / (end as f64 / SECOND as f64).max(1e-9),
        memory_p95_mib: quantile(&mem, 0.95),
        memory_peak_mib: mem.last().copied().unwrap_or(0.0),
        eni_manager_cpu_millicores: manager.loops as f64 * per_loop_ms / interval_s,
        eni_manager_memory_mib: manager.memory_base_mib
            + manager.memory_kib_per_nodeeni * nodeenis as f64 / 1024.0,
        eni_manager_api_reads_per_s: nodes as f64 * manager.loops as f64 * (1.0 + nodeenis as f64)
            / interval_s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_counted_at_second_boundaries() {
        let lv = level_per_second([(0, 2 * SECOND), (SECOND / 2, 3 * SECOND)].into_iter(), 4);
        assert_eq!(lv, vec![1.0, 2.0, 1.0, 0.0, 0.0]);
    }
}
