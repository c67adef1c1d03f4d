//! A trail as calibration reads it: one row per call, from the table `trace ingest` makes
//! (a recorded trail) or `trace::synth_table` makes (a simulated one) — the same columns
//! through the same code, so recorded and simulated trails are measured alike.

use polars::prelude::*;

use crate::trace::{TraceError, CLASS_CONTROLLER};

/// One call of the trail.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// eventTime, whole seconds since the epoch (CloudTrail's resolution).
    pub t_s: i64,
    pub action: String,
    pub class: String,
    pub principal: Option<String>,
    /// Bare error code (`Client.`/`Server.` removed), `None` on success.
    pub error: Option<String>,
    /// A `Server.*` error.
    pub server_error: bool,
    pub throttled: bool,
    pub dry_run: bool,
    /// The ENI the call names (its own id, the first of a describe's ids, or resolved from
    /// the attachment id).
    pub eni: Option<String>,
    pub instance: Option<String>,
    pub nodeeni: Option<String>,
    pub node: Option<String>,
    pub subnet: Option<String>,
}

impl Call {
    pub fn is_controller(&self) -> bool {
        self.class == CLASS_CONTROLLER
    }

    /// Admitted by EC2 (a token taken): everything but a throttle.
    pub fn admitted(&self) -> bool {
        !self.throttled
    }

    /// Succeeded (a DryRun probe answered `DryRunOperation` counts as success).
    pub fn ok(&self) -> bool {
        self.error.is_none() || self.dry_run
    }

    /// Another caller's call of `action` at second `t`, throttled or admitted, naming
    /// nothing: what unit tests build trails from.
    #[cfg(test)]
    pub(crate) fn other(t: i64, action: &str, throttled: bool) -> Call {
        Call {
            t_s: t,
            action: action.into(),
            class: "other".into(),
            principal: None,
            error: throttled.then(|| "RequestLimitExceeded".into()),
            server_error: false,
            throttled,
            dry_run: false,
            eni: None,
            instance: None,
            nodeeni: None,
            node: None,
            subnet: None,
        }
    }
}

/// The calls of a trail in eventTime order (ties in the table's order).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Trail {
    pub calls: Vec<Call>,
}

fn strings(df: &DataFrame, name: &str) -> Result<Vec<Option<String>>, TraceError> {
    let col = df
        .column(name)
        .map_err(|_| TraceError::Table(format!("no column {name:?}")))?;
    let s = col.cast(&DataType::String)?;
    Ok(s.str()?.iter().map(|v| v.map(str::to_string)).collect())
}

impl Trail {
    pub fn from_frame(df: &DataFrame) -> Result<Trail, TraceError> {
        let time = df
            .column("time")
            .map_err(|_| TraceError::Table("no column \"time\"".into()))?
            .cast(&DataType::Int64)?;
        let time: Vec<Option<i64>> = time.i64()?.iter().collect();
        let throttled: Vec<Option<bool>> = df
            .column("throttled")
            .map_err(|_| TraceError::Table("no column \"throttled\"".into()))?
            .bool()?
            .iter()
            .collect();
        let action = strings(df, "action")?;
        let class = strings(df, "caller_class")?;
        let principal = strings(df, "principal")?;
        let error = strings(df, "error_code")?;
        let eni = strings(df, "eni_id")?;
        let eni_ids = strings(df, "eni_ids")?;
        let instance = strings(df, "instance_id")?;
        let nodeeni = strings(df, "nodeeni")?;
        let node = strings(df, "node")?;
        let subnet = strings(df, "nodeeni_subnet")?;
        let mut calls = Vec::with_capacity(df.height());
        for i in 0..df.height() {
            let t = time[i].ok_or_else(|| TraceError::Table(format!("row {i}: null time")))?;
            let code = error[i].clone();
            let bare = code
                .as_deref()
                .map(|c| crate::trace::bare_code(c).to_string());
            let dry_run = bare.as_deref() == Some("DryRunOperation");
            calls.push(Call {
                t_s: t.div_euclid(1_000_000_000),
                action: action[i].clone().unwrap_or_default(),
                class: class[i].clone().unwrap_or_default(),
                principal: principal[i].clone(),
                server_error: code.as_deref().is_some_and(|c| c.starts_with("Server.")),
                error: bare,
                throttled: throttled[i].unwrap_or(false),
                dry_run,
                eni: eni[i].clone().or_else(|| {
                    eni_ids[i]
                        .as_deref()
                        .and_then(|s| s.split(',').next())
                        .map(str::to_string)
                }),
                instance: instance[i].clone(),
                nodeeni: nodeeni[i].clone(),
                node: node[i].clone(),
                subnet: subnet[i].clone(),
            });
        }
        Ok(Trail { calls })
    }

    pub fn controller(&self) -> impl Iterator<Item = &Call> {
        self.calls.iter().filter(|c| c.is_controller())
    }

    /// First and last eventTime second, if any call.
    pub fn span(&self) -> Option<(i64, i64)> {
        let first = self.calls.iter().map(|c| c.t_s).min()?;
        let last = self.calls.iter().map(|c| c.t_s).max()?;
        Some((first, last))
    }

    /// The calls' caller classes with their counts (for "no controller calls" errors).
    pub fn classes(&self) -> Vec<(String, u64)> {
        let mut m = std::collections::BTreeMap::<String, u64>::new();
        for c in &self.calls {
            *m.entry(c.class.clone()).or_default() += 1;
        }
        m.into_iter().collect()
    }
}
