//! The figures of a sensitivity analysis (`enisim sensitivity -o DIR`, sensitivity.json):
//! the ranking (each assumption's largest swing as a share of its metric's threshold,
//! red where it flips a verdict), and one tornado per judged metric that some assumption
//! moves: each assumption's bar from the lowest to the highest mean over its range, the
//! base and the threshold levels drawn across.

use super::*;
use crate::report::render::{Report, ReportError, Table};
use crate::report::run_dir::read_json;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

pub const SENSITIVITY_JSON: &str = "sensitivity.json";
/// Bars per figure: the rest of the ranking is in the table and the JSON.
const TOP: usize = 15;

/// The part of sensitivity.json the report reads (the file has more).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SensitivityDoc {
    pub scenario: String,
    pub replications: u32,
    pub seed: u64,
    pub runs: u64,
    pub metrics: Vec<MetricDoc>,
    pub base: BaseDoc,
    pub factors: Vec<FactorDoc>,
    /// The thresholds the verdicts were judged against.
    pub thresholds: crate::metrics::thresholds::Thresholds,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MetricDoc {
    pub name: String,
    pub label: String,
    pub unit: String,
    pub acceptable: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BaseDoc {
    pub means: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SwingDoc {
    pub min: f64,
    pub max: f64,
    pub share_of_threshold: f64,
    pub verdicts_flipped: Vec<crate::metrics::thresholds::Verdict>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FactorDoc {
    pub name: String,
    pub kind: String,
    pub base: String,
    pub swings: BTreeMap<String, SwingDoc>,
    pub effect: f64,
    pub top_metric: String,
    pub flips_verdict: bool,
}

impl SensitivityDoc {
    pub fn load(dir: &Path) -> Result<SensitivityDoc, ReportError> {
        let path = dir.join(SENSITIVITY_JSON);
        let doc: SensitivityDoc = read_json(&path, "the sensitivity.json of `enisim sensitivity`")?;
        for f in &doc.factors {
            if let Some(m) = f
                .swings
                .keys()
                .find(|m| !doc.metrics.iter().any(|d| &d.name == *m))
            {
                return Err(ReportError::Malformed {
                    path,
                    place: format!("factors[{}].swings", f.name),
                    message: format!("metric {m:?} is not among the file's metrics"),
                });
            }
        }
        Ok(doc)
    }
}

/// The ranking: each factor's largest share of threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranking {
    /// (name, top metric's short label, share in %, flips a verdict), most first.
    pub bars: Vec<(String, String, f64, bool)>,
    pub of: usize,
}

/// One metric's tornado.
#[derive(Debug, Clone, PartialEq)]
pub struct Tornado {
    pub metric: MetricDoc,
    pub base: f64,
    pub levels: Vec<Level>,
    /// (name, min, max, flips this metric's verdict), widest first.
    pub bars: Vec<(String, f64, f64, bool)>,
}

fn short(label: &str) -> &str {
    label.split(" (").next().unwrap_or(label).trim()
}

/// Horizontal bars with names on the y axis, drawn from the top.
fn bar_chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_desc: &str,
    x: (f64, f64),
    labels: Vec<String>,
    bars: &[(f64, f64, RGBColor)],
    lines: &[(f64, RGBColor, String)],
) -> DrawResult<DB> {
    let n = bars.len().max(1) as f64;
    let mut chart = ChartBuilder::on(root)
        .caption(plain(title), (FONT, 17))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(400)
        .build_cartesian_2d(x.0..x.1, 0f64..n)?;
    let count = labels.len();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc(plain(x_desc))
        .y_labels(count * 2 + 1)
        .y_label_formatter(&move |y: &f64| row_label(&labels, *y))
        .label_style((FONT, 12))
        .draw()?;
    let top = bars.len();
    chart.draw_series(bars.iter().enumerate().map(|(i, &(a, b, c))| {
        let y = (top - 1 - i) as f64;
        Rectangle::new([(a, y + 0.2), (b, y + 0.8)], c.filled())
    }))?;
    for (v, color, name) in lines {
        chart
            .draw_series(DashedLineSeries::new(
                [(*v, 0.0), (*v, n)],
                6,
                4,
                color.stroke_width(2),
            ))?
            .label(plain(name))
            .legend(legend_line(*color));
    }
    if !lines.is_empty() {
        draw_legend(&mut chart, SeriesLabelPosition::LowerRight)?;
    }
    Ok(())
}

const STEADY: RGBColor = RGBColor(31, 119, 180);

impl Plot for Ranking {
    fn name(&self) -> String {
        "sensitivity_ranking".into()
    }
    fn title(&self) -> String {
        format!(
            "Which assumption moves a verdict most (top {} of {})",
            self.bars.len(),
            self.of
        )
    }
    fn caption(&self) -> String {
        "Each assumption's largest swing over its plausible range, on the metric it moves most, as a share of \
         that metric's acceptable threshold (sensitivity.json); red: it flips a verdict inside its range."
            .into()
    }
    fn size(&self) -> (u32, u32) {
        (1100, (120 + 30 * self.bars.len() as u32).max(300))
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let hi = axis_top(self.bars.iter().map(|b| b.2).fold(0.0, f64::max), &[]);
        let labels = self
            .bars
            .iter()
            .map(|(n, m, _, _)| format!("{n} ({m})"))
            .collect();
        let bars: Vec<(f64, f64, RGBColor)> = self
            .bars
            .iter()
            .map(|&(_, _, s, flips)| (0.0, s, if flips { CRITICAL } else { STEADY }))
            .collect();
        bar_chart(
            root,
            &self.title(),
            "swing over the plausible range / acceptable threshold (%)",
            (0.0, hi),
            labels,
            &bars,
            &[],
        )
    }
}

impl Plot for Tornado {
    fn name(&self) -> String {
        format!("tornado_{}", self.metric.name)
    }
    fn title(&self) -> String {
        format!("{}: what moves it", short(&self.metric.label))
    }
    fn caption(&self) -> String {
        format!(
            "Each assumption's bar runs from the lowest to the highest mean of {} over the base and the ends of \
             its plausible range (or its alternatives), {}; the base value and the threshold levels are dashed; \
             red: it flips this metric's verdict.",
            short(&self.metric.label),
            self.metric.unit
        )
    }
    fn size(&self) -> (u32, u32) {
        (1100, (120 + 30 * self.bars.len() as u32).max(300))
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let lo = self
            .bars
            .iter()
            .map(|b| b.1)
            .fold(self.base, f64::min)
            .min(0.0);
        let level_values: Vec<f64> = self.levels.iter().map(|l| l.value).collect();
        let hi = axis_top(
            self.bars.iter().map(|b| b.2).fold(self.base, f64::max),
            &level_values,
        );
        let labels = self.bars.iter().map(|b| b.0.clone()).collect();
        let bars: Vec<(f64, f64, RGBColor)> = self
            .bars
            .iter()
            .map(|&(_, a, b, flips)| (a, b, if flips { CRITICAL } else { STEADY }))
            .collect();
        let mut lines = vec![(
            self.base,
            BLACK,
            format!("base {:.2} {}", self.base, self.metric.unit),
        )];
        lines.extend(self.levels.iter().map(|l| {
            (
                l.value,
                l.color,
                format!("{} {} {}", l.name, l.value, self.metric.unit),
            )
        }));
        bar_chart(
            root,
            &self.title(),
            &format!("{} ({})", short(&self.metric.label), self.metric.unit),
            (lo, hi),
            labels,
            &bars,
            &lines,
        )
    }
}

/// The ranking and one tornado per metric some assumption moves.
pub fn plots(doc: &SensitivityDoc) -> (Ranking, Vec<Tornado>) {
    let label = |m: &str| {
        doc.metrics
            .iter()
            .find(|d| d.name == m)
            .map(|d| short(&d.label).to_string())
            .unwrap_or_else(|| m.to_string())
    };
    let ranking = Ranking {
        bars: doc
            .factors
            .iter()
            .take(TOP)
            .map(|f| {
                (
                    f.name.clone(),
                    label(&f.top_metric),
                    100.0 * f.effect,
                    f.flips_verdict,
                )
            })
            .collect(),
        of: doc.factors.len(),
    };
    let mut tornadoes = Vec::new();
    for m in &doc.metrics {
        let mut bars: Vec<(String, f64, f64, bool, f64)> = doc
            .factors
            .iter()
            .filter_map(|f| {
                let w = f.swings.get(&m.name)?;
                (w.share_of_threshold > 0.0).then(|| {
                    (
                        f.name.clone(),
                        w.min,
                        w.max,
                        !w.verdicts_flipped.is_empty(),
                        w.share_of_threshold,
                    )
                })
            })
            .collect();
        if bars.is_empty() {
            continue;
        }
        bars.sort_by(|a, b| b.4.total_cmp(&a.4).then_with(|| a.0.cmp(&b.0)));
        bars.truncate(TOP);
        let levels = doc
            .thresholds
            .metrics
            .get(&m.name)
            .map(super::levels)
            .unwrap_or_default();
        tornadoes.push(Tornado {
            metric: m.clone(),
            base: doc.base.means.get(&m.name).copied().unwrap_or(0.0),
            levels,
            bars: bars
                .into_iter()
                .map(|(n, a, b, f, _)| (n, a, b, f))
                .collect(),
        });
    }
    (ranking, tornadoes)
}

/// The sensitivity analysis's report: the ranking as a table (every assumption), the
/// ranking figure and the tornadoes.
pub fn report(dir: &Path) -> Result<Report, ReportError> {
    let doc = SensitivityDoc::load(dir)?;
    let (ranking, tornadoes) = plots(&doc);
    let mut figures = vec![render(&ranking).map_err(ReportError::Draw)?];
    for t in &tornadoes {
        figures.push(render(t).map_err(ReportError::Draw)?);
    }
    let rows = doc
        .factors
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let w = f.swings.get(&f.top_metric);
            let unit = doc
                .metrics
                .iter()
                .find(|m| m.name == f.top_metric)
                .map(|m| m.unit.clone())
                .unwrap_or_default();
            vec![
                format!("{}", i + 1),
                f.name.clone(),
                format!("{} ({})", f.base, f.kind),
                short(
                    &doc.metrics
                        .iter()
                        .find(|m| m.name == f.top_metric)
                        .map(|m| m.label.clone())
                        .unwrap_or_default(),
                )
                .to_string(),
                w.map(|w| format!("{:.2} – {:.2} {unit}", w.min, w.max))
                    .unwrap_or_default(),
                format!("{:.0} %", 100.0 * f.effect),
                if f.flips_verdict { "flips" } else { "-" }.to_string(),
            ]
        })
        .collect();
    Ok(Report {
        kind: "sensitivity",
        title: "enisim sensitivity: report".into(),
        headline: format!(
            "{}: {} assumptions, one at a time, {} replications per point (seed {}), {} runs",
            doc.scenario,
            doc.factors.len(),
            doc.replications,
            doc.seed,
            doc.runs
        ),
        table: Table {
            head: [
                "rank",
                "assumption",
                "base",
                "moves most",
                "over its range",
                "share of threshold",
                "verdict",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            rows,
            verdict_column: None,
        },
        notes: vec![
            "The top of the ranking is what a small real run must measure first (enisim calibrate).".into(),
        ],
        figures,
    })
}
