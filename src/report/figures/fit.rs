//! How well the model reproduces a recording: for a replay (`enisim replay --out`,
//! validation.json) each validated metric's replayed value beside the recorded one, as a
//! relative difference with the replications' range; for a calibration (`enisim calibrate`,
//! calibration.json) each moment's simulated value beside the observed one, in standard
//! deviations of the moment. One dot-and-whisker figure serves both.

use super::*;
use crate::report::render::{Report, ReportError, Table};
use crate::report::run_dir::read_json;
use serde::Deserialize;
use std::path::Path;

pub const VALIDATION_JSON: &str = "validation.json";
pub const CALIBRATION_JSON: &str = "calibration.json";

/// One row: a label, the model's value against the recording's on the figure's scale, and
/// the band the model's own spread gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub label: String,
    pub value: f64,
    pub band: (f64, f64),
    pub ok: bool,
}

/// Recorded (or observed) against the model, one row each.
#[derive(Debug, Clone, PartialEq)]
pub struct Agreement {
    pub name: &'static str,
    pub title: String,
    pub caption: String,
    pub x_desc: String,
    pub rows: Vec<Row>,
    /// Where "agrees" ends on each side (a vertical line pair), if the scale has one.
    pub limit: Option<f64>,
}

impl Plot for Agreement {
    fn name(&self) -> String {
        self.name.into()
    }
    fn title(&self) -> String {
        self.title.clone()
    }
    fn caption(&self) -> String {
        self.caption.clone()
    }
    fn size(&self) -> (u32, u32) {
        (1100, (120 + 30 * self.rows.len() as u32).max(300))
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let ends = self
            .rows
            .iter()
            .flat_map(|r| [r.value, r.band.0, r.band.1])
            .chain(self.limit.into_iter().flat_map(|l| [l, -l]))
            .filter(|x| x.is_finite());
        let (lo, hi) = ends.fold((0.0f64, 0.0f64), |(a, b), x| (a.min(x), b.max(x)));
        let pad = ((hi - lo) * 0.08).max(1.0);
        let n = self.rows.len().max(1) as f64;
        let labels: Vec<String> = self.rows.iter().map(|r| plain(&r.label)).collect();
        let count = labels.len();
        let mut chart = ChartBuilder::on(root)
            .caption(plain(&self.title), (FONT, 17))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(420)
            .build_cartesian_2d((lo - pad)..(hi + pad), 0f64..n)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc(plain(&self.x_desc))
            .y_labels(count * 2 + 1)
            .y_label_formatter(&move |y: &f64| row_label(&labels, *y))
            .label_style((FONT, 12))
            .draw()?;
        let top = self.rows.len();
        let y = |i: usize| (top - 1 - i) as f64 + 0.5;
        chart.draw_series(self.rows.iter().enumerate().map(|(i, r)| {
            PathElement::new(
                vec![(r.band.0, y(i)), (r.band.1, y(i))],
                BLACK.mix(0.5).stroke_width(2),
            )
        }))?;
        chart.draw_series(self.rows.iter().enumerate().map(|(i, r)| {
            let color = if r.ok { ACCEPTABLE } else { CRITICAL };
            Circle::new((r.value, y(i)), 5, color.filled())
        }))?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(0.0, 0.0), (0.0, n)],
            BLACK.stroke_width(1),
        )))?;
        if let Some(l) = self.limit {
            for x in [-l, l] {
                chart.draw_series(DashedLineSeries::new(
                    [(x, 0.0), (x, n)],
                    6,
                    4,
                    DEGRADED.stroke_width(2),
                ))?;
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
struct ValidationDoc {
    replications: u32,
    rows: Vec<ValidationRow>,
    summary: String,
}

#[derive(Debug, Clone, Deserialize)]
struct ValidationRow {
    metric: String,
    recorded: Option<f64>,
    replayed: Option<f64>,
    low: Option<f64>,
    high: Option<f64>,
    inside: bool,
}

/// Replayed against recorded, in % of the recorded value (rows with no recorded value, or a
/// recorded zero, are left out of the figure and kept in the table).
fn validation_figure(doc: &ValidationDoc) -> Agreement {
    let rel = |x: f64, r: f64| 100.0 * (x - r) / r.abs();
    let rows = doc
        .rows
        .iter()
        .filter_map(|v| {
            let (r, x) = (v.recorded?, v.replayed?);
            (r != 0.0).then(|| Row {
                label: v.metric.clone(),
                value: rel(x, r),
                band: (rel(v.low.unwrap_or(x), r), rel(v.high.unwrap_or(x), r)),
                ok: v.inside,
            })
        })
        .collect();
    Agreement {
        name: "replay_validation",
        title: "Replayed against recorded, at the recorded settings".into(),
        caption: format!(
            "Each validated metric's replayed mean (dot) and the range of its {} replications (whisker), as a \
             difference from the recorded value in % (validation.json); green: the recorded value lies inside \
             the replications' prediction band, red: outside. Metrics recorded as 0 are in the table only.",
            doc.replications
        ),
        x_desc: "replayed - recorded (% of recorded)".into(),
        rows,
        limit: None,
    }
}

/// A replay's output: the run's report of the replayed replications, then the validation.
pub fn replay_report(dir: &Path, mut run: Report) -> Result<Report, ReportError> {
    let doc: ValidationDoc = read_json(
        &dir.join(VALIDATION_JSON),
        "the validation.json of `enisim replay --out`",
    )?;
    let fig = render(&validation_figure(&doc)).map_err(ReportError::Draw)?;
    run.kind = "replay";
    run.title = "enisim replay: report".into();
    run.notes.insert(0, doc.summary.clone());
    run.figures.insert(0, fig);
    Ok(run)
}

#[derive(Debug, Clone, Deserialize)]
struct CalibrationDoc {
    source: serde_json::Value,
    verdict: String,
    moments: Vec<MomentRow>,
}

#[derive(Debug, Clone, Deserialize)]
struct MomentRow {
    name: String,
    observed: f64,
    simulated: f64,
    sd: f64,
}

/// A calibration's output: the moments, observed against simulated at the fit.
pub fn calibration_report(dir: &Path) -> Result<Report, ReportError> {
    let doc: CalibrationDoc = read_json(
        &dir.join(CALIBRATION_JSON),
        "the calibration.json of `enisim calibrate`",
    )?;
    let z = |m: &MomentRow| {
        if m.sd > 0.0 {
            (m.simulated - m.observed) / m.sd
        } else {
            0.0
        }
    };
    let fig = Agreement {
        name: "calibration_moments",
        title: "Simulated moments at the fit against the observed ones".into(),
        caption: "Each moment's simulated value at the fitted parameters minus the observed one, in standard \
                  deviations of the moment (calibration.json); dashed: ±2; red: farther than 2."
            .into(),
        x_desc: "(simulated - observed) / sd".into(),
        rows: doc
            .moments
            .iter()
            .map(|m| Row {
                label: m.name.clone(),
                value: z(m),
                band: (z(m), z(m)),
                ok: z(m).abs() <= 2.0,
            })
            .collect(),
        limit: Some(2.0),
    };
    let rows = doc
        .moments
        .iter()
        .map(|m| {
            vec![
                m.name.clone(),
                format!("{:.3}", m.observed),
                format!("{:.3}", m.simulated),
                format!("{:.3}", m.sd),
                format!("{:+.2}", z(m)),
            ]
        })
        .collect();
    let source = match &doc.source {
        serde_json::Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    Ok(Report {
        kind: "calibrate",
        title: "enisim calibrate: report".into(),
        headline: format!("calibrated from {source}"),
        table: Table {
            head: ["moment", "observed", "simulated", "sd", "(sim - obs) / sd"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            rows,
            verdict_column: None,
        },
        notes: vec![doc.verdict.clone()],
        figures: vec![render(&fig).map_err(ReportError::Draw)?],
    })
}
