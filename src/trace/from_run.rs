//! A simulated run's EC2 attempts as CloudTrail calls (for `synth`): every attempt the
//! model made becomes one record, with the controller's user agent.

use std::collections::HashMap;

use super::synth::SynthCall;
use crate::aws::{Action, CallRecord};
use crate::metrics::record::EniRow;

/// (NodeENI, node) a Create is for.
type Owner = (String, String);

/// The calls of one replication, in the order they were made (no NodeENI or node names: see
/// [`synth_calls_with_enis`]).
pub fn synth_calls(calls: &[CallRecord]) -> Vec<SynthCall> {
    synth_calls_with_enis(calls, &[])
}

/// The calls of one replication, with each `CreateNetworkInterface` attempt's NodeENI and
/// node (its tags and description in CloudTrail) taken from the run's ENI rows.
///
/// A successful Create names its ENI, whose row gives both. A failed attempt names none: it
/// takes the owner of the next attempt of the same call (attempt number + 1, same subnet,
/// later in the log), as the SDK retries one call attempt after attempt. Attempts of a call
/// that never succeeded keep no owner (their records carry only the tags that do not depend
/// on it).
pub fn synth_calls_with_enis(calls: &[CallRecord], enis: &[EniRow]) -> Vec<SynthCall> {
    let owner_of: HashMap<&str, (&str, &str)> = enis
        .iter()
        .map(|r| (r.eni.as_str(), (r.nodeeni.as_str(), r.node.as_str())))
        .collect();
    // Owners of Create attempts, found walking the log backwards.
    let mut owners: Vec<Option<Owner>> = vec![None; calls.len()];
    // Per subnet: (attempt, owner) of later attempts not yet claimed by their predecessor.
    let mut later: HashMap<String, Vec<(u8, Option<Owner>)>> = HashMap::new();
    for (i, c) in calls.iter().enumerate().rev() {
        if c.action != Action::CreateNetworkInterface {
            continue;
        }
        let subnet = c.subnet.map(|s| s.to_string()).unwrap_or_default();
        let pending = later.entry(subnet).or_default();
        let own = match c.eni {
            Some(e) => owner_of
                .get(e.to_string().as_str())
                .map(|(n, d)| (n.to_string(), d.to_string())),
            None => {
                // The nearest later attempt numbered one more is this call's next one.
                let next = pending.iter().rposition(|(a, _)| *a == c.attempt + 1);
                next.and_then(|k| pending.remove(k).1)
            }
        };
        if c.attempt > 1 {
            pending.push((c.attempt, own.clone()));
        }
        owners[i] = own;
    }
    calls
        .iter()
        .zip(owners)
        .map(|(c, own)| {
            let (nodeeni, node) = own.map_or((None, None), |(n, d)| (Some(n), Some(d)));
            SynthCall {
                start_ns: c.start,
                end_ns: c.end,
                action: c.action.name().to_string(),
                error_code: c
                    .error
                    .filter(|e| !(c.dry_run && *e == crate::aws::ErrorCode::DryRunOperation))
                    .map(|e| e.as_str().to_string()),
                server_error: c.error.is_some_and(|e| e.is_server_error()),
                eni_id: c.eni.map(|x| x.to_string()),
                attachment_id: c.attachment.map(|x| x.to_string()),
                instance_id: c
                    .instance
                    .filter(|_| c.action != Action::DescribeNetworkInterfaces)
                    .map(|x| x.to_string()),
                subnet_id: c.subnet.map(|x| x.to_string()),
                device_index: c.device_index,
                dry_run: c.dry_run,
                force: (c.action == Action::DetachNetworkInterface).then_some(!c.dry_run),
                filtered_by_instance: c
                    .instance
                    .filter(|_| c.action == Action::DescribeNetworkInterfaces)
                    .map(|x| x.to_string()),
                client_token: None,
                caller: String::new(),
                principal: String::new(),
                nodeeni,
                node,
            }
        })
        .collect()
}
