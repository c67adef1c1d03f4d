//! Per-action and per-caller summaries of a normalised table.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;

use polars::prelude::*;
use serde::Serialize;

use super::error::TraceError;
use super::table::{bare_code, is_throttle_code};

const NS: i64 = 1_000_000_000;

/// Calls of one action by one caller class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionStats {
    pub action: String,
    pub caller_class: String,
    pub calls: u64,
    /// Calls with an error code other than `DryRunOperation`.
    pub errors: u64,
    /// Calls answered `DryRunOperation` (a successful permission probe).
    pub dry_runs: u64,
    pub throttles: u64,
    /// Most calls within one second (eventTime has one-second resolution).
    pub peak_per_s: u64,
    /// Most calls within any 60 s window.
    pub max_per_min: u64,
    /// Calls per minute over the whole table's time span (at least one minute).
    pub mean_per_min: f64,
}

/// A pair of calls on the same ENI whose gap is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GapKind {
    /// Successful CreateNetworkInterface → the ENI's first AttachNetworkInterface call.
    CreateToAttach,
    /// Successful AttachNetworkInterface → the first DescribeNetworkInterfaces naming the ENI.
    AttachToDescribe,
    /// Successful DetachNetworkInterface → the ENI's first successful DeleteNetworkInterface.
    DetachToDelete,
}

impl GapKind {
    pub fn label(self) -> &'static str {
        match self {
            GapKind::CreateToAttach => "create->attach",
            GapKind::AttachToDescribe => "attach->describe",
            GapKind::DetachToDelete => "detach->delete",
        }
    }
}

/// Quantiles of one gap kind (seconds; linear interpolation between order statistics).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GapStats {
    pub pair: GapKind,
    /// Caller class of the pair's first call.
    pub caller_class: String,
    pub n: u64,
    pub p50_s: f64,
    pub p95_s: f64,
    pub p99_s: f64,
    pub max_s: f64,
}

/// The result of [`stats`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatsTable {
    pub rows: u64,
    /// First and last eventTime (ns since the epoch), if any rows.
    pub first_ns: Option<i64>,
    pub last_ns: Option<i64>,
    /// The span used for mean rates, in seconds (at least 60).
    pub span_s: f64,
    pub actions: Vec<ActionStats>,
    pub gaps: Vec<GapStats>,
}

/// A string column as dictionary codes (`NULL`: null), read without materialising strings.
pub(crate) struct StrCol {
    pub(crate) codes: Vec<u32>,
    pub(crate) dict: Vec<String>,
}

pub(crate) const NULL: u32 = u32::MAX;

impl StrCol {
    pub(crate) fn get(&self, i: usize) -> Option<&str> {
        let c = self.codes[i];
        if c == NULL {
            None
        } else {
            self.dict.get(c as usize).map(String::as_str)
        }
    }
}

pub(crate) fn str_col(df: &DataFrame, name: &str) -> Result<StrCol, TraceError> {
    let col = df
        .column(name)
        .map_err(|_| TraceError::Table(format!("no column {name:?}")))?;
    let mut dict = Vec::new();
    let mut codes = Vec::with_capacity(col.len());
    if let DataType::Categorical(cats, _) = col.dtype() {
        if cats.physical() == CategoricalPhysical::U32 {
            // Dictionary codes directly: no string column is materialised.
            let ca = col.as_materialized_series().cat32()?;
            let mapping = ca.get_mapping();
            let mut local: HashMap<u32, u32> = HashMap::new();
            for cat in ca.physical().iter() {
                codes.push(match cat {
                    None => NULL,
                    Some(c) => *local.entry(c).or_insert_with(|| {
                        dict.push(mapping.cat_to_str(c).unwrap_or("").to_string());
                        (dict.len() - 1) as u32
                    }),
                });
            }
            return Ok(StrCol { codes, dict });
        }
    }
    let s = col.cast(&DataType::String)?;
    let ca = s.str()?;
    let mut map: HashMap<&str, u32> = HashMap::new();
    for v in ca.iter() {
        codes.push(match v {
            None => NULL,
            Some(v) => *map.entry(v).or_insert_with(|| {
                dict.push(v.to_string());
                (dict.len() - 1) as u32
            }),
        });
    }
    Ok(StrCol { codes, dict })
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}

/// The order of an ENI's lifecycle calls within one second (eventTime's resolution):
/// create, attach, modify, the rest, detach, delete.
pub fn lifecycle_rank(action: &str) -> u8 {
    match action {
        "CreateNetworkInterface" => 0,
        "AttachNetworkInterface" => 1,
        "ModifyNetworkInterfaceAttribute" => 2,
        "DetachNetworkInterface" => 4,
        "DeleteNetworkInterface" => 5,
        _ => 3,
    }
}

/// Per action and caller class: calls, errors, throttles, peak calls per second, the
/// busiest and the mean minute; and the gaps between paired calls on the same ENI
/// (create → attach, attach → first describe naming the ENI, detach → delete).
pub fn stats(df: &DataFrame) -> Result<StatsTable, TraceError> {
    let n = df.height();
    let time_col = df
        .column("time")
        .map_err(|_| TraceError::Table("no column \"time\"".into()))?
        .cast(&DataType::Int64)?;
    let time_ca = time_col.i64()?;
    let time: std::borrow::Cow<'_, [i64]> = match time_ca.cont_slice() {
        Ok(slice) => std::borrow::Cow::Borrowed(slice),
        Err(_) => {
            let mut v = Vec::with_capacity(n);
            for (i, t) in time_ca.iter().enumerate() {
                v.push(t.ok_or_else(|| TraceError::Table(format!("row {i}: null time")))?);
            }
            std::borrow::Cow::Owned(v)
        }
    };
    let action = str_col(df, "action")?;
    let class = str_col(df, "caller_class")?;
    let error = str_col(df, "error_code")?;
    let eni = str_col(df, "eni_id")?;
    // `eni_ids` is null on almost every row: keep only the rows that have it.
    let eni_set: HashMap<u32, String> = match df.column("eni_ids") {
        Ok(c) if matches!(c.dtype(), DataType::Categorical(cats, _) if cats.physical() == CategoricalPhysical::U32) =>
        {
            let ca = c.as_materialized_series().cat32()?;
            let mapping = ca.get_mapping();
            ca.physical()
                .iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    v.map(|cat| (i as u32, mapping.cat_to_str(cat).unwrap_or("").to_string()))
                })
                .collect()
        }
        Ok(c) => {
            let strings = c.cast(&DataType::String)?;
            strings
                .str()?
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| (i as u32, v.to_string())))
                .collect()
        }
        Err(_) => HashMap::new(),
    };

    // Time order; within one timestamp (eventTime has one-second resolution), lifecycle
    // order, so that gaps do not depend on the order files listed same-second records.
    let rank: Vec<u8> = action.dict.iter().map(|a| lifecycle_rank(a)).collect();
    let rank_of = |i: usize| rank.get(action.codes[i] as usize).copied().unwrap_or(3);
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.sort_by_key(|&i| (time[i as usize], rank_of(i as usize), i));

    let first_ns = order.first().map(|&i| time[i as usize]);
    let last_ns = order.last().map(|&i| time[i as usize]);
    let span_s = match (first_ns, last_ns) {
        (Some(a), Some(b)) => ((b.div_euclid(NS) - a.div_euclid(NS) + 1) as f64).max(60.0),
        _ => 60.0,
    };

    // Per (action, class), in one pass in time order: counts, the busiest second and the
    // busiest 60 s window (a queue of the window ends of the calls still inside it).
    #[derive(Default)]
    struct Acc {
        calls: u64,
        errors: u64,
        dry: u64,
        throttles: u64,
        cur_s: Option<i64>,
        run: u64,
        peak_s: u64,
        window: VecDeque<i64>,
        max_min: u64,
    }
    let mut groups: HashMap<(u32, u32), Acc> = HashMap::new();
    let err_is_dry: Vec<bool> = error
        .dict
        .iter()
        .map(|c| bare_code(c) == "DryRunOperation")
        .collect();
    let err_is_throttle: Vec<bool> = error.dict.iter().map(|c| is_throttle_code(c)).collect();
    for &i in &order {
        let i = i as usize;
        let acc = groups.entry((action.codes[i], class.codes[i])).or_default();
        let t = time[i];
        acc.calls += 1;
        let sec = t.div_euclid(NS);
        if acc.cur_s == Some(sec) {
            acc.run += 1;
        } else {
            acc.cur_s = Some(sec);
            acc.run = 1;
        }
        acc.peak_s = acc.peak_s.max(acc.run);
        // A window starts at a call's second and lasts 60 s; the most calls in one window is
        // the most calls whose windows still cover this call.
        while acc.window.front().is_some_and(|&end| end <= t) {
            acc.window.pop_front();
        }
        acc.window
            .push_back(sec.saturating_mul(NS).saturating_add(60 * NS));
        acc.max_min = acc.max_min.max(acc.window.len() as u64);
        let ec = error.codes[i];
        if ec != NULL {
            if err_is_dry[ec as usize] {
                acc.dry += 1;
            } else {
                acc.errors += 1;
            }
            if err_is_throttle[ec as usize] {
                acc.throttles += 1;
            }
        }
    }
    let name = |col: &StrCol, c: u32| {
        if c == NULL {
            String::new()
        } else {
            col.dict.get(c as usize).cloned().unwrap_or_default()
        }
    };
    let mut groups: Vec<((String, String), Acc)> = groups
        .into_iter()
        .map(|((a, c), acc)| ((name(&action, a), name(&class, c)), acc))
        .collect();
    groups.sort_by(|x, y| x.0.cmp(&y.0));
    let actions: Vec<ActionStats> = groups
        .into_iter()
        .map(|((a, c), acc)| ActionStats {
            action: a,
            caller_class: c,
            calls: acc.calls,
            errors: acc.errors,
            dry_runs: acc.dry,
            throttles: acc.throttles,
            peak_per_s: acc.peak_s,
            max_per_min: acc.max_min,
            mean_per_min: acc.calls as f64 / (span_s / 60.0),
        })
        .collect();

    // Gaps between paired calls on one ENI.
    #[derive(Default)]
    struct Pending {
        created: Option<(i64, u32)>,
        attached: Option<(i64, u32)>,
        detached: Option<(i64, u32)>,
    }
    let mut pending: HashMap<u32, Pending> = HashMap::new();
    let mut gaps: BTreeMap<(GapKind, u32), Vec<f64>> = BTreeMap::new();
    let secs = |a: i64, b: i64| (i128::from(b) - i128::from(a)) as f64 / NS as f64;
    // ENIs named in `eni_ids` lists, as codes of the `eni_id` column.
    let eni_code: HashMap<&str, u32> = if eni_set.is_empty() {
        HashMap::new()
    } else {
        eni.dict
            .iter()
            .enumerate()
            .map(|(c, s)| (s.as_str(), c as u32))
            .collect()
    };
    let mut named: Vec<u32> = Vec::new();
    for &i in &order {
        let i = i as usize;
        let Some(act) = action.get(i) else { continue };
        let ok = error.codes[i] == NULL;
        let cls = class.codes[i];
        let t = time[i];
        match act {
            "CreateNetworkInterface"
            | "AttachNetworkInterface"
            | "DetachNetworkInterface"
            | "DeleteNetworkInterface" => {
                let e = eni.codes[i];
                if e == NULL {
                    continue;
                }
                let p = pending.entry(e).or_default();
                match act {
                    "CreateNetworkInterface" if ok => p.created = Some((t, cls)),
                    "AttachNetworkInterface" => {
                        if let Some((t0, c0)) = p.created.take() {
                            gaps.entry((GapKind::CreateToAttach, c0))
                                .or_default()
                                .push(secs(t0, t));
                        }
                        if ok {
                            p.attached = Some((t, cls));
                        }
                    }
                    "DetachNetworkInterface" if ok => p.detached = Some((t, cls)),
                    "DeleteNetworkInterface" if ok => {
                        if let Some((t0, c0)) = p.detached.take() {
                            gaps.entry((GapKind::DetachToDelete, c0))
                                .or_default()
                                .push(secs(t0, t));
                        }
                        pending.remove(&e);
                    }
                    _ => {}
                }
            }
            "DescribeNetworkInterfaces" => {
                named.clear();
                if let Some(list) = eni_set.get(&(i as u32)) {
                    named.extend(list.split(',').filter_map(|s| eni_code.get(s).copied()));
                } else if eni.codes[i] != NULL {
                    named.push(eni.codes[i]);
                }
                for e in &named {
                    if let Some(p) = pending.get_mut(e) {
                        if let Some((t0, c0)) = p.attached.take() {
                            gaps.entry((GapKind::AttachToDescribe, c0))
                                .or_default()
                                .push(secs(t0, t));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let mut gap_rows = Vec::new();
    for ((kind, c), mut v) in gaps {
        v.sort_by(f64::total_cmp);
        gap_rows.push(GapStats {
            pair: kind,
            caller_class: class.dict.get(c as usize).cloned().unwrap_or_default(),
            n: v.len() as u64,
            p50_s: quantile(&v, 0.50),
            p95_s: quantile(&v, 0.95),
            p99_s: quantile(&v, 0.99),
            max_s: v.last().copied().unwrap_or(f64::NAN),
        });
    }
    Ok(StatsTable {
        rows: n as u64,
        first_ns,
        last_ns,
        span_s,
        actions,
        gaps: gap_rows,
    })
}

fn fmt_rate(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

fn render(headers: &[&str], rows: &[Vec<String>], numeric_from: usize) -> String {
    let mut w: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &[String]| {
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            if i >= numeric_from {
                let _ = write!(out, "{c:>width$}", width = w[i]);
            } else {
                let _ = write!(out, "{c:<width$}", width = w[i]);
            }
        }
        while out.ends_with(' ') {
            out.pop();
        }
        out.push('\n');
    };
    let hs: Vec<String> = headers.iter().map(|h| (*h).to_string()).collect();
    line(&mut out, &hs);
    let rule: Vec<String> = w.iter().map(|n| "-".repeat(*n)).collect();
    line(&mut out, &rule);
    for r in rows {
        line(&mut out, r);
    }
    out
}

const ACTION_HEADERS: [&str; 9] = [
    "action",
    "caller_class",
    "calls",
    "errors",
    "dry_runs",
    "throttles",
    "peak_per_s",
    "max_per_min",
    "mean_per_min",
];

const GAP_HEADERS: [&str; 7] = [
    "pair",
    "caller_class",
    "n",
    "p50_s",
    "p95_s",
    "p99_s",
    "max_s",
];

impl StatsTable {
    fn action_rows(&self) -> Vec<Vec<String>> {
        self.action_rows_with(fmt_rate)
    }

    fn action_rows_with(&self, rate: fn(f64) -> String) -> Vec<Vec<String>> {
        self.actions
            .iter()
            .map(|a| {
                vec![
                    a.action.clone(),
                    a.caller_class.clone(),
                    a.calls.to_string(),
                    a.errors.to_string(),
                    a.dry_runs.to_string(),
                    a.throttles.to_string(),
                    a.peak_per_s.to_string(),
                    a.max_per_min.to_string(),
                    rate(a.mean_per_min),
                ]
            })
            .collect()
    }

    fn gap_rows(&self) -> Vec<Vec<String>> {
        self.gap_rows_with(|x| format!("{x:.1}"))
    }

    fn gap_rows_with(&self, num: fn(f64) -> String) -> Vec<Vec<String>> {
        self.gaps
            .iter()
            .map(|g| {
                vec![
                    g.pair.label().to_string(),
                    g.caller_class.clone(),
                    g.n.to_string(),
                    num(g.p50_s),
                    num(g.p95_s),
                    num(g.p99_s),
                    num(g.max_s),
                ]
            })
            .collect()
    }

    /// Two aligned text tables (calls, then gaps).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let span = match (self.first_ns, self.last_ns) {
            (Some(a), Some(b)) => format!(
                "{} .. {}",
                super::time::format_time_s(a),
                super::time::format_time_s(b)
            ),
            _ => "empty".to_string(),
        };
        let _ = writeln!(
            out,
            "{} calls, {span} (rates over {:.0} s)\n",
            self.rows, self.span_s
        );
        out.push_str(&render(&ACTION_HEADERS, &self.action_rows(), 2));
        out.push('\n');
        if self.gaps.is_empty() {
            out.push_str("no paired calls (create->attach, attach->describe, detach->delete)\n");
        } else {
            out.push_str("gaps between paired calls on one ENI (seconds)\n");
            out.push_str(&render(&GAP_HEADERS, &self.gap_rows(), 2));
        }
        out
    }

    /// The whole table as pretty JSON.
    pub fn to_json(&self) -> String {
        // Serialising plain structs of strings and numbers cannot fail; NaN becomes null.
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    fn csv_of(headers: &[&str], rows: &[Vec<String>]) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record(headers);
        for r in rows {
            let _ = w.write_record(r);
        }
        let bytes = w.into_inner().unwrap_or_default();
        String::from_utf8(bytes).unwrap_or_default()
    }

    /// The per-action table as CSV (one header line).
    pub fn to_csv(&self) -> String {
        Self::csv_of(&ACTION_HEADERS, &self.action_rows_with(|x| x.to_string()))
    }

    /// The gap quantiles as CSV (one header line).
    pub fn gaps_to_csv(&self) -> String {
        Self::csv_of(&GAP_HEADERS, &self.gap_rows_with(|x| x.to_string()))
    }

    /// Row of one action and caller class.
    pub fn action(&self, action: &str, caller_class: &str) -> Option<&ActionStats> {
        self.actions
            .iter()
            .find(|a| a.action == action && a.caller_class == caller_class)
    }
}

#[cfg(test)]
mod tests {
    use super::quantile;

    #[test]
    fn quantiles_interpolate() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 1.0), 4.0);
        assert!((quantile(&v, 0.5) - 2.5).abs() < 1e-12);
        assert!(quantile(&[], 0.5).is_nan());
    }
}
