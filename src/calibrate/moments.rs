//! The summary statistics a calibration matches (calibration.md §3): per-action counts of
//! the controller's calls, the mean gap before each action on the same ENI (or instance),
//! the spans of the whole trail, of the burst and of the cleanup, the detach → delete gap,
//! and the throttled share of each action that was throttled. Every moment is a function
//! of a [`Trail`], so the recorded and the simulated trails are measured by the same code.

use std::collections::HashMap;

use serde::Serialize;

use super::observed::{Call, Trail};
use crate::trace::lifecycle_rank as rank;

/// Gaps longer than this are cut to it: a chain that waited out a requeue should not
/// dominate a mean of service times (the same cut applies to both sides).
pub const GAP_CAP_S: f64 = 10.0;

/// A crossing share is matched only where the trail holds at least this many gaps of
/// its pair.
pub const MIN_CROSSING_GAPS: u64 = 200;

/// A steady window shorter than this (s) is too short to hold a rate.
pub const MIN_STEADY_S: i64 = 10;
/// A steady rate is matched only for a label with at least this many calls in the window.
pub const MIN_STEADY_CALLS: u64 = 200;

/// What a moment measures.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Moment {
    /// The controller's calls of one action (a DryRun Detach probe is its own label).
    Count { label: String },
    /// Mean gap (s) from the previous controller call on the same ENI or instance to a
    /// call of this label: its service time plus the controller's work, through rounding.
    GapBefore { label: String },
    /// Share of the gaps from a call labelled `after` to the next call, labelled `label`,
    /// on the same ENI or instance that cross a second of eventTime (a rounded gap of at
    /// least 1 s). A sub-second gap g crosses with probability g (the phase within the
    /// second is uniform): for back-to-back calls this share is the later call's mean
    /// service time (plus the controller's work) in seconds, free of the long gaps between
    /// reconciles whose variance dominates the mean gap; keying by the pair keeps those
    /// apart.
    GapCrossing { after: String, label: String },
    /// First to last controller call (s).
    Span,
    /// First controller call to its last successful Attach (s).
    BurstSpan,
    /// First real (non-DryRun) Detach to the last successful Delete (s).
    CleanupSpan,
    /// Mean gap (s) from a successful Detach to the ENI's first successful Delete.
    DetachToDelete,
    /// Share of one action's calls (all callers) that were throttled.
    ThrottledShare { action: String },
    /// The controller's calls of this label per second while nothing was being created or
    /// removed: from two seconds after the last successful Attach to a second before the
    /// first real Detach (or the trail's end). There v1.3.8 keeps verifying, as fast as its
    /// workers go when its status writes requeue it (controller reference §9): the rate is
    /// the inverse of a verify round's duration, the sum of its calls' service times, and
    /// many rounds make it precise where one second's rounding hides each of them.
    SteadyRate { label: String },
}

impl Moment {
    pub fn name(&self) -> String {
        match self {
            Moment::Count { label } => format!("count {label}"),
            Moment::GapBefore { label } => format!("mean gap before {label} (s)"),
            Moment::GapCrossing { after, label } => {
                format!("share of gaps {after} → {label} ≥ 1 s")
            }
            Moment::Span => "trail span (s)".into(),
            Moment::BurstSpan => "first call → last attach (s)".into(),
            Moment::CleanupSpan => "first detach → last delete (s)".into(),
            Moment::DetachToDelete => "mean detach → delete (s)".into(),
            Moment::ThrottledShare { action } => format!("throttled share {action}"),
            Moment::SteadyRate { label } => format!("steady {label} per s"),
        }
    }
}

/// The label of a controller call: its action, `DetachNetworkInterface(dry-run)` for the
/// existence probe.
pub fn label(c: &Call) -> String {
    if c.dry_run && c.action == "DetachNetworkInterface" {
        "DetachNetworkInterface(dry-run)".into()
    } else {
        c.action.clone()
    }
}

/// The action a [`label`] is of.
pub fn action_of(label: &str) -> &str {
    label.split_once('(').map_or(label, |(action, _)| action)
}

/// Everything the moments need from a trail, computed once.
struct Digest {
    counts: HashMap<String, f64>,
    /// Per label: (sum of the capped gaps, gaps).
    gaps: HashMap<String, (f64, u64)>,
    /// The steady window's length (s), if the trail has one.
    steady_s: Option<f64>,
    /// Per label: calls in the steady window.
    steady: HashMap<String, u64>,
    /// Per (previous label, label): (gaps, gaps of at least 1 s).
    crossings: HashMap<(String, String), (u64, u64)>,
    span: Option<f64>,
    burst: Option<f64>,
    cleanup: Option<f64>,
    detach_delete: Option<f64>,
    throttled: HashMap<String, (u64, u64)>,
}

fn digest(trail: &Trail) -> Digest {
    let ctl: Vec<&Call> = trail.controller().collect();
    let mut counts: HashMap<String, f64> = HashMap::new();
    for c in &ctl {
        *counts.entry(label(c)).or_default() += 1.0;
    }
    // Chains per ENI (or instance, for calls that name no ENI). A Create names neither its
    // ENI's instance nor an earlier ENI call: its gap runs from the last call on the
    // instance its ENI was attached to (an Attach names both), which is the worker's
    // previous call when it works through a node's attachments in turn.
    let mut instance_of: HashMap<&str, &str> = HashMap::new();
    for c in &ctl {
        if let (Some(e), Some(inst)) = (&c.eni, &c.instance) {
            instance_of.entry(e.as_str()).or_insert(inst.as_str());
        }
    }
    let mut order: Vec<usize> = (0..ctl.len()).collect();
    order.sort_by_key(|&i| (ctl[i].t_s, rank(&ctl[i].action), i));
    let mut last_on: HashMap<String, (i64, String)> = HashMap::new();
    let mut last_on_instance: HashMap<&str, (i64, String)> = HashMap::new();
    let mut gaps: HashMap<String, (f64, u64)> = HashMap::new();
    let mut crossings: HashMap<(String, String), (u64, u64)> = HashMap::new();
    for &i in &order {
        let c = ctl[i];
        let instance = c
            .instance
            .as_deref()
            .or_else(|| c.eni.as_deref().and_then(|e| instance_of.get(e).copied()));
        let key = match (&c.eni, instance) {
            (Some(e), _) => e.clone(),
            (None, Some(inst)) => format!("instance:{inst}"),
            (None, None) => continue,
        };
        let here = label(c);
        let mut prev = last_on.insert(key, (c.t_s, here.clone()));
        if prev.is_none() && c.action == "CreateNetworkInterface" {
            prev = instance.and_then(|inst| last_on_instance.get(inst).cloned());
        }
        if let Some(inst) = instance {
            last_on_instance.insert(inst, (c.t_s, here.clone()));
        }
        if let Some((t, before)) = prev {
            let g = ((c.t_s - t) as f64).min(GAP_CAP_S);
            let e = gaps.entry(here.clone()).or_default();
            e.0 += g;
            e.1 += 1;
            let x = crossings.entry((before, here)).or_default();
            x.0 += 1;
            x.1 += u64::from(g >= 1.0);
        }
    }
    let first = ctl.iter().map(|c| c.t_s).min();
    let last = ctl.iter().map(|c| c.t_s).max();
    let span = first.zip(last).map(|(a, b)| (b - a) as f64);
    let last_attach = ctl
        .iter()
        .filter(|c| c.action == "AttachNetworkInterface" && c.ok())
        .map(|c| c.t_s)
        .max();
    let burst = first.zip(last_attach).map(|(a, b)| (b - a) as f64);
    let first_detach = ctl
        .iter()
        .filter(|c| c.action == "DetachNetworkInterface" && !c.dry_run)
        .map(|c| c.t_s)
        .min();
    let last_delete = ctl
        .iter()
        .filter(|c| c.action == "DeleteNetworkInterface" && c.ok())
        .map(|c| c.t_s)
        .max();
    let cleanup = first_detach
        .zip(last_delete)
        .filter(|(a, b)| b >= a)
        .map(|(a, b)| (b - a) as f64);
    let mut detached: HashMap<&str, i64> = HashMap::new();
    let (mut sum, mut n) = (0.0, 0u64);
    for &i in &order {
        let c = ctl[i];
        let Some(e) = c.eni.as_deref() else { continue };
        if c.action == "DetachNetworkInterface" && !c.dry_run && c.ok() {
            detached.entry(e).or_insert(c.t_s);
        } else if c.action == "DeleteNetworkInterface" && c.ok() {
            if let Some(t) = detached.remove(e) {
                sum += (c.t_s - t) as f64;
                n += 1;
            }
        }
    }
    let detach_delete = (n > 0).then(|| sum / n as f64);
    let steady_window = last_attach.and_then(|a| {
        let end = first_detach.map_or(last.unwrap_or(a), |d| d - 1);
        (end - (a + 2) >= MIN_STEADY_S).then_some((a + 2, end))
    });
    let mut steady: HashMap<String, u64> = HashMap::new();
    if let Some((a, b)) = steady_window {
        for c in ctl.iter().filter(|c| (a..=b).contains(&c.t_s)) {
            *steady.entry(label(c)).or_default() += 1;
        }
    }
    let steady_s = steady_window.map(|(a, b)| (b - a + 1) as f64);
    let mut throttled: HashMap<String, (u64, u64)> = HashMap::new();
    for c in &trail.calls {
        let e = throttled.entry(c.action.clone()).or_default();
        e.0 += u64::from(c.throttled);
        e.1 += 1;
    }
    Digest {
        counts,
        gaps,
        span,
        burst,
        cleanup,
        detach_delete,
        throttled,
        steady_s,
        steady,
        crossings,
    }
}

/// The moments' values on `trail` (NaN where a moment is undefined, e.g. no gap of a
/// label; a count is 0 when the label has no call).
pub fn compute(moments: &[Moment], trail: &Trail) -> Vec<f64> {
    let d = digest(trail);
    moments
        .iter()
        .map(|m| match m {
            Moment::Count { label } => d.counts.get(label).copied().unwrap_or(0.0),
            Moment::GapBefore { label } => d
                .gaps
                .get(label)
                .filter(|g| g.1 > 0)
                .map_or(f64::NAN, |g| g.0 / g.1 as f64),
            Moment::GapCrossing { after, label } => d
                .crossings
                .get(&(after.clone(), label.clone()))
                .filter(|g| g.0 > 0)
                .map_or(f64::NAN, |g| g.1 as f64 / g.0 as f64),
            Moment::Span => d.span.unwrap_or(f64::NAN),
            Moment::BurstSpan => d.burst.unwrap_or(f64::NAN),
            Moment::CleanupSpan => d.cleanup.unwrap_or(f64::NAN),
            Moment::DetachToDelete => d.detach_delete.unwrap_or(f64::NAN),
            Moment::ThrottledShare { action } => d
                .throttled
                .get(action)
                .filter(|t| t.1 > 0)
                .map_or(f64::NAN, |t| t.0 as f64 / t.1 as f64),
            Moment::SteadyRate { label } => d.steady_s.map_or(f64::NAN, |w| {
                d.steady.get(label).copied().unwrap_or(0) as f64 / w
            }),
        })
        .collect()
}

/// The moments a recorded trail can support: a count for every label the controller
/// called, a mean gap for every label with at least `min_gaps` gaps, the spans and the
/// detach → delete gap where defined, and the throttled share of every throttled action.
pub fn choose(recorded: &Trail, min_gaps: u64) -> Vec<Moment> {
    let d = digest(recorded);
    let mut labels: Vec<&String> = d.counts.keys().collect();
    labels.sort();
    let mut out: Vec<Moment> = labels
        .iter()
        .map(|l| Moment::Count {
            label: (*l).clone(),
        })
        .collect();
    let mut gap_labels: Vec<(&String, &(f64, u64))> =
        d.gaps.iter().filter(|(_, g)| g.1 >= min_gaps).collect();
    gap_labels.sort_by(|a, b| a.0.cmp(b.0));
    out.extend(
        gap_labels
            .into_iter()
            .map(|(l, _)| Moment::GapBefore { label: l.clone() }),
    );
    // A crossing share of a few gaps moves in steps of 1/n: too coarse for the finite
    // differences of the fit, and what it says the mean gap says too.
    let mut pairs: Vec<&(String, String)> = d
        .crossings
        .iter()
        .filter(|(_, x)| x.0 >= MIN_CROSSING_GAPS)
        .map(|(pair, _)| pair)
        .collect();
    pairs.sort();
    out.extend(pairs.into_iter().map(|(after, label)| Moment::GapCrossing {
        after: after.clone(),
        label: label.clone(),
    }));
    if d.span.is_some() {
        out.push(Moment::Span);
    }
    if d.burst.is_some() {
        out.push(Moment::BurstSpan);
    }
    if d.cleanup.is_some() {
        out.push(Moment::CleanupSpan);
    }
    if d.detach_delete.is_some() {
        out.push(Moment::DetachToDelete);
    }
    let mut steady: Vec<&String> = d
        .steady
        .iter()
        .filter(|(_, n)| **n >= MIN_STEADY_CALLS)
        .map(|(l, _)| l)
        .collect();
    steady.sort();
    out.extend(
        steady
            .into_iter()
            .map(|l| Moment::SteadyRate { label: l.clone() }),
    );
    let mut throttled: Vec<(&String, &(u64, u64))> =
        d.throttled.iter().filter(|(_, t)| t.0 > 0).collect();
    throttled.sort_by(|a, b| a.0.cmp(b.0));
    out.extend(
        throttled
            .into_iter()
            .map(|(a, _)| Moment::ThrottledShare { action: a.clone() }),
    );
    out
}

/// How many gaps of each label the trail holds (what a service-time estimate rests on).
pub fn gap_counts(trail: &Trail) -> HashMap<String, u64> {
    digest(trail)
        .gaps
        .into_iter()
        .map(|(k, v)| (k, v.1))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(t: i64, action: &str, eni: &str) -> Call {
        Call {
            t_s: t,
            action: action.into(),
            class: "controller".into(),
            principal: None,
            error: None,
            server_error: false,
            throttled: false,
            dry_run: false,
            eni: Some(eni.into()),
            instance: None,
            nodeeni: None,
            node: None,
            subnet: None,
        }
    }

    #[test]
    fn moments_of_a_hand_made_trail() {
        let mut calls = vec![
            call(10, "CreateNetworkInterface", "e1"),
            call(11, "AttachNetworkInterface", "e1"),
            call(11, "ModifyNetworkInterfaceAttribute", "e1"),
            call(13, "DescribeNetworkInterfaces", "e1"),
            call(14, "DescribeNetworkInterfaces", "e1"),
            call(20, "DetachNetworkInterface", "e1"),
            call(27, "DeleteNetworkInterface", "e1"),
        ];
        let mut probe = call(12, "DetachNetworkInterface", "e1");
        probe.dry_run = true;
        probe.error = Some("DryRunOperation".into());
        calls.push(probe);
        calls.sort_by_key(|c| c.t_s);
        let trail = Trail { calls };
        let ms = choose(&trail, 1);
        let v = compute(&ms, &trail);
        let get = |m: Moment| v[ms.iter().position(|x| *x == m).unwrap()];
        assert_eq!(
            get(Moment::Count {
                label: "DescribeNetworkInterfaces".into()
            }),
            2.0
        );
        assert_eq!(
            get(Moment::Count {
                label: "DetachNetworkInterface(dry-run)".into()
            }),
            1.0
        );
        // Describes at 13 and 14 follow the probe at 12 and the describe at 13.
        assert_eq!(
            get(Moment::GapBefore {
                label: "DescribeNetworkInterfaces".into()
            }),
            1.0
        );
        assert_eq!(
            get(Moment::GapBefore {
                label: "ModifyNetworkInterfaceAttribute".into()
            }),
            0.0
        );
        assert_eq!(get(Moment::Span), 17.0);
        assert_eq!(get(Moment::BurstSpan), 1.0);
        assert_eq!(get(Moment::CleanupSpan), 7.0);
        assert_eq!(get(Moment::DetachToDelete), 7.0);
        assert!(!ms
            .iter()
            .any(|m| matches!(m, Moment::ThrottledShare { .. })));
    }

    /// A node whose worker creates, attaches and verifies two ENIs in turn, then keeps
    /// verifying (Describe every second for four minutes): the Create's gap runs from the last call
    /// on its ENI's instance, the crossing shares count the gaps of at least a second per
    /// pair, and the steady rate counts the verifies after the last attach.
    #[test]
    fn crossings_creates_and_the_steady_rate() {
        let on = |t: i64, action: &str, eni: &str| {
            let mut c = call(t, action, eni);
            c.instance = (action == "AttachNetworkInterface").then(|| "i-1".to_string());
            c
        };
        let mut calls = vec![
            on(0, "CreateNetworkInterface", "e1"),
            on(1, "AttachNetworkInterface", "e1"),
            on(2, "CreateNetworkInterface", "e2"),
            on(3, "AttachNetworkInterface", "e2"),
        ];
        for t in 6..=250 {
            calls.push(on(t, "DescribeNetworkInterfaces", "e1"));
        }
        calls.sort_by_key(|c| c.t_s);
        let trail = Trail { calls };
        let ms = choose(&trail, 1);
        let v = compute(&ms, &trail);
        let get = |m: &Moment| v[ms.iter().position(|x| x == m).unwrap()];
        // e2's Create follows e1's Attach on i-1 (its own Attach names the instance); e1's
        // Create has no call before it.
        assert_eq!(gap_counts(&trail)["CreateNetworkInterface"], 1);
        assert_eq!(
            get(&Moment::GapBefore {
                label: "CreateNetworkInterface".into()
            }),
            1.0
        );
        // 244 Describe → Describe gaps of 1 s, all crossing; the Attach → Describe gap (3 s)
        // is another pair, under MIN_CROSSING_GAPS and so not matched.
        let pair = Moment::GapCrossing {
            after: "DescribeNetworkInterfaces".into(),
            label: "DescribeNetworkInterfaces".into(),
        };
        assert_eq!(get(&pair), 1.0);
        assert!(!ms.iter().any(|m| matches!(
            m,
            Moment::GapCrossing { after, .. } if after == "AttachNetworkInterface"
        )));
        // Steady window: from 3 + 2 = 5 to 250 (no detach): 245 Describes in 246 s.
        let rate = get(&Moment::SteadyRate {
            label: "DescribeNetworkInterfaces".into(),
        });
        assert!((rate - 245.0 / 246.0).abs() < 1e-12, "{rate}");
    }
}
