//! The figures of one run (`run --out`), from its tables: ENI timelines, workers and
//! queue, EC2 calls per second, bucket tokens, CPU and memory, and the distributions of
//! creation and attachment times. Timelines are of replication 0 (every replication's
//! rows are in the tables); the distributions pool every replication.

use super::*;
use crate::metrics::series::{CPU_MILLICORES, MEMORY_MIB, QUEUE_DEPTH, TOKENS};
use crate::report::run_dir::RunTables;
use std::collections::BTreeMap;

/// The replication the timelines show.
pub const SHOWN: u32 = 0;

/// Colours of an ENI's phases.
pub const CREATING: RGBColor = RGBColor(31, 119, 180);
pub const ATTACHING: RGBColor = RGBColor(255, 127, 14);
pub const NEVER_ATTACHED: RGBColor = RGBColor(198, 40, 40);

/// Every figure of a run, in the report's order.
pub fn figures(t: &RunTables) -> Result<Vec<Figure>, String> {
    Ok(vec![
        render(&EniTimelines::from_tables(t))?,
        render(&WorkersQueue::from_tables(t))?,
        render(&Ec2Calls::from_tables(t))?,
        render(&BucketTokens::from_tables(t))?,
        render(&CpuMemory::from_tables(t))?,
        render(&Durations::from_tables(t))?,
    ])
}

fn end_of(t: &RunTables) -> f64 {
    t.end_s.get(SHOWN as usize).copied().unwrap_or(1.0).max(1.0)
}

/// A chart over the run's time (0 to `end_s` seconds) with counts or levels up to `y_top`.
fn time_chart<'a, DB: DrawingBackend + 'a>(
    area: &'a DrawingArea<DB, Shift>,
    title: &str,
    end_s: f64,
    y_top: f64,
    y_desc: &str,
) -> Result<Chart2d<'a, DB>, DrawingAreaErrorKind<DB::ErrorType>> {
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..end_s, 0f64..y_top)?;
    chart
        .configure_mesh()
        .x_desc("time since the run started (s)")
        .y_desc(y_desc)
        .label_style((FONT, 12))
        .draw()?;
    Ok(chart)
}

// ---- ENI timelines ---------------------------------------------------------------------

/// One ENI: requested → created → attached.
#[derive(Debug, Clone, PartialEq)]
pub struct EniBar {
    pub eni: String,
    pub nodeeni: String,
    pub requested_s: f64,
    pub created_s: f64,
    pub attached_s: Option<f64>,
    pub churned: bool,
    pub gone_s: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EniTimelines {
    /// Grouped by NodeENI (in natural order), then by creation.
    pub bars: Vec<EniBar>,
    /// (NodeENI, first bar, bars).
    pub groups: Vec<(String, usize, usize)>,
    pub end_s: f64,
}

/// `multi-eni-10` after `multi-eni-9`.
fn natural_key(s: &str) -> (String, u64) {
    let digits = s.len() - s.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (stem, num) = s.split_at(s.len() - digits);
    (stem.to_string(), num.parse().unwrap_or(0))
}

impl EniTimelines {
    pub fn from_tables(t: &RunTables) -> EniTimelines {
        let mut bars: Vec<EniBar> = t
            .enis
            .iter()
            .filter(|e| e.replication == SHOWN)
            .map(|e| EniBar {
                eni: e.eni.clone(),
                nodeeni: e.nodeeni.clone(),
                requested_s: e.requested_s,
                created_s: e.created_s,
                attached_s: e.ec2_attached_s,
                churned: e.fate == "ChurnedAfterAttachFailure",
                gone_s: e.gone_s,
            })
            .collect();
        bars.sort_by(|a, b| {
            natural_key(&a.nodeeni)
                .cmp(&natural_key(&b.nodeeni))
                .then(a.created_s.total_cmp(&b.created_s))
        });
        let mut groups: Vec<(String, usize, usize)> = Vec::new();
        for (i, b) in bars.iter().enumerate() {
            match groups.last_mut() {
                Some(g) if g.0 == b.nodeeni => g.2 += 1,
                _ => groups.push((b.nodeeni.clone(), i, 1)),
            }
        }
        let end_s = end_of(t).max(
            bars.iter()
                .map(|b| b.attached_s.unwrap_or(b.created_s))
                .fold(0.0, f64::max),
        );
        EniTimelines {
            bars,
            groups,
            end_s,
        }
    }
}

impl Plot for EniTimelines {
    fn name(&self) -> String {
        "eni_timelines".into()
    }
    fn title(&self) -> String {
        "ENI timelines: requested → created → attached, by NodeENI".into()
    }
    fn caption(&self) -> String {
        let never = self.bars.iter().filter(|b| b.attached_s.is_none()).count();
        let churned = self.bars.iter().filter(|b| b.churned).count();
        format!(
            "Replication {SHOWN}: {} ENIs in {} NodeENIs (enis.csv). Blue: NodeENI created → ENI created in EC2; \
             orange: ENI created → attached in EC2; red: never attached ({never}); × where a churned ENI was deleted ({churned}).",
            self.bars.len(),
            self.groups.len()
        )
    }
    fn size(&self) -> (u32, u32) {
        (960, (220 + 5 * self.bars.len() as u32).clamp(420, 1400))
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let n = self.bars.len().max(1) as f64;
        let x_end = self.end_s * 1.02;
        let mut chart = ChartBuilder::on(root)
            .caption("ENI timelines (replication 0)", (FONT, 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(110)
            .build_cartesian_2d(0f64..x_end, 0f64..n)?;
        let groups = self.groups.clone();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc("time since the run started (s)")
            .y_desc("ENI, grouped by NodeENI")
            .y_labels(self.groups.len().max(2) * 4)
            .y_label_formatter(&move |y: &f64| {
                // The NodeENI's name at the middle of its band.
                groups
                    .iter()
                    .find(|(_, first, len)| {
                        let mid = *first as f64 + *len as f64 / 2.0;
                        (y - mid).abs() < (*len as f64 / 4.0).max(0.5)
                    })
                    .map(|g| g.0.clone())
                    .unwrap_or_default()
            })
            .label_style((FONT, 12))
            .draw()?;
        // Alternate bands per NodeENI.
        chart.draw_series(
            self.groups
                .iter()
                .enumerate()
                .filter(|(k, _)| k % 2 == 1)
                .map(|(_, (_, first, len))| {
                    Rectangle::new(
                        [(0.0, *first as f64), (x_end, (*first + *len) as f64)],
                        BLACK.mix(0.05).filled(),
                    )
                }),
        )?;
        let y = |i: usize| (i as f64 + 0.15, i as f64 + 0.85);
        chart
            .draw_series(self.bars.iter().enumerate().map(|(i, b)| {
                let (lo, hi) = y(i);
                Rectangle::new([(b.requested_s, lo), (b.created_s, hi)], CREATING.filled())
            }))?
            .label("NodeENI created -> ENI created")
            .legend(legend_box(CREATING));
        chart
            .draw_series(self.bars.iter().enumerate().filter_map(|(i, b)| {
                let (lo, hi) = y(i);
                b.attached_s
                    .map(|a| Rectangle::new([(b.created_s, lo), (a, hi)], ATTACHING.filled()))
            }))?
            .label("ENI created -> attached")
            .legend(legend_box(ATTACHING));
        chart
            .draw_series(self.bars.iter().enumerate().filter_map(|(i, b)| {
                let (lo, hi) = y(i);
                b.attached_s.is_none().then(|| {
                    Rectangle::new(
                        [(b.created_s, lo), (b.gone_s.unwrap_or(self.end_s), hi)],
                        NEVER_ATTACHED.mix(0.6).filled(),
                    )
                })
            }))?
            .label("never attached")
            .legend(legend_box(NEVER_ATTACHED.mix(0.6)));
        chart
            .draw_series(
                self.bars
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| b.churned)
                    .map(|(i, b)| {
                        Cross::new(
                            (b.gone_s.unwrap_or(self.end_s), i as f64 + 0.5),
                            4,
                            BLACK.stroke_width(2),
                        )
                    }),
            )?
            .label("churned: deleted after a failed attach")
            .legend(|(x, y)| Cross::new((x + 7, y), 4, BLACK.stroke_width(2)));
        draw_legend(&mut chart, SeriesLabelPosition::LowerRight)
    }
}

// ---- workers and queue -----------------------------------------------------------------

/// A step function: (time, level from then on).
pub type Steps = Vec<(f64, f64)>;

/// Busy workers over time from the reconciles' intervals.
pub fn busy_steps(reconciles: &[(f64, f64)]) -> Steps {
    let mut events: Vec<(f64, i64)> = reconciles
        .iter()
        .flat_map(|(s, e)| [(*s, 1), (*e, -1)])
        .collect();
    // Ends before starts at the same instant: a worker hands over, never two at once.
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut level = 0i64;
    let mut out = vec![(0.0, 0.0)];
    for (t, d) in events {
        level += d;
        out.push((t, level as f64));
    }
    out
}

/// Points drawing a step function as a line.
fn step_points(steps: &[(f64, f64)], end: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(steps.len() * 2 + 1);
    let mut prev: Option<f64> = None;
    for (t, v) in steps {
        if let Some(p) = prev {
            out.push((*t, p));
        }
        out.push((*t, *v));
        prev = Some(*v);
    }
    if let Some(p) = prev {
        out.push((end, p));
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
pub struct WorkersQueue {
    pub busy: Steps,
    pub queue: Steps,
    pub workers: u32,
    pub end_s: f64,
}

impl WorkersQueue {
    pub fn from_tables(t: &RunTables) -> WorkersQueue {
        let intervals: Vec<(f64, f64)> = t
            .reconciles
            .iter()
            .filter(|r| r.replication == SHOWN)
            .map(|r| (r.start_s, r.end_s))
            .collect();
        WorkersQueue {
            busy: busy_steps(&intervals),
            queue: series_of(t, QUEUE_DEPTH, ""),
            workers: t.max_concurrent_reconciles,
            end_s: end_of(t),
        }
    }
}

fn series_of(t: &RunTables, series: &str, key: &str) -> Vec<(f64, f64)> {
    t.series
        .iter()
        .filter(|r| r.replication == SHOWN && r.series == series && r.key == key)
        .map(|r| (r.time_s, r.value))
        .collect()
}

impl Plot for WorkersQueue {
    fn name(&self) -> String {
        "workers_queue".into()
    }
    fn title(&self) -> String {
        "Reconcile workers busy and work-queue depth".into()
    }
    fn caption(&self) -> String {
        format!(
            "Replication {SHOWN}: reconcile workers busy (from reconciles.csv) and keys waiting in the work queue \
             (series.csv, queue_depth), against maxConcurrentReconciles = {}.",
            self.workers
        )
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let max = self
            .busy
            .iter()
            .chain(&self.queue)
            .map(|p| p.1)
            .fold(self.workers as f64, f64::max);
        let mut chart = time_chart(
            root,
            "Workers busy and queue depth (replication 0)",
            self.end_s,
            max * 1.15 + 0.5,
            "count",
        )?;
        chart
            .draw_series(LineSeries::new(
                step_points(&self.busy, self.end_s),
                palette(0).stroke_width(2),
            ))?
            .label("reconcile workers busy")
            .legend(legend_line(palette(0)));
        chart
            .draw_series(LineSeries::new(
                step_points(&self.queue, self.end_s),
                palette(1).stroke_width(2),
            ))?
            .label("work-queue depth (keys waiting)")
            .legend(legend_line(palette(1)));
        let w = self.workers as f64;
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, w), (self.end_s, w)],
                6,
                4,
                BLACK.stroke_width(1),
            ))?
            .label(format!("maxConcurrentReconciles {}", self.workers))
            .legend(legend_line(BLACK));
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight)
    }
}

// ---- EC2 calls per second --------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
pub struct Ec2Calls {
    /// Per action: attempts started in each second 0, 1, 2, …
    pub per_second: BTreeMap<String, Vec<u64>>,
    /// Throttled attempts started in each second (every action).
    pub throttled: Vec<u64>,
    pub end_s: f64,
}

impl Ec2Calls {
    pub fn from_tables(t: &RunTables) -> Ec2Calls {
        let end_s = end_of(t);
        let seconds = end_s.ceil() as usize + 1;
        let mut per_second: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        let mut throttled = vec![0u64; seconds];
        for c in t.calls.iter().filter(|c| c.replication == SHOWN) {
            let k = (c.start_s.max(0.0) as usize).min(seconds - 1);
            per_second
                .entry(c.action.clone())
                .or_insert_with(|| vec![0; seconds])[k] += 1;
            if c.throttled() {
                throttled[k] += 1;
            }
        }
        Ec2Calls {
            per_second,
            throttled,
            end_s,
        }
    }
}

impl Plot for Ec2Calls {
    fn name(&self) -> String {
        "ec2_calls".into()
    }
    fn title(&self) -> String {
        "EC2 calls per second, by action, with throttled attempts".into()
    }
    fn caption(&self) -> String {
        let total: u64 = self.per_second.values().flatten().sum();
        let throttled: u64 = self.throttled.iter().sum();
        format!(
            "Replication {SHOWN}: the controller's {total} EC2 attempts (calls.csv) per second of start, one line per action; \
             red × = throttled attempts in that second ({throttled} in all)."
        )
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let max = self
            .per_second
            .values()
            .flatten()
            .copied()
            .max()
            .unwrap_or(1)
            .max(1) as f64;
        let mut chart = time_chart(
            root,
            "EC2 attempts per second (replication 0)",
            self.end_s,
            max * 1.1,
            "attempts per second",
        )?;
        for (i, (action, counts)) in self.per_second.iter().enumerate() {
            let color = palette(i);
            chart
                .draw_series(LineSeries::new(
                    counts
                        .iter()
                        .enumerate()
                        .map(|(k, n)| (k as f64 + 0.5, *n as f64)),
                    color.stroke_width(2),
                ))?
                .label(action.clone())
                .legend(legend_line(color));
        }
        chart
            .draw_series(
                self.throttled
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| **n > 0)
                    .map(|(k, n)| {
                        Cross::new((k as f64 + 0.5, *n as f64), 5, CRITICAL.stroke_width(2))
                    }),
            )?
            .label("throttled attempts")
            .legend(|(x, y)| Cross::new((x + 7, y), 5, CRITICAL.stroke_width(2)));
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight)
    }
}

// ---- bucket tokens ---------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
pub struct BucketTokens {
    /// Buckets that fell below full at some second, with their levels each second.
    pub drawn: BTreeMap<String, Vec<(f64, f64)>>,
    /// Buckets that stayed full.
    pub full: Vec<String>,
    pub end_s: f64,
}

impl BucketTokens {
    pub fn from_tables(t: &RunTables) -> BucketTokens {
        let mut all: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        for r in t
            .series
            .iter()
            .filter(|r| r.replication == SHOWN && r.series == TOKENS)
        {
            all.entry(r.key.clone())
                .or_default()
                .push((r.time_s, r.value));
        }
        let mut drawn = BTreeMap::new();
        let mut full = Vec::new();
        for (bucket, levels) in all {
            let max = levels.iter().map(|p| p.1).fold(f64::MIN, f64::max);
            if levels.iter().any(|p| p.1 < max) {
                drawn.insert(bucket, levels);
            } else {
                full.push(bucket);
            }
        }
        BucketTokens {
            drawn,
            full,
            end_s: end_of(t),
        }
    }
}

impl Plot for BucketTokens {
    fn name(&self) -> String {
        "bucket_tokens".into()
    }
    fn title(&self) -> String {
        "Tokens left in each EC2 bucket".into()
    }
    fn caption(&self) -> String {
        format!(
            "Replication {SHOWN}: tokens in the account's EC2 request buckets each second (series.csv, tokens); \
             a bucket at zero throttles. {} bucket(s) drawn; {} stayed full throughout and are left out{}.",
            self.drawn.len(),
            self.full.len(),
            if self.full.is_empty() {
                String::new()
            } else {
                format!(" ({})", self.full.join(", "))
            }
        )
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let max = self
            .drawn
            .values()
            .flatten()
            .map(|p| p.1)
            .fold(1.0, f64::max);
        let mut chart = time_chart(
            root,
            "EC2 bucket tokens (replication 0)",
            self.end_s,
            max * 1.1,
            "tokens",
        )?;
        for (i, (bucket, levels)) in self.drawn.iter().enumerate() {
            let color = palette(i);
            chart
                .draw_series(LineSeries::new(
                    levels.iter().copied(),
                    color.stroke_width(2),
                ))?
                .label(bucket.clone())
                .legend(legend_line(color));
        }
        if self.drawn.is_empty() {
            root.draw(&Text::new(
                "every bucket stayed full: the controller never drew a bucket down",
                (120, 200),
                (FONT, 16),
            ))?;
            return Ok(());
        }
        draw_legend(&mut chart, SeriesLabelPosition::LowerRight)
    }
}

// ---- CPU and memory --------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
pub struct CpuMemory {
    /// Millicores over each window, at the window's end.
    pub cpu: Vec<(f64, f64)>,
    pub memory: Vec<(f64, f64)>,
    pub cpu_levels: Vec<Level>,
    pub memory_levels: Vec<Level>,
    pub end_s: f64,
}

impl CpuMemory {
    pub fn from_tables(t: &RunTables) -> CpuMemory {
        let lv = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| t.thresholds.metrics.get(*n))
                .map(levels)
                .unwrap_or_default()
        };
        CpuMemory {
            cpu: series_of(t, CPU_MILLICORES, ""),
            memory: series_of(t, MEMORY_MIB, ""),
            cpu_levels: lv(&["cpu_peak_millicores", "cpu_p95_millicores"]),
            memory_levels: lv(&["memory_peak_mib", "memory_p95_mib"]),
            end_s: end_of(t),
        }
    }
}

impl Plot for CpuMemory {
    fn name(&self) -> String {
        "cpu_memory".into()
    }
    fn title(&self) -> String {
        "Controller CPU (10 s windows) and memory, with thresholds".into()
    }
    fn caption(&self) -> String {
        "Replication 0: the controller's CPU over sliding windows (at each window's end) and its working set each second \
         (series.csv), with the acceptable, warning and critical levels of the thresholds."
            .into()
    }
    fn size(&self) -> (u32, u32) {
        (960, 640)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let (top, bottom) = root.split_vertically(320);
        for (area, points, lv, label, unit, title) in [
            (
                &top,
                &self.cpu,
                &self.cpu_levels,
                "CPU (millicores)",
                "m",
                "Controller CPU, 10 s windows (replication 0)",
            ),
            (
                &bottom,
                &self.memory,
                &self.memory_levels,
                "memory (MiB)",
                "Mi",
                "Controller memory, working set (replication 0)",
            ),
        ] {
            let max = points.iter().map(|p| p.1).fold(0.0, f64::max);
            let top_y = axis_top(max, &lv.iter().map(|l| l.value).collect::<Vec<_>>());
            let mut chart = ChartBuilder::on(area)
                .caption(title, (FONT, 18))
                .margin(10)
                .x_label_area_size(36)
                .y_label_area_size(60)
                .build_cartesian_2d(0f64..self.end_s, 0f64..top_y)?;
            chart
                .configure_mesh()
                .x_desc("time since the run started (s)")
                .y_desc(label)
                .label_style((FONT, 12))
                .draw()?;
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    palette(0).stroke_width(2),
                ))?
                .label(label.to_string())
                .legend(legend_line(palette(0)));
            draw_levels(&mut chart, (0.0, self.end_s), lv, unit)?;
            draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        }
        Ok(())
    }
}

// ---- distributions ---------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
pub struct Durations {
    /// NodeENI created → ENI created, every replication, sorted.
    pub creation: Vec<f64>,
    /// ENI created → attached in EC2, every replication, sorted.
    pub attachment: Vec<f64>,
    pub creation_levels: Vec<Level>,
    pub attachment_levels: Vec<Level>,
    pub replications: usize,
}

impl Durations {
    pub fn from_tables(t: &RunTables) -> Durations {
        let mut creation: Vec<f64> = t.enis.iter().map(|e| e.created_s - e.requested_s).collect();
        let mut attachment: Vec<f64> = t
            .enis
            .iter()
            .filter_map(|e| e.ec2_attached_s.map(|a| a - e.created_s))
            .collect();
        creation.sort_by(f64::total_cmp);
        attachment.sort_by(f64::total_cmp);
        let lv = |n: &str| t.thresholds.metrics.get(n).map(levels).unwrap_or_default();
        Durations {
            creation,
            attachment,
            creation_levels: lv("eni_creation_p95_s"),
            attachment_levels: lv("eni_attachment_p95_s"),
            replications: t.replications,
        }
    }
}

impl Plot for Durations {
    fn name(&self) -> String {
        "durations".into()
    }
    fn title(&self) -> String {
        "Distribution of ENI creation and attachment times".into()
    }
    fn caption(&self) -> String {
        format!(
            "Every ENI of all {} replications (enis.csv): the share of ENIs created (left) or attached (right) within t seconds. \
             The thresholds judge the 95th percentile (dotted line at 0.95); ENIs never attached are not in the right panel.",
            self.replications
        )
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let (left, right) = root.split_horizontally(480);
        let (left, right) = (left.margin(0, 0, 0, 0), right);
        for (area, xs, lv, title) in [
            (
                &left,
                &self.creation,
                &self.creation_levels,
                "ENI creation time (NodeENI created -> ENI exists)",
            ),
            (
                &right,
                &self.attachment,
                &self.attachment_levels,
                "ENI attachment time (created -> attached)",
            ),
        ] {
            let max = xs.last().copied().unwrap_or(1.0);
            let x_top = axis_top(max, &lv.iter().map(|l| l.value).collect::<Vec<_>>());
            let mut chart = ChartBuilder::on(area)
                .caption(title, (FONT, 15))
                .margin(10)
                .x_label_area_size(36)
                .y_label_area_size(50)
                .build_cartesian_2d(0f64..x_top, 0f64..1.02)?;
            chart
                .configure_mesh()
                .x_desc("seconds")
                .y_desc("share of ENIs")
                .label_style((FONT, 12))
                .draw()?;
            let n = xs.len().max(1) as f64;
            chart
                .draw_series(LineSeries::new(
                    xs.iter().enumerate().map(|(i, x)| (*x, (i + 1) as f64 / n)),
                    palette(0).stroke_width(2),
                ))?
                .label(format!("{} ENIs", xs.len()))
                .legend(legend_line(palette(0)));
            chart.draw_series(DashedLineSeries::new(
                [(0.0, 0.95), (x_top, 0.95)],
                2,
                4,
                BLACK.stroke_width(1),
            ))?;
            for l in lv {
                chart
                    .draw_series(DashedLineSeries::new(
                        [(l.value, 0.0), (l.value, 1.02)],
                        6,
                        4,
                        l.color.stroke_width(2),
                    ))?
                    .label(format!("p95 {} {} s", l.name, l.value))
                    .legend(legend_line(l.color));
            }
            draw_legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        }
        Ok(())
    }
}
