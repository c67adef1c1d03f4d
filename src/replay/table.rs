//! A replayed run as a trail table: the controller's attempts and the other tenants' calls
//! in the columns `trace ingest` writes, each at its completion time cut to the second as
//! CloudTrail's eventTime is — so the replay is measured by the same `trace` statistics and
//! the same workload reconstruction as the recording.

use crate::metrics::RunRecord;
use crate::trace::{is_throttle_code, synth_calls_with_enis, CLASS_CONTROLLER};
use polars::prelude::*;

const NS: i64 = 1_000_000_000;

/// `run` as a trail table; virtual time 0 is `start_ns` (ns since the epoch).
pub fn replayed_table(run: &RunRecord, start_ns: i64) -> PolarsResult<DataFrame> {
    struct Row {
        time: i64,
        action: String,
        class: String,
        error: Option<String>,
        eni: Option<String>,
        attachment: Option<String>,
        instance: Option<String>,
        subnet: Option<String>,
        device: Option<u32>,
        nodeeni: Option<String>,
        node: Option<String>,
        attempt: u32,
    }
    let second = |t: u64| start_ns + (t as i64).div_euclid(NS) * NS;
    let mut rows: Vec<Row> = Vec::with_capacity(run.calls.len() + run.tenant_calls.len());
    for (c, r) in synth_calls_with_enis(&run.calls, &run.enis)
        .into_iter()
        .zip(&run.calls)
    {
        // As CloudTrail logs it: a prefix, and a successful dry run as DryRunOperation.
        let error = match (&c.error_code, c.dry_run) {
            (Some(e), _) => Some(format!(
                "{}.{e}",
                if c.server_error { "Server" } else { "Client" }
            )),
            (None, true) => Some("Client.DryRunOperation".to_string()),
            (None, false) => None,
        };
        let subnet = c.subnet_id.clone();
        rows.push(Row {
            time: second(c.end_ns),
            action: c.action,
            class: CLASS_CONTROLLER.to_string(),
            error,
            eni: c.eni_id,
            attachment: c.attachment_id,
            instance: c.instance_id.or(c.filtered_by_instance),
            subnet,
            device: c.device_index,
            nodeeni: c.nodeeni,
            node: c.node,
            attempt: u32::from(r.attempt),
        });
    }
    for t in &run.tenant_calls {
        rows.push(Row {
            time: second(t.at),
            action: t.action.name().to_string(),
            class: run
                .tenant_names
                .get(t.tenant as usize)
                .cloned()
                .unwrap_or_else(|| "other".into()),
            error: t
                .throttled
                .then(|| "Client.RequestLimitExceeded".to_string()),
            eni: None,
            attachment: None,
            instance: None,
            subnet: None,
            device: None,
            nodeeni: None,
            node: None,
            attempt: 1,
        });
    }
    // Time order; at equal times the order made (controller first).
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&i| (rows[i].time, i));
    let strs = |f: &dyn Fn(&Row) -> Option<&str>| -> Vec<Option<&str>> {
        order.iter().map(|&i| f(&rows[i])).collect()
    };
    let is_create = |r: &Row| r.action == "CreateNetworkInterface";
    let cols = vec![
        Column::new(
            "time".into(),
            order.iter().map(|&i| rows[i].time).collect::<Vec<i64>>(),
        ),
        Column::new("action".into(), strs(&|r| Some(r.action.as_str()))),
        Column::new("region".into(), strs(&|_| None)),
        Column::new("account".into(), strs(&|_| None)),
        Column::new("principal".into(), strs(&|_| None)),
        Column::new("user_agent".into(), strs(&|_| None)),
        Column::new("caller_class".into(), strs(&|r| Some(r.class.as_str()))),
        Column::new("error_code".into(), strs(&|r| r.error.as_deref())),
        Column::new(
            "throttled".into(),
            order
                .iter()
                .map(|&i| rows[i].error.as_deref().is_some_and(is_throttle_code))
                .collect::<Vec<bool>>(),
        ),
        Column::new("eni_id".into(), strs(&|r| r.eni.as_deref())),
        Column::new("eni_ids".into(), strs(&|_| None)),
        Column::new("attachment_id".into(), strs(&|r| r.attachment.as_deref())),
        Column::new("instance_id".into(), strs(&|r| r.instance.as_deref())),
        Column::new(
            "device_index".into(),
            order
                .iter()
                .map(|&i| rows[i].device)
                .collect::<Vec<Option<u32>>>(),
        ),
        Column::new("subnet_id".into(), strs(&|r| r.subnet.as_deref())),
        Column::new(
            "nodeeni".into(),
            strs(&|r| r.nodeeni.as_deref().filter(|_| is_create(r))),
        ),
        Column::new(
            "node".into(),
            strs(&|r| r.node.as_deref().filter(|_| is_create(r))),
        ),
        Column::new(
            "nodeeni_subnet".into(),
            strs(&|r| {
                r.subnet
                    .as_deref()
                    .filter(|_| is_create(r) && r.nodeeni.is_some())
            }),
        ),
        Column::new("request_id".into(), strs(&|_| None)),
        Column::new("event_id".into(), strs(&|_| None)),
        Column::new("retry_chain".into(), vec![0u64; order.len()]),
        Column::new(
            "attempt".into(),
            order.iter().map(|&i| rows[i].attempt).collect::<Vec<u32>>(),
        ),
        Column::new("file".into(), vec![0u32; order.len()]),
        Column::new(
            "record".into(),
            (0..order.len() as u32).collect::<Vec<u32>>(),
        ),
    ];
    DataFrame::new(order.len(), cols)
}
