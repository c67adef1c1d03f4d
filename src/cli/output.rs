//! Writing run outputs: every file goes to a temporary name in the target directory and
//! is renamed into place, so an interrupted or failed write leaves no half file.

use crate::metrics::summary::Summary;
use crate::metrics::RunRecord;
use crate::scenario::Settings;
use anyhow::Context;
use std::path::Path;

pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    crate::atomic::write_atomically(path, bytes)
        .with_context(|| format!("writing {}", path.display()))
}

fn csv_bytes<T: serde::Serialize>(rows: impl IntoIterator<Item = T>) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r)?;
    }
    w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}

#[derive(serde::Serialize)]
struct CallCsv<'a> {
    replication: usize,
    start_s: f64,
    end_s: f64,
    action: &'static str,
    attempt: u8,
    error: Option<&'static str>,
    eni: Option<String>,
    attachment: Option<String>,
    instance: Option<String>,
    subnet: Option<String>,
    device_index: Option<u32>,
    dry_run: bool,
    caller: &'a str,
    worker: Option<u32>,
    call_id: u64,
}

#[derive(serde::Serialize)]
struct ReconcileCsv<'a> {
    replication: usize,
    nodeeni: &'a str,
    worker: u32,
    start_s: f64,
    end_s: f64,
    deleting: bool,
    result: &'static str,
    requeue_after_s: Option<f64>,
    ec2_calls: u64,
    status_writes: u64,
}

#[derive(serde::Serialize)]
struct StatusWriteCsv<'a> {
    replication: usize,
    time_s: f64,
    nodeeni: &'a str,
    worker: Option<u32>,
    kind: &'static str,
    node: Option<&'a str>,
    changed: bool,
}

/// summary.json, enis.csv, calls.csv (one row per EC2 attempt, with its caller, worker
/// and SDK call id; then the other tenants' calls, the tenant as caller, throttled ones
/// with RequestLimitExceeded), reconciles.csv, status_writes.csv and series.csv (queue
/// depth, CPU, memory and bucket tokens over time), every replication.
pub fn write_run_outputs(
    dir: &Path,
    settings: &Settings,
    thresholds: &crate::metrics::thresholds::Thresholds,
    seed: u64,
    summary: &Summary,
    runs: &[RunRecord],
) -> anyhow::Result<()> {
    let doc = serde_json::json!({
        "scenario": settings.scenario,
        "controller": settings.controller,
        "seed": seed,
        "thresholds": thresholds,
        "summary": summary,
        "replications": runs.iter().map(|r| serde_json::json!({"seed": r.seed, "metrics": r.metrics})).collect::<Vec<_>>(),
    });
    let enis = csv_bytes(runs.iter().flat_map(|r| r.enis.iter()))?;
    let calls = csv_bytes(runs.iter().enumerate().flat_map(|(i, r)| {
        r.calls
            .iter()
            .map(move |c| CallCsv {
                replication: i,
                start_s: crate::engine::time::to_secs(c.start),
                end_s: crate::engine::time::to_secs(c.end),
                action: c.action.name(),
                attempt: c.attempt,
                error: c.error.map(|e| e.as_str()),
                eni: c.eni.map(|x| x.to_string()),
                attachment: c.attachment.map(|x| x.to_string()),
                instance: c.instance.map(|x| x.to_string()),
                subnet: c.subnet.map(|x| x.to_string()),
                device_index: c.device_index,
                dry_run: c.dry_run,
                caller: c.caller.as_str(),
                worker: c.worker,
                call_id: c.call_id,
            })
            .chain(r.tenant_calls.iter().map(move |c| {
                CallCsv {
                    replication: i,
                    start_s: crate::engine::time::to_secs(c.at),
                    end_s: crate::engine::time::to_secs(c.at),
                    action: c.action.name(),
                    attempt: 1,
                    error: c.throttled.then_some("RequestLimitExceeded"),
                    eni: None,
                    attachment: None,
                    instance: None,
                    subnet: None,
                    device_index: None,
                    dry_run: false,
                    caller: r
                        .tenant_names
                        .get(c.tenant as usize)
                        .map_or("tenant", String::as_str),
                    worker: None,
                    call_id: 0,
                }
            }))
    }))?;
    let reconciles = csv_bytes(runs.iter().enumerate().flat_map(|(i, r)| {
        r.reconciles.iter().map(move |x| ReconcileCsv {
            replication: i,
            nodeeni: &x.nodeeni,
            worker: x.worker,
            start_s: x.start_s,
            end_s: x.end_s,
            deleting: x.deleting,
            result: x.result,
            requeue_after_s: x.requeue_after_s,
            ec2_calls: x.ec2_calls,
            status_writes: x.status_writes,
        })
    }))?;
    let status_writes = csv_bytes(runs.iter().enumerate().flat_map(|(i, r)| {
        r.status_writes.iter().map(move |x| StatusWriteCsv {
            replication: i,
            time_s: x.time_s,
            nodeeni: &x.nodeeni,
            worker: x.worker,
            kind: x.kind,
            node: x.node.as_deref(),
            changed: x.changed,
        })
    }))?;
    let cpu_window_s = settings.controller.costs.cpu_window.0 / crate::engine::SECOND;
    let series = csv_bytes(
        runs.iter()
            .enumerate()
            .flat_map(|(i, r)| crate::metrics::series::series_rows(i as u32, r, cpu_window_s)),
    )?;
    write_atomically(
        &dir.join("summary.json"),
        serde_json::to_string_pretty(&doc)?.as_bytes(),
    )?;
    write_atomically(&dir.join("enis.csv"), &enis)?;
    write_atomically(&dir.join("calls.csv"), &calls)?;
    write_atomically(&dir.join("reconciles.csv"), &reconciles)?;
    write_atomically(&dir.join("status_writes.csv"), &status_writes)?;
    write_atomically(&dir.join("series.csv"), &series)?;
    Ok(())
}
