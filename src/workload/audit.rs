//! The workload from a Kubernetes audit log (EKS control-plane logging: JSON lines, one
//! `audit.k8s.io/v1` Event each): NodeENI create/update/delete times and specs, status
//! writes (which node, instance and subnet each attachment is on), Node deletions.
//!
//! Only completed requests count (`stage` ResponseComplete when given, `responseStatus.code`
//! below 300); other resources are skipped. A line that is not an Event is an error naming
//! the file, the line and the key.

use super::error::WorkloadError;
use super::trail::{Scope, Trail};
use super::{RecordedWorkload, Source};
use crate::metrics::RunRecord;
use crate::scenario::recorded::{RecordedNode, RecordedNodeEni};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

const NS: i64 = 1_000_000_000;

/// Options of [`RecordedWorkload::from_audit_log`].
#[derive(Debug, Clone, Default)]
pub struct AuditOptions {
    /// The trail's account and region, when a trail is given.
    pub scope: Scope,
}

/// What the audit log says about one NodeENI (ns since the epoch).
#[derive(Default)]
struct Seen {
    line: u64,
    created: Option<i64>,
    deleted: Option<i64>,
    subnets: Vec<String>,
    device_index: Option<u32>,
    /// node → instance, from status writes.
    nodes: Vec<(String, Option<String>)>,
    first_seen: i64,
}

fn bad(path: &Path, line: u64, key: &str, detail: impl Into<String>) -> WorkloadError {
    WorkloadError::AuditLine {
        path: path.to_path_buf(),
        line,
        key: key.to_string(),
        detail: detail.into(),
    }
}

fn str_at<'a>(
    v: &'a Value,
    key: &str,
    path: &Path,
    line: u64,
) -> Result<Option<&'a str>, WorkloadError> {
    let mut cur = v;
    for part in key.split('.') {
        match cur.get(part) {
            Some(x) => cur = x,
            None => return Ok(None),
        }
    }
    match cur {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        other => Err(bad(
            path,
            line,
            key,
            format!("expected a string, found {}", kind(other)),
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The NodeENI object of an event: the response's, else the request's.
fn object(ev: &Value) -> Option<&Value> {
    ["responseObject", "requestObject"]
        .iter()
        .filter_map(|k| ev.get(*k))
        .find(|o| o.get("spec").is_some() || o.get("status").is_some())
}

fn spec_subnets(
    spec: &Value,
    path: &Path,
    line: u64,
    prefix: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<String>, WorkloadError> {
    let mut out = Vec::new();
    if let Some(s) = str_at(spec, "subnetID", path, line)? {
        out.push(s.to_string());
    }
    if let Some(list) = spec.get("subnetIDs") {
        let arr = list.as_array().ok_or_else(|| {
            bad(
                path,
                line,
                &format!("{prefix}.subnetIDs"),
                format!("expected an array, found {}", kind(list)),
            )
        })?;
        for (k, s) in arr.iter().enumerate() {
            let s = s.as_str().ok_or_else(|| {
                bad(
                    path,
                    line,
                    &format!("{prefix}.subnetIDs[{k}]"),
                    format!("expected a string, found {}", kind(s)),
                )
            })?;
            if !out.iter().any(|o| o == s) {
                out.push(s.to_string());
            }
        }
    }
    if spec.get("subnetName").is_some() || spec.get("subnetNames").is_some() {
        warnings.push(format!(
            "{}:{line}: {prefix}.subnetName(s): subnets by name are taken from the status writes and the trail (names are not resolved)",
            path.display()
        ));
    }
    Ok(out)
}

fn timestamp(ev: &Value, path: &Path, line: u64) -> Result<i64, WorkloadError> {
    let key = if ev.get("stageTimestamp").is_some() {
        "stageTimestamp"
    } else {
        "requestReceivedTimestamp"
    };
    let s =
        str_at(ev, key, path, line)?.ok_or_else(|| bad(path, line, "stageTimestamp", "missing"))?;
    crate::trace::parse_time_ns(s).map_err(|e| bad(path, line, key, format!("{s:?}: {e}")))
}

pub(super) fn from_audit_log(
    path: &Path,
    trail: Option<&Trail>,
    opts: &AuditOptions,
) -> Result<RecordedWorkload, WorkloadError> {
    let text = std::fs::read_to_string(path).map_err(|e| WorkloadError::AuditFile {
        path: path.to_path_buf(),
        detail: format!("cannot read: {e}"),
    })?;
    let mut warnings = Vec::new();
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut node_deleted: BTreeMap<String, i64> = BTreeMap::new();
    let mut first_time: Option<i64> = None;
    let mut last_time: Option<i64> = None;
    for (n, raw) in text.lines().enumerate() {
        let line = n as u64 + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let ev: Value = serde_json::from_str(raw)
            .map_err(|e| bad(path, line, "(line)", format!("not JSON: {e}")))?;
        if !ev.is_object() {
            return Err(bad(
                path,
                line,
                "(line)",
                format!("expected an Event object, found {}", kind(&ev)),
            ));
        }
        match str_at(&ev, "apiVersion", path, line)? {
            Some("audit.k8s.io/v1") => {}
            Some(v) => {
                return Err(bad(
                    path,
                    line,
                    "apiVersion",
                    format!("{v:?}: expected \"audit.k8s.io/v1\""),
                ))
            }
            None => return Err(bad(path, line, "apiVersion", "missing")),
        }
        if str_at(&ev, "kind", path, line)? != Some("Event") {
            return Err(bad(path, line, "kind", "expected \"Event\""));
        }
        let verb =
            str_at(&ev, "verb", path, line)?.ok_or_else(|| bad(path, line, "verb", "missing"))?;
        if ev.get("objectRef").is_none() {
            return Err(bad(path, line, "objectRef", "missing"));
        }
        let resource = str_at(&ev, "objectRef.resource", path, line)?.unwrap_or("");
        let t = timestamp(&ev, path, line)?;
        if str_at(&ev, "stage", path, line)?.is_some_and(|s| s != "ResponseComplete") {
            continue;
        }
        if let Some(code) = ev.pointer("/responseStatus/code") {
            let c = code.as_u64().ok_or_else(|| {
                bad(
                    path,
                    line,
                    "responseStatus.code",
                    format!("expected a number, found {}", kind(code)),
                )
            })?;
            if c >= 300 {
                continue;
            }
        }
        first_time = Some(first_time.map_or(t, |f: i64| f.min(t)));
        last_time = Some(last_time.map_or(t, |f: i64| f.max(t)));
        let name = str_at(&ev, "objectRef.name", path, line)?;
        if resource == "nodes" {
            if let (Some(node), "delete") = (name, verb) {
                node_deleted.entry(node.to_string()).or_insert(t);
            }
            continue;
        }
        if resource != "nodeenis" {
            continue;
        }
        let name = name.ok_or_else(|| bad(path, line, "objectRef.name", "missing"))?;
        let subresource = str_at(&ev, "objectRef.subresource", path, line)?;
        if !seen.contains_key(name) {
            order.push(name.to_string());
        }
        let s = seen.entry(name.to_string()).or_insert_with(|| Seen {
            line,
            first_seen: t,
            ..Seen::default()
        });
        match (verb, subresource) {
            ("create", None) => {
                s.created.get_or_insert(t);
                s.line = line;
                let spec = object(&ev).and_then(|o| o.get("spec")).ok_or_else(|| {
                    bad(
                        path,
                        line,
                        "requestObject.spec",
                        "a NodeENI create without its spec",
                    )
                })?;
                s.subnets = spec_subnets(spec, path, line, "requestObject.spec", &mut warnings)?;
                s.device_index = match spec.get("deviceIndex") {
                    None | Some(Value::Null) => Some(1),
                    Some(v) => Some(v.as_u64().filter(|d| *d <= 127).ok_or_else(|| {
                        bad(
                            path,
                            line,
                            "requestObject.spec.deviceIndex",
                            format!("expected an integer 0..=127, found {v}"),
                        )
                    })? as u32),
                };
            }
            ("delete", None) => {
                s.deleted.get_or_insert(t);
            }
            ("update" | "patch", None) => {
                // The controller's own metadata writes (finalizer, cleanup annotation) keep
                // the spec; a changed subnet list is a change the replay does not make.
                if let Some(spec) = object(&ev).and_then(|o| o.get("spec")) {
                    let subnets =
                        spec_subnets(spec, path, line, "requestObject.spec", &mut warnings)?;
                    if s.created.is_some() && !subnets.is_empty() && subnets != s.subnets {
                        warnings.push(format!(
                            "{}:{line}: NodeENI {name}: its subnets changed ({} → {}): not replayed",
                            path.display(),
                            s.subnets.join(","),
                            subnets.join(",")
                        ));
                    }
                }
            }
            (_, Some("status")) => {
                let Some(atts) = object(&ev).and_then(|o| o.pointer("/status/attachments")) else {
                    continue;
                };
                let arr = atts.as_array().ok_or_else(|| {
                    bad(
                        path,
                        line,
                        "requestObject.status.attachments",
                        format!("expected an array, found {}", kind(atts)),
                    )
                })?;
                for (k, a) in arr.iter().enumerate() {
                    let key = |f: &str| format!("requestObject.status.attachments[{k}].{f}");
                    let get = |f: &str| -> Result<Option<String>, WorkloadError> {
                        match a.get(f) {
                            None | Some(Value::Null) => Ok(None),
                            Some(Value::String(x)) => Ok(Some(x.clone())),
                            Some(other) => Err(bad(
                                path,
                                line,
                                &key(f),
                                format!("expected a string, found {}", kind(other)),
                            )),
                        }
                    };
                    let node =
                        get("nodeID")?.ok_or_else(|| bad(path, line, &key("nodeID"), "missing"))?;
                    let instance = get("instanceID")?;
                    if let Some(sub) = get("subnetID")? {
                        if !s.subnets.contains(&sub) {
                            s.subnets.push(sub);
                        }
                    }
                    match s.nodes.iter_mut().find(|(n, _)| *n == node) {
                        Some((_, i)) => {
                            if i.is_none() {
                                *i = instance;
                            }
                        }
                        None => s.nodes.push((node, instance)),
                    }
                }
            }
            _ => {}
        }
    }
    if seen.is_empty() {
        return Err(WorkloadError::AuditFile {
            path: path.to_path_buf(),
            detail: "no NodeENI event (objectRef.resource \"nodeenis\") in the audit log".into(),
        });
    }

    // The trail beside it: second 0, the attachment timelines, nodes and instances.
    let from_trail = match trail {
        Some(t) => Some(RecordedWorkload::from_trail(t, &opts.scope)?),
        None => None,
    };
    let t0 = match &from_trail {
        Some(w) if w.controller_calls > 0 || w.span_s > 0.0 || w.start_ns != 0 => w.start_ns,
        _ => first_time.unwrap_or(0).div_euclid(NS) * NS,
    };
    let secs = |t: i64| ((t - t0) as f64 / NS as f64).max(0.0);
    if let Some(w) = &from_trail {
        let touched: Vec<&String> = order
            .iter()
            .filter(|n| w.nodeenis.iter().any(|e| &e.name == *n))
            .collect();
        if touched.is_empty() && !w.nodeenis.is_empty() {
            return Err(WorkloadError::AuditMismatch {
                path: path.to_path_buf(),
                detail: format!(
                    "none of its {} NodeENI(s) ({}) is touched by the trail, whose controller calls are for {}: \
                     the audit log and the trail are of different clusters or times",
                    order.len(),
                    order.join(", "),
                    w.nodeenis.iter().map(|e| e.name.as_str()).collect::<Vec<_>>().join(", ")
                ),
            });
        }
        for n in order.iter().filter(|n| !touched.contains(n)) {
            warnings.push(format!(
                "{}:{}: NodeENI {n} has no call in the trail: replayed from the audit log alone",
                path.display(),
                seen[n].line
            ));
        }
        for e in &w.nodeenis {
            if !seen.contains_key(&e.name) {
                warnings.push(format!(
                    "NodeENI {} has calls in the trail but no event in {}: left out (the audit log is the workload)",
                    e.name,
                    path.display()
                ));
            }
        }
    }

    let mut nodes: Vec<RecordedNode> = Vec::new();
    let mut nodeenis = Vec::new();
    for name in &order {
        let s = &seen[name];
        let mut node_list: Vec<(String, Option<String>)> = s.nodes.clone();
        let mut subnets = s.subnets.clone();
        if let Some(w) = &from_trail {
            for a in w.attachments.iter().filter(|a| &a.nodeeni == name) {
                match node_list.iter_mut().find(|(n, _)| *n == a.node) {
                    Some((_, i)) => {
                        if i.is_none() {
                            i.clone_from(&a.instance);
                        }
                    }
                    None => node_list.push((a.node.clone(), a.instance.clone())),
                }
                if !subnets.contains(&a.subnet) {
                    subnets.push(a.subnet.clone());
                }
            }
        }
        if node_list.is_empty() || subnets.is_empty() {
            warnings.push(format!(
                "{}:{}: NodeENI {name}: no status write or trail call names its nodes and subnets: left out",
                path.display(),
                s.line
            ));
            continue;
        }
        let created = match s.created {
            Some(c) => c,
            None => {
                warnings.push(format!(
                    "{}:{}: NodeENI {name} was created before the audit log starts: taken as created at its first event",
                    path.display(),
                    s.line
                ));
                s.first_seen
            }
        };
        for (n, inst) in &node_list {
            match nodes.iter_mut().find(|x| &x.name == n) {
                Some(x) => {
                    if x.instance.is_none() {
                        x.instance.clone_from(inst);
                    }
                }
                None => nodes.push(RecordedNode {
                    name: n.clone(),
                    instance: inst.clone(),
                    joined_s: 0.0,
                    removed_s: None,
                    terminated: false,
                }),
            }
        }
        nodeenis.push(RecordedNodeEni {
            name: name.clone(),
            created_s: secs(created),
            deleted_s: s.deleted.map(secs),
            nodes: node_list.into_iter().map(|(n, _)| n).collect(),
            subnets,
            device_index: s.device_index.unwrap_or(1),
        });
    }
    // Nodes that went away: a Node delete in the audit log, or (with a trail) what the
    // trail shows (its terminated instances).
    for n in &mut nodes {
        if let Some(t) = node_deleted.get(&n.name) {
            n.removed_s = Some(secs(*t));
        }
        if let Some(w) = &from_trail {
            if let Some(tn) = w.nodes.iter().find(|x| x.name == n.name && x.terminated) {
                n.removed_s = n.removed_s.or(tn.removed_s);
                n.terminated = true;
            }
        }
    }
    let mut subnets: Vec<String> = Vec::new();
    for e in &nodeenis {
        for s in &e.subnets {
            if !subnets.contains(s) {
                subnets.push(s.clone());
            }
        }
    }
    let (span_s, account, region, attachments, controller_calls) = match from_trail {
        Some(w) => {
            warnings.extend(
                w.warnings
                    .into_iter()
                    .filter(|x| !x.contains("attachment(s) of NodeENI")),
            );
            let span = w.span_s.max(last_time.map(secs).unwrap_or(0.0));
            (span, w.account, w.region, w.attachments, w.controller_calls)
        }
        None => (
            last_time.map(secs).unwrap_or(0.0),
            None,
            None,
            Vec::new(),
            0,
        ),
    };
    let mut w = RecordedWorkload {
        source: Source::AuditLog(path.to_path_buf()),
        start_ns: t0,
        span_s,
        account,
        region,
        subnets,
        nodes,
        nodeenis,
        attachments,
        controller_calls,
        warnings,
    };
    w.canonicalise();
    Ok(w)
}

/// An audit log (JSON lines) of a simulated replication, as EKS would log it: each
/// NodeENI's create (at its first ENI's request time) with its spec (the device index its
/// ENIs were attached at), its status writes
/// (the attachments in status by then) and its delete (its first deleting reconcile);
/// `start_ns` is virtual time 0. For tests and demos of the audit-log path.
pub fn audit_log_of_run(run: &RunRecord, start_ns: i64) -> String {
    let at = |s: f64| {
        let ns = start_ns + (s * NS as f64).round() as i64;
        let secs = ns.div_euclid(NS);
        let sub = ns.rem_euclid(NS) as u32;
        chrono::DateTime::<chrono::Utc>::from_timestamp(secs, sub)
            .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
            .unwrap_or_default()
    };
    // Instances and device indices by ENI, from the run's successful Attach calls.
    let mut instance_of: BTreeMap<String, String> = BTreeMap::new();
    let mut device_of: BTreeMap<String, u32> = BTreeMap::new();
    for c in &run.calls {
        if c.action == crate::aws::Action::AttachNetworkInterface && c.error.is_none() {
            if let (Some(e), Some(i)) = (c.eni, c.instance) {
                instance_of.insert(e.to_string(), i.to_string());
            }
            if let (Some(e), Some(d)) = (c.eni, c.device_index) {
                device_of.insert(e.to_string(), d);
            }
        }
    }
    let mut names: Vec<&str> = Vec::new();
    for r in &run.enis {
        if !names.contains(&r.nodeeni.as_str()) {
            names.push(&r.nodeeni);
        }
    }
    let mut events: Vec<(f64, u8, Value)> = Vec::new();
    let ev = |verb: &str, name: &str, sub: Option<&str>, t: f64, obj: Option<Value>, code: u32| {
        let mut e = json!({
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": "RequestResponse",
            "stage": "ResponseComplete",
            "verb": verb,
            "user": {"username": if sub.is_some() { "system:serviceaccount:kube-system:aws-multi-eni-controller" } else { "kubernetes-admin" }},
            "objectRef": {"resource": "nodeenis", "name": name, "apiGroup": "networking.k8s.aws", "apiVersion": "v1alpha1"},
            "responseStatus": {"code": code},
            "requestReceivedTimestamp": at(t),
            "stageTimestamp": at(t),
        });
        if let Some(s) = sub {
            e["objectRef"]["subresource"] = json!(s);
        }
        if let Some(o) = obj {
            e["requestObject"] = o;
        }
        e
    };
    for name in names {
        let rows: Vec<_> = run.enis.iter().filter(|r| r.nodeeni == name).collect();
        let created = rows
            .iter()
            .map(|r| r.requested_s)
            .fold(f64::INFINITY, f64::min);
        let mut subnets: Vec<&str> = Vec::new();
        for r in &rows {
            if !subnets.contains(&r.subnet.as_str()) {
                subnets.push(&r.subnet);
            }
        }
        // spec.deviceIndex: the index its ENIs were attached at (the run keeps no spec).
        let mut spec_body = json!({"nodeSelector": {"ng": "multi-eni"}, "subnetIDs": subnets, "securityGroupIDs": ["sg-0"]});
        if let Some(d) = rows.iter().find_map(|r| device_of.get(&r.eni)) {
            spec_body["deviceIndex"] = json!(d);
        }
        let spec = json!({
            "apiVersion": "networking.k8s.aws/v1alpha1",
            "kind": "NodeENI",
            "metadata": {"name": name},
            "spec": spec_body,
        });
        events.push((
            created,
            0,
            ev("create", name, None, created, Some(spec), 201),
        ));
        for w in run
            .status_writes
            .iter()
            .filter(|w| w.nodeeni == name && w.changed)
        {
            let atts: Vec<Value> = rows
                .iter()
                .filter(|r| {
                    r.in_status_s.is_some_and(|s| s <= w.time_s)
                        && r.gone_s.is_none_or(|g| g > w.time_s)
                })
                .map(|r| {
                    json!({
                        "nodeID": r.node,
                        "instanceID": instance_of.get(&r.eni),
                        "eniID": r.eni,
                        "subnetID": r.subnet,
                        "status": "attached",
                    })
                })
                .collect();
            let obj = json!({"apiVersion": "networking.k8s.aws/v1alpha1", "kind": "NodeENI", "metadata": {"name": name}, "status": {"attachments": atts}});
            events.push((
                w.time_s,
                1,
                ev("update", name, Some("status"), w.time_s, Some(obj), 200),
            ));
        }
        if let Some(d) = run
            .reconciles
            .iter()
            .filter(|r| r.nodeeni == name && r.deleting)
            .map(|r| r.start_s)
            .reduce(f64::min)
        {
            events.push((d, 2, ev("delete", name, None, d, None, 200)));
        }
    }
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut out = String::new();
    for (_, _, e) in events {
        out.push_str(&e.to_string());
        out.push('\n');
    }
    out
}
