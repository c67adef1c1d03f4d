//! A simulated run's EC2 attempts as CloudTrail calls (for `synth`): every attempt the
//! model made becomes one record, with the controller's user agent.

use super::synth::SynthCall;
use crate::aws::{Action, CallRecord};

/// The calls of one replication, in the order they were made.
pub fn synth_calls(calls: &[CallRecord]) -> Vec<SynthCall> {
    calls
        .iter()
        .map(|c| SynthCall {
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
        })
        .collect()
}
