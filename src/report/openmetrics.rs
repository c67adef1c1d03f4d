//! One replication as a Prometheus would have scraped it: OpenMetrics text with
//! timestamps (`run --metrics-out FILE`), for `promtool tsdb create-blocks-from openmetrics`
//! and the controller's own Grafana dashboard.
//!
//! Names, label sets and buckets are those the controller declares in
//! `pkg/observability/metrics.go` (v1.3.8) — declared but never served by the real
//! controller (reference §8) — and those controller-runtime v0.14 serves. Where the model
//! chooses (documented in docs/metrics.md):
//! - `eni_operations_total{operation,status,node}` counts every ENI operation, `status`
//!   `success` or `error` (the Go code's `LogOperationError` only feeds
//!   `eni_operation_errors_total`; counting both here keeps the dashboard's error rate a
//!   share of all operations), so its sum is the run's `eni_operations`.
//! - `aws_api_calls_total` and `aws_api_call_duration_seconds` count **attempts** (every
//!   row of calls.csv), `status="error"` for any error answer, DryRun included.
//! - Counters step when an operation, attempt or reconcile ends.
//! - CPU and memory come from the model's cost per operation (controller/resources.rs).
//! - `workqueue_adds_total` counts the increases of the queue's depth (adds that were not
//!   deduplicated).

use crate::aws::ErrorCode;
use crate::engine::time;
use crate::metrics::RunRecord;
use std::collections::BTreeMap;
use std::fmt::Write;

/// The scrape interval of the written series, in seconds.
pub const SCRAPE_INTERVAL_S: u64 = 15;
/// The `pod` label of the container series (the dashboard selects `pod=~"eni-controller.*"`).
pub const POD: &str = "eni-controller-0";
/// The namespace the chart installs into.
pub const NAMESPACE: &str = "eni-controller-system";
/// controller-runtime's `controller` label for the NodeENI controller.
pub const CONTROLLER: &str = "nodeeni";

/// `prometheus.ExponentialBuckets(start, 2, 10)`, as the Go client computes it.
pub fn exponential_buckets(start: f64, factor: f64, count: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(count);
    let mut b = start;
    for _ in 0..count {
        out.push(b);
        b *= factor;
    }
    out
}

/// controller-runtime v0.14's `controller_runtime_reconcile_time_seconds` buckets.
pub const RECONCILE_BUCKETS: [f64; 40] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9,
    1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 15.0, 20.0,
    25.0, 30.0, 40.0, 50.0, 60.0,
];

/// The sample instants (seconds of virtual time): every `SCRAPE_INTERVAL_S` from 0, and the
/// end of the run.
pub fn sample_times(end_s: f64) -> Vec<f64> {
    let mut out = Vec::new();
    let mut k = 0u64;
    loop {
        let t = (k * SCRAPE_INTERVAL_S) as f64;
        if t >= end_s {
            break;
        }
        out.push(t);
        k += 1;
    }
    out.push(end_s.max(0.0));
    out
}

type Labels = Vec<(&'static str, String)>;

/// A counter or gauge: per label set, one value per sample instant.
struct Simple {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    series: BTreeMap<Labels, Vec<f64>>,
}

/// A histogram: per label set, the observations (time, value).
struct Histogram {
    name: &'static str,
    help: &'static str,
    buckets: Vec<f64>,
    series: BTreeMap<Labels, Vec<(f64, f64)>>,
}

/// Counter values at each instant from increments (time, amount); times past the end count
/// at the end.
fn cumulative(mut events: Vec<(f64, f64)>, times: &[f64]) -> Vec<f64> {
    events.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = Vec::with_capacity(times.len());
    let mut i = 0;
    let mut sum = 0.0;
    for (j, &t) in times.iter().enumerate() {
        let final_sample = j + 1 == times.len();
        while i < events.len() && (events[i].0 <= t || final_sample) {
            sum += events[i].1;
            i += 1;
        }
        out.push(sum);
    }
    out
}

/// A level at each instant from changes (time, delta): the changes up to and at the
/// instant, never below 0.
fn level(mut events: Vec<(f64, f64)>, times: &[f64]) -> Vec<f64> {
    events.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut i = 0;
    let mut sum = 0.0;
    times
        .iter()
        .map(|&t| {
            while i < events.len() && events[i].0 <= t {
                sum += events[i].1;
                i += 1;
            }
            f64::max(sum, 0.0)
        })
        .collect()
}

/// The last value set at or before each instant (0 before the first), from (time, value)
/// points in time order.
fn step_values(points: impl Iterator<Item = (f64, f64)>, times: &[f64]) -> Vec<f64> {
    let points: Vec<(f64, f64)> = points.collect();
    let mut i = 0;
    let mut current = 0.0;
    times
        .iter()
        .map(|&t| {
            while i < points.len() && points[i].0 <= t {
                current = points[i].1;
                i += 1;
            }
            current
        })
        .collect()
}

fn counter_from(
    name: &'static str,
    help: &'static str,
    events: BTreeMap<Labels, Vec<(f64, f64)>>,
    times: &[f64],
) -> Simple {
    Simple {
        name,
        kind: "counter",
        help,
        series: events
            .into_iter()
            .map(|(l, e)| (l, cumulative(e, times)))
            .collect(),
    }
}

fn labels(pairs: &[(&'static str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

/// The Go code's `categorizeError` (pkg/observability/logging.go) on an EC2 error code.
fn error_category(e: ErrorCode) -> &'static str {
    if e.is_throttle() {
        "throttling"
    } else if e.is_not_found() {
        "not_found"
    } else if e == ErrorCode::InvalidParameterValue {
        "validation"
    } else {
        "unknown"
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn label_text(l: &Labels, extra: Option<(&str, String)>) -> String {
    let mut parts: Vec<String> = l
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    if let Some((k, v)) = extra {
        parts.push(format!("{k}=\"{v}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

/// An OpenMetrics number: integers without a fraction, others in shortest form.
fn num(v: f64) -> String {
    if v.is_finite() && v == v.trunc() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn bound(b: f64) -> String {
    let s = format!("{b}");
    if s.contains('.') || s.contains('e') {
        s
    } else {
        format!("{s}.0")
    }
}

fn stamp(start_ms: i64, t_s: f64) -> String {
    let ms = start_ms + (t_s * 1000.0).round() as i64;
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// The OpenMetrics text of one replication; `start_unix_ms` is the wall-clock instant
/// virtual time 0 maps onto. The same record gives the same bytes.
pub fn render(rec: &RunRecord, start_unix_ms: i64) -> String {
    let end_s = rec.metrics.end_s;
    let times = sample_times(end_s);
    let mut simple: Vec<Simple> = Vec::new();
    let mut hist: Vec<Histogram> = Vec::new();

    // ---- ENI operations -----------------------------------------------------------------
    let mut ops: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
    let mut op_errors: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
    let mut op_durations: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
    let mut attachments: Vec<(f64, f64)> = Vec::new();
    let mut detaching = Vec::new();
    for o in &rec.operations {
        let operation = format!("eni-{}", o.operation);
        let status = if o.ok { "success" } else { "error" };
        ops.entry(labels(&[
            ("operation", &operation),
            ("status", status),
            ("node", &o.node),
        ]))
        .or_default()
        .push((o.end_s, 1.0));
        if !o.ok {
            op_errors
                .entry(labels(&[
                    ("operation", &operation),
                    ("error_type", "unknown"),
                    ("node", &o.node),
                ]))
                .or_default()
                .push((o.end_s, 1.0));
        }
        op_durations
            .entry(labels(&[("operation", &operation), ("node", &o.node)]))
            .or_default()
            .push((o.end_s, o.end_s - o.start_s));
        if o.operation == "detach" {
            detaching.push((o.start_s, 1.0));
            detaching.push((o.end_s, -1.0));
        }
    }
    // Attached in EC2 from its first `attached` until the ENI is gone (detached and
    // deleted, or deleted with its instance).
    for e in &rec.enis {
        if let Some(at) = e.ec2_attached_s {
            attachments.push((at, 1.0));
            if let Some(gone) = e.gone_s {
                attachments.push((gone.max(at), -1.0));
            }
        }
    }
    simple.push(counter_from(
        "eni_operations",
        "Total number of ENI operations performed",
        ops,
        &times,
    ));
    simple.push(counter_from(
        "eni_operation_errors",
        "Total number of ENI operation errors",
        op_errors,
        &times,
    ));
    hist.push(Histogram {
        name: "eni_operation_duration_seconds",
        help: "Duration of ENI operations in seconds",
        buckets: exponential_buckets(0.1, 2.0, 10),
        series: op_durations,
    });
    let gauge_of = |events: Vec<(f64, f64)>| level(events, &times);
    simple.push(Simple {
        name: "eni_attachments_total",
        kind: "gauge",
        help: "Current number of ENI attachments",
        series: BTreeMap::from([(Labels::new(), gauge_of(attachments))]),
    });
    simple.push(Simple {
        name: "eni_detachments_total",
        kind: "gauge",
        help: "Current number of ENI detachments in progress",
        series: BTreeMap::from([(Labels::new(), gauge_of(detaching))]),
    });

    // ---- AWS API ------------------------------------------------------------------------
    let mut api: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
    let mut api_durations: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
    let mut api_errors: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
    let mut throttles = Vec::new();
    for c in &rec.calls {
        let end = time::to_secs(c.end);
        let operation = c.action.name();
        let status = if c.error.is_some() {
            "error"
        } else {
            "success"
        };
        api.entry(labels(&[
            ("service", "ec2"),
            ("operation", operation),
            ("status", status),
        ]))
        .or_default()
        .push((end, 1.0));
        api_durations
            .entry(labels(&[("service", "ec2"), ("operation", operation)]))
            .or_default()
            .push((end, time::to_secs(c.end - c.start)));
        if let Some(e) = c.error {
            api_errors
                .entry(labels(&[
                    ("service", "ec2"),
                    ("operation", operation),
                    ("error_category", error_category(e)),
                ]))
                .or_default()
                .push((end, 1.0));
            if e.is_throttle() {
                throttles.push((end, 1.0));
            }
        }
    }
    simple.push(counter_from(
        "aws_api_calls",
        "Total number of AWS API calls made",
        api,
        &times,
    ));
    hist.push(Histogram {
        name: "aws_api_call_duration_seconds",
        help: "Duration of AWS API calls in seconds",
        buckets: exponential_buckets(0.01, 2.0, 10),
        series: api_durations,
    });
    simple.push(counter_from(
        "aws_api_errors",
        "Total number of AWS API errors",
        api_errors,
        &times,
    ));
    simple.push(counter_from(
        "aws_throttling_events",
        "Total number of AWS API throttling events",
        BTreeMap::from([(Labels::new(), throttles)]),
        &times,
    ));

    // ---- circuit breaker, coordination --------------------------------------------------
    let state = |s: &str| match s {
        "Open" => 1.0,
        "HalfOpen" => 2.0,
        _ => 0.0,
    };
    let breaker = step_values(
        rec.breaker
            .iter()
            .map(|(at, st)| (time::to_secs(*at), state(st))),
        &times,
    );
    simple.push(Simple {
        name: "circuit_breaker_state",
        kind: "gauge",
        help: "Current state of circuit breakers (0=closed, 1=open, 2=half-open)",
        series: BTreeMap::from([(labels(&[("operation_type", "ec2")]), breaker)]),
    });
    simple.push(counter_from(
        "coordination_conflicts",
        "Total number of resource coordination conflicts",
        BTreeMap::from([(
            Labels::new(),
            rec.index_conflicts_at
                .iter()
                .map(|t| (time::to_secs(*t), 1.0))
                .collect(),
        )]),
        &times,
    ));

    // ---- container and process resources -----------------------------------------------
    let res = &rec.resources;
    // Work done in the whole seconds before each instant (all of it at the end).
    let mut prefix = Vec::with_capacity(res.cpu_ms.len() + 1);
    let mut acc = 0.0;
    prefix.push(acc);
    for ms in &res.cpu_ms {
        acc += ms;
        prefix.push(acc);
    }
    let cpu_seconds: Vec<f64> = times
        .iter()
        .map(|&t| {
            let k = if t >= end_s {
                res.cpu_ms.len()
            } else {
                (t.max(0.0).ceil() as usize).min(res.cpu_ms.len())
            };
            (res.cpu_base_millicores * t + prefix[k]) / 1000.0
        })
        .collect();
    let memory_bytes: Vec<f64> = times
        .iter()
        .map(|&t| {
            let k = ((t.max(0.0)) as usize).min(res.memory_mib.len().saturating_sub(1));
            (res.memory_mib.get(k).copied().unwrap_or(0.0) * 1048576.0).round()
        })
        .collect();
    let pod = labels(&[
        ("namespace", NAMESPACE),
        ("pod", POD),
        ("container", "manager"),
    ]);
    simple.push(Simple {
        name: "container_cpu_usage_seconds",
        kind: "counter",
        help: "Cumulative cpu time consumed in seconds",
        series: BTreeMap::from([(pod.clone(), cpu_seconds.clone())]),
    });
    simple.push(Simple {
        name: "container_memory_usage_bytes",
        kind: "gauge",
        help: "Current memory usage in bytes, including all memory regardless of when it was accessed",
        series: BTreeMap::from([(pod, memory_bytes.clone())]),
    });

    // ---- controller-runtime -------------------------------------------------------------
    let mut reconciles: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
    let mut reconcile_errors = Vec::new();
    let mut reconcile_time = Vec::new();
    for r in &rec.reconciles {
        let result = match r.result {
            "done" => "success",
            "requeue-after" => "requeue_after",
            "error" => "error",
            _ => "requeue",
        };
        reconciles
            .entry(labels(&[("controller", CONTROLLER), ("result", result)]))
            .or_default()
            .push((r.end_s, 1.0));
        if result == "error" {
            reconcile_errors.push((r.end_s, 1.0));
        }
        reconcile_time.push((r.end_s, r.end_s - r.start_s));
    }
    simple.push(counter_from(
        "controller_runtime_reconcile",
        "Total number of reconciliations per controller",
        reconciles,
        &times,
    ));
    simple.push(counter_from(
        "controller_runtime_reconcile_errors",
        "Total number of reconciliation errors per controller",
        BTreeMap::from([(labels(&[("controller", CONTROLLER)]), reconcile_errors)]),
        &times,
    ));
    hist.push(Histogram {
        name: "controller_runtime_reconcile_time_seconds",
        help: "Length of time per reconciliation per controller",
        buckets: RECONCILE_BUCKETS.to_vec(),
        series: BTreeMap::from([(labels(&[("controller", CONTROLLER)]), reconcile_time)]),
    });
    let depth = step_values(
        rec.queue_depth
            .iter()
            .map(|(at, d)| (time::to_secs(*at), *d as f64)),
        &times,
    );
    let adds: Vec<(f64, f64)> = rec
        .queue_depth
        .windows(2)
        .filter(|w| w[1].1 > w[0].1)
        .map(|w| (time::to_secs(w[1].0), (w[1].1 - w[0].1) as f64))
        .collect();
    let queue = labels(&[("name", CONTROLLER)]);
    simple.push(Simple {
        name: "workqueue_depth",
        kind: "gauge",
        help: "Current depth of workqueue",
        series: BTreeMap::from([(queue.clone(), depth)]),
    });
    simple.push(counter_from(
        "workqueue_adds",
        "Total number of adds handled by workqueue",
        BTreeMap::from([(queue, adds)]),
        &times,
    ));
    simple.push(Simple {
        name: "process_cpu_seconds",
        kind: "counter",
        help: "Total user and system CPU time spent in seconds.",
        series: BTreeMap::from([(Labels::new(), cpu_seconds)]),
    });
    simple.push(Simple {
        name: "process_resident_memory_bytes",
        kind: "gauge",
        help: "Resident memory size in bytes.",
        series: BTreeMap::from([(Labels::new(), memory_bytes)]),
    });

    // ---- write --------------------------------------------------------------------------
    let mut out = String::new();
    let stamps: Vec<String> = times.iter().map(|t| stamp(start_unix_ms, *t)).collect();
    // Two instants that round to the same millisecond keep only the later one.
    let keep: Vec<bool> = (0..stamps.len())
        .map(|j| j + 1 == stamps.len() || stamps[j] != stamps[j + 1])
        .collect();
    let mut families: Vec<(&'static str, String)> = Vec::new();
    for f in &simple {
        let mut s = String::new();
        let _ = writeln!(s, "# TYPE {} {}", f.name, f.kind);
        let _ = writeln!(s, "# HELP {} {}", f.name, f.help);
        let sample = if f.kind == "counter" {
            format!("{}_total", f.name)
        } else {
            f.name.to_string()
        };
        for (l, values) in &f.series {
            let lt = label_text(l, None);
            for (j, v) in values.iter().enumerate() {
                if keep[j] {
                    let _ = writeln!(s, "{sample}{lt} {} {}", num(*v), stamps[j]);
                }
            }
        }
        families.push((f.name, s));
    }
    for h in &hist {
        let mut s = String::new();
        let _ = writeln!(s, "# TYPE {} histogram", h.name);
        let _ = writeln!(s, "# HELP {} {}", h.name, h.help);
        for (l, obs) in &h.series {
            let mut obs = obs.clone();
            obs.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut i = 0;
            let mut counts = vec![0u64; h.buckets.len()];
            let (mut count, mut sum) = (0u64, 0.0f64);
            for (j, &t) in times.iter().enumerate() {
                let final_sample = j + 1 == times.len();
                while i < obs.len() && (obs[i].0 <= t || final_sample) {
                    let v = obs[i].1;
                    for (b, c) in h.buckets.iter().zip(counts.iter_mut()) {
                        if v <= *b {
                            *c += 1;
                        }
                    }
                    count += 1;
                    sum += v;
                    i += 1;
                }
                if !keep[j] {
                    continue;
                }
                for (b, c) in h.buckets.iter().zip(&counts) {
                    let lt = label_text(l, Some(("le", bound(*b))));
                    let _ = writeln!(s, "{}_bucket{lt} {c} {}", h.name, stamps[j]);
                }
                let lt = label_text(l, Some(("le", "+Inf".to_string())));
                let _ = writeln!(s, "{}_bucket{lt} {count} {}", h.name, stamps[j]);
                let lt = label_text(l, None);
                let _ = writeln!(s, "{}_count{lt} {count} {}", h.name, stamps[j]);
                let _ = writeln!(s, "{}_sum{lt} {} {}", h.name, num(sum), stamps[j]);
            }
        }
        families.push((h.name, s));
    }
    // Families in name order, so the file reads like a sorted scrape.
    families.sort_by(|a, b| a.0.cmp(b.0));
    for (_, s) in families {
        out.push_str(&s);
    }
    out.push_str("# EOF\n");
    out
}

/// The last scrape of `render`'s output in the Prometheus text format (0.0.4), as the
/// controller's `/metrics` would have served it at the end of the run: no timestamps,
/// counters typed under their `_total` names (what `promtool check metrics` reads).
pub fn last_scrape_text(openmetrics: &str) -> String {
    let last = openmetrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' ').map(|(_, t)| t))
        .max_by(|a, b| {
            let f = |s: &str| s.parse::<f64>().unwrap_or(f64::NEG_INFINITY);
            f(a).total_cmp(&f(b))
        })
        .unwrap_or("")
        .to_string();
    let mut out = String::new();
    for l in openmetrics.lines() {
        if l == "# EOF" {
            continue;
        }
        if let Some(rest) = l.strip_prefix("# TYPE ") {
            match rest.split_once(' ') {
                Some((name, "counter")) => {
                    let _ = writeln!(out, "# TYPE {name}_total counter");
                }
                _ => {
                    let _ = writeln!(out, "{l}");
                }
            }
            continue;
        }
        if let Some(rest) = l.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            let counter = openmetrics.contains(&format!("# TYPE {name} counter\n"));
            let name = if counter {
                format!("{name}_total")
            } else {
                name.to_string()
            };
            let _ = writeln!(out, "# HELP {name} {help}");
            continue;
        }
        if let Some((sample, t)) = l.rsplit_once(' ') {
            if t == last {
                let _ = writeln!(out, "{sample}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_the_go_clients() {
        let b: Vec<String> = exponential_buckets(0.1, 2.0, 10)
            .into_iter()
            .map(bound)
            .collect();
        assert_eq!(
            b,
            ["0.1", "0.2", "0.4", "0.8", "1.6", "3.2", "6.4", "12.8", "25.6", "51.2"]
        );
        assert_eq!(bound(1.0), "1.0");
        assert_eq!(RECONCILE_BUCKETS.len(), 40);
    }

    #[test]
    fn samples_every_15_s_and_at_the_end() {
        assert_eq!(sample_times(31.5), vec![0.0, 15.0, 30.0, 31.5]);
        assert_eq!(sample_times(30.0), vec![0.0, 15.0, 30.0]);
        assert_eq!(sample_times(0.0), vec![0.0]);
    }

    #[test]
    fn counters_count_late_events_at_the_last_sample() {
        let c = cumulative(
            vec![(1.0, 1.0), (15.0, 2.0), (99.0, 1.0)],
            &[0.0, 15.0, 20.0],
        );
        assert_eq!(c, vec![0.0, 3.0, 4.0]);
        assert_eq!(stamp(1_000, 1.25), "2.250");
        assert_eq!(num(3.0), "3");
        assert_eq!(escape("a\"b\\"), "a\\\"b\\\\");
    }
}
