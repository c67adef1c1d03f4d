//! The figures of a sweep, from its results (journal.csv read back and summarised the way
//! summary.parquet was written, which is checked to be there and whole): over two grid
//! axes a heatmap per judged metric with the contours where its verdict changes, and the
//! verdict map; over one axis a line per metric with its 95 % band.

use super::*;
use crate::metrics::summary::verdict_rank;
use crate::metrics::thresholds::{Threshold, Verdict};
use crate::report::render::{Report, ReportError, Table};
use crate::sweep::table::metric_index;
use crate::sweep::{PointSummary, SweepResults};
use plotters::coord::ranged1d::SegmentValue;
use std::path::Path;

/// A contour segment between grid corners (x, y), in the colour of the worse verdict.
pub type Edge = ((usize, usize), (usize, usize), Verdict);

/// One grid cell of a heatmap.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub x: usize,
    pub y: usize,
    pub point: usize,
    pub mean: f64,
    pub high: f64,
    pub verdict: Verdict,
}

/// A metric (or, with `metric` = None, the worst verdict) over two axes.
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    pub metric: Option<String>,
    pub label: String,
    pub unit: String,
    pub x_key: String,
    pub x_values: Vec<String>,
    pub y_key: String,
    pub y_values: Vec<String>,
    pub cells: Vec<Cell>,
    pub threshold: Option<Threshold>,
    /// Axes beyond the second, held at one value each.
    pub fixed: Vec<String>,
    /// A grid point to mark (the recommended one).
    pub marked: Option<usize>,
}

/// A metric along one axis: mean and 95 % band per value.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub metric: String,
    pub label: String,
    pub unit: String,
    pub key: String,
    pub values: Vec<String>,
    /// (mean, low, high) per axis value.
    pub points: Vec<(f64, f64, f64)>,
    pub threshold: Option<Threshold>,
}

/// The judged metrics the sweep has, in the verdict table's order.
fn judged(r: &SweepResults) -> Vec<(String, Threshold)> {
    let mut out: Vec<(String, Threshold)> = r
        .def
        .thresholds
        .judged()
        .filter(|(n, _)| metric_index(&r.def, n).is_some())
        .map(|(n, t)| (n.clone(), t.clone()))
        .collect();
    out.sort_by_key(|(n, _)| verdict_rank(n));
    out
}

/// The heatmaps (two axes or more) of a sweep: one per judged metric, then the verdict map.
pub fn heatmaps(r: &SweepResults, summaries: &[PointSummary]) -> Vec<Heatmap> {
    let axes = &r.def.grid.axes;
    if axes.len() < 2 {
        return Vec::new();
    }
    let fixed: Vec<String> = axes[2..]
        .iter()
        .map(|a| format!("{}={}", a.key, a.values[0]))
        .collect();
    let cells_for = |metric: Option<&str>| -> Vec<Cell> {
        summaries
            .iter()
            .filter_map(|s| {
                let c = r.def.grid.coordinates(s.point);
                if c[2..].iter().any(|i| *i != 0) {
                    return None;
                }
                let (mean, high, verdict) = match metric {
                    Some(m) => {
                        let ci = s.get(&r.def, m)?;
                        (
                            ci.mean,
                            ci.high(),
                            s.verdicts.get(m).copied().unwrap_or(Verdict::Critical),
                        )
                    }
                    None => (f64::NAN, f64::NAN, s.worst),
                };
                Some(Cell {
                    x: c[0],
                    y: c[1],
                    point: s.point,
                    mean,
                    high,
                    verdict,
                })
            })
            .collect()
    };
    let map =
        |metric: Option<&str>, label: String, unit: String, threshold: Option<Threshold>| Heatmap {
            metric: metric.map(String::from),
            label,
            unit,
            x_key: axes[0].key.clone(),
            x_values: axes[0].values.clone(),
            y_key: axes[1].key.clone(),
            y_values: axes[1].values.clone(),
            cells: cells_for(metric),
            threshold,
            fixed: fixed.clone(),
            marked: None,
        };
    let mut out: Vec<Heatmap> = judged(r)
        .into_iter()
        .map(|(n, t)| map(Some(&n), t.label.clone(), t.unit.clone(), Some(t)))
        .collect();
    out.push(map(
        None,
        "verdict (every threshold)".into(),
        String::new(),
        None,
    ));
    out
}

/// The lines (one axis) of a sweep: one per judged metric.
pub fn lines(r: &SweepResults, summaries: &[PointSummary]) -> Vec<Line> {
    let axes = &r.def.grid.axes;
    if axes.len() != 1 {
        return Vec::new();
    }
    judged(r)
        .into_iter()
        .map(|(n, t)| Line {
            metric: n.clone(),
            label: t.label.clone(),
            unit: t.unit.clone(),
            key: axes[0].key.clone(),
            values: axes[0].values.clone(),
            points: summaries
                .iter()
                .map(|s| {
                    s.get(&r.def, &n)
                        .map(|c| (c.mean, c.low(), c.high()))
                        .unwrap_or((f64::NAN, f64::NAN, f64::NAN))
                })
                .collect(),
            threshold: Some(t),
        })
        .collect()
}

/// A metric's file stem.
fn stem(metric: Option<&str>) -> String {
    metric
        .map(|m| format!("heatmap_{m}"))
        .unwrap_or_else(|| "verdict_map".into())
}

/// Light yellow → teal → dark blue, for t in [0, 1].
pub fn ramp(t: f64) -> RGBColor {
    let stops = [
        (255.0, 247.0, 188.0),
        (65.0, 182.0, 196.0),
        (37.0, 52.0, 148.0),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (a, b, u) = if t < 0.5 {
        (stops[0], stops[1], t * 2.0)
    } else {
        (stops[1], stops[2], t * 2.0 - 1.0)
    };
    let mix = |x: f64, y: f64| (x + (y - x) * u).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

impl Heatmap {
    fn range(&self) -> (f64, f64) {
        let vals = self.cells.iter().map(|c| c.mean).filter(|v| v.is_finite());
        let lo = vals.clone().fold(f64::INFINITY, f64::min);
        let hi = vals.fold(f64::NEG_INFINITY, f64::max);
        if lo.is_finite() {
            (lo, hi)
        } else {
            (0.0, 1.0)
        }
    }

    fn fill(&self, c: &Cell) -> RGBColor {
        if self.metric.is_none() {
            return verdict_color(c.verdict);
        }
        let (lo, hi) = self.range();
        if !c.mean.is_finite() {
            return RGBColor(200, 200, 200);
        }
        ramp(if hi > lo {
            (c.mean - lo) / (hi - lo)
        } else {
            0.5
        })
    }

    /// Grid edges between two cells of different verdicts: ((x0, y0), (x1, y1), the worse
    /// verdict), in cell units.
    pub fn contour_edges(&self) -> Vec<Edge> {
        let at = |x: usize, y: usize| self.cells.iter().find(|c| c.x == x && c.y == y);
        let mut out = Vec::new();
        for c in &self.cells {
            if let Some(r) = at(c.x + 1, c.y) {
                if r.verdict != c.verdict {
                    out.push(((c.x + 1, c.y), (c.x + 1, c.y + 1), r.verdict.max(c.verdict)));
                }
            }
            if let Some(u) = at(c.x, c.y + 1) {
                if u.verdict != c.verdict {
                    out.push(((c.x, c.y + 1), (c.x + 1, c.y + 1), u.verdict.max(c.verdict)));
                }
            }
        }
        out
    }
}

impl Plot for Heatmap {
    fn name(&self) -> String {
        stem(self.metric.as_deref())
    }
    fn title(&self) -> String {
        match &self.metric {
            Some(_) => format!("{} over {} × {}", self.label, self.x_key, self.y_key),
            None => format!("Verdict map over {} × {}", self.x_key, self.y_key),
        }
    }
    fn caption(&self) -> String {
        let fixed = if self.fixed.is_empty() {
            String::new()
        } else {
            format!(" Other axes held at {}.", self.fixed.join(", "))
        };
        match &self.threshold {
            Some(t) => format!(
                "{} cells, one per grid point (summary of journal.csv, as summary.parquet): colour = mean {} ({}); \
                 lines = where the verdict on the upper 95 % bound changes ({}), in the colour of the worse side.{fixed}",
                self.cells.len(),
                self.label,
                self.unit,
                t.describe()
            ),
            None => format!(
                "{} cells, one per grid point: the worst verdict over every threshold at the upper 95 % bound \
                 (green acceptable, yellow degraded, orange warning, red critical).{fixed}",
                self.cells.len()
            ),
        }
    }
    fn size(&self) -> (u32, u32) {
        (1000, 460)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let (main, side) = root.split_horizontally(840);
        let nx = self.x_values.len();
        let ny = self.y_values.len();
        let xv = self.x_values.clone();
        let yv = self.y_values.clone();
        let mut chart = ChartBuilder::on(&main)
            .caption(plain(&self.label), (FONT, 17))
            .margin(10)
            .x_label_area_size(44)
            .y_label_area_size(60)
            // A segmented 0..n has n + 1 segments: one per value is 0..n − 1 (a one-value
            // axis keeps an empty second segment, as 0..0 would have no width).
            .build_cartesian_2d(
                (0..nx.saturating_sub(1).max(1)).into_segmented(),
                (0..ny.saturating_sub(1).max(1)).into_segmented(),
            )?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(self.x_key.clone())
            .y_desc(self.y_key.clone())
            .x_labels(nx.min(30))
            .y_labels(ny.min(30))
            .x_label_formatter(&move |v: &SegmentValue<usize>| match v {
                SegmentValue::CenterOf(i) => xv.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .y_label_formatter(&move |v: &SegmentValue<usize>| match v {
                SegmentValue::CenterOf(i) => yv.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .label_style((FONT, 12))
            .draw()?;
        chart.draw_series(self.cells.iter().map(|c| {
            Rectangle::new(
                [
                    (SegmentValue::Exact(c.x), SegmentValue::Exact(c.y)),
                    (SegmentValue::Exact(c.x + 1), SegmentValue::Exact(c.y + 1)),
                ],
                self.fill(c).filled(),
            )
        }))?;
        chart.draw_series(self.contour_edges().into_iter().map(|(a, b, v)| {
            PathElement::new(
                vec![
                    (SegmentValue::Exact(a.0), SegmentValue::Exact(a.1)),
                    (SegmentValue::Exact(b.0), SegmentValue::Exact(b.1)),
                ],
                verdict_color(v).stroke_width(3),
            )
        }))?;
        if let Some(c) = self
            .marked
            .and_then(|p| self.cells.iter().find(|c| c.point == p))
        {
            chart
                .draw_series(std::iter::once(Circle::new(
                    (SegmentValue::CenterOf(c.x), SegmentValue::CenterOf(c.y)),
                    9,
                    BLACK.stroke_width(3),
                )))?
                .label("recommended")
                .legend(|(x, y)| Circle::new((x + 7, y), 5, BLACK.stroke_width(2)));
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.4))
                .label_font((FONT, 13))
                .draw()?;
        }
        // Key: the colour ramp (or the verdicts) and the contour colours.
        let style = (FONT, 12).into_font();
        let mut y = 40;
        if self.metric.is_some() {
            let (lo, hi) = self.range();
            side.draw(&Text::new(
                format!("mean ({})", self.unit),
                (10, y),
                style.clone(),
            ))?;
            y += 18;
            for k in 0..=20 {
                let t = 1.0 - k as f64 / 20.0;
                side.draw(&Rectangle::new(
                    [(10, y + k * 8), (34, y + k * 8 + 8)],
                    ramp(t).filled(),
                ))?;
            }
            side.draw(&Text::new(format!("{hi:.1}"), (40, y), style.clone()))?;
            side.draw(&Text::new(format!("{lo:.1}"), (40, y + 160), style.clone()))?;
            y += 190;
            side.draw(&Text::new("verdict changes:", (10, y), style.clone()))?;
            y += 18;
        }
        for v in [
            Verdict::Acceptable,
            Verdict::Degraded,
            Verdict::Warning,
            Verdict::Critical,
        ] {
            side.draw(&Rectangle::new(
                [(10, y), (34, y + 10)],
                verdict_color(v).filled(),
            ))?;
            side.draw(&Text::new(v.as_str(), (40, y), style.clone()))?;
            y += 18;
        }
        Ok(())
    }
}

impl Plot for Line {
    fn name(&self) -> String {
        format!("line_{}", self.metric)
    }
    fn title(&self) -> String {
        format!("{} along {}", self.label, self.key)
    }
    fn caption(&self) -> String {
        format!(
            "Mean {} per grid point with its 95 % confidence band (summary of journal.csv, as summary.parquet), \
             against the threshold's levels ({}).",
            self.label,
            self.threshold.as_ref().map(|t| t.describe()).unwrap_or_default()
        )
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let numeric: Option<Vec<f64>> = self.values.iter().map(|v| v.parse().ok()).collect();
        let xs: Vec<f64> =
            numeric.unwrap_or_else(|| (0..self.values.len()).map(|i| i as f64).collect());
        let (x0, x1) = (
            xs.iter().copied().fold(f64::INFINITY, f64::min),
            xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        );
        let (x0, x1) = if x1 > x0 {
            (x0, x1)
        } else {
            (x0 - 1.0, x0 + 1.0)
        };
        let lv = self.threshold.as_ref().map(levels).unwrap_or_default();
        let max = self
            .points
            .iter()
            .map(|p| p.2)
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max);
        let top = axis_top(max, &lv.iter().map(|l| l.value).collect::<Vec<_>>());
        let mut chart = ChartBuilder::on(root)
            .caption(plain(&self.title()), (FONT, 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, 0f64..top)?;
        chart
            .configure_mesh()
            .x_desc(self.key.clone())
            .y_desc(format!("{} ({})", self.label, self.unit))
            .label_style((FONT, 12))
            .draw()?;
        let band: Vec<(f64, f64)> = xs
            .iter()
            .zip(&self.points)
            .map(|(x, p)| (*x, p.2))
            .chain(xs.iter().zip(&self.points).rev().map(|(x, p)| (*x, p.1)))
            .filter(|p| p.1.is_finite())
            .collect();
        chart
            .draw_series(std::iter::once(Polygon::new(
                band,
                palette(0).mix(0.25).filled(),
            )))?
            .label("95 % confidence band")
            .legend(legend_box(palette(0).mix(0.25)));
        chart
            .draw_series(LineSeries::new(
                xs.iter().zip(&self.points).map(|(x, p)| (*x, p.0)),
                palette(0).stroke_width(2),
            ))?
            .label("mean")
            .legend(legend_line(palette(0)));
        draw_levels(&mut chart, (x0, x1), &lv, &self.unit)?;
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight)
    }
}

/// The sweep's report: a table of how many points each threshold fails at each level, the
/// number that meet every threshold, and the figures.
pub fn report(dir: &Path) -> Result<Report, ReportError> {
    let r = crate::sweep::load_results(dir).map_err(|e| ReportError::Malformed {
        path: dir.to_path_buf(),
        place: String::new(),
        message: e.to_string(),
    })?;
    let summaries = r.summaries();
    check_parquet(&dir.join(crate::sweep::SUMMARY_PARQUET), summaries.len())?;
    let mut figures = Vec::new();
    for h in heatmaps(&r, &summaries) {
        figures.push(render(&h).map_err(ReportError::Draw)?);
    }
    for l in lines(&r, &summaries) {
        figures.push(render(&l).map_err(ReportError::Draw)?);
    }
    let rows = judged(&r)
        .into_iter()
        .map(|(n, t)| {
            let count = |v: Verdict| {
                summaries
                    .iter()
                    .filter(|s| s.verdicts.get(&n) == Some(&v))
                    .count()
                    .to_string()
            };
            vec![
                t.label.clone(),
                t.describe(),
                count(Verdict::Acceptable),
                count(Verdict::Degraded),
                count(Verdict::Warning),
                count(Verdict::Critical),
            ]
        })
        .collect();
    let meets = summaries.iter().filter(|s| s.meets).count();
    let grid: Vec<String> = r.def.grid.axes.iter().map(|a| a.spec()).collect();
    Ok(Report {
        kind: "sweep",
        title: "enisim sweep: report".to_string(),
        headline: format!(
            "{}: {} grid points × {} replications (seed {}); grid: {}",
            r.def.scenario,
            summaries.len(),
            r.def.replications,
            r.def.seed,
            grid.join(" × ")
        ),
        table: Table {
            head: [
                "metric",
                "threshold",
                "points acceptable",
                "degraded",
                "warning",
                "critical",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            rows,
            verdict_column: None,
        },
        notes: vec![format!(
            "{meets} of {} points meet every threshold at the upper 95 % bound",
            summaries.len()
        )],
        figures,
    })
}

/// summary.parquet is there, is Parquet, and holds one row per grid point.
fn check_parquet(path: &Path, points: usize) -> Result<(), ReportError> {
    use polars::prelude::*;
    let bad = |message: String| ReportError::Malformed {
        path: path.to_path_buf(),
        place: String::new(),
        message,
    };
    let file = std::fs::File::open(path).map_err(|e| ReportError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let df = ParquetReader::new(file).finish().map_err(|e| {
        bad(format!(
            "not a readable Parquet table (truncated or another file): {e}"
        ))
    })?;
    if df.height() != points || df.column("point").is_err() {
        return Err(bad(format!(
            "{} rows{}, but the sweep's journal has {points} grid points: written by another sweep",
            df.height(),
            if df.column("point").is_err() {
                " and no column `point`"
            } else {
                ""
            }
        )));
    }
    Ok(())
}
