//! The figures of a recommendation (`enisim recommend`): the chosen point (or, when none
//! qualifies, the nearest one) on the sweep's verdict map, and each threshold's margin
//! at that point as a bar. `recommend` writes what they need as recommendation.json beside
//! recommendation.md, so the report needs no sweep directory.

use super::sweep::{Cell, Heatmap};
use super::*;
use crate::metrics::thresholds::Verdict;
use crate::recommend::{margins, Margin, Recommendation};
use crate::report::render::{Report, ReportError, Table};
use crate::report::run_dir::read_json;
use crate::sweep::{Grid, PointSummary};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const RECOMMENDATION_JSON: &str = "recommendation.json";
pub const FORMAT: &str = "enisim-recommendation/1";

/// recommendation.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecommendationDoc {
    pub format: String,
    pub scenario: String,
    pub grid: Grid,
    pub replications: u32,
    pub seed: u64,
    /// Every grid point's worst verdict at the upper 95 % bound, by point number.
    pub verdicts: Vec<(usize, Verdict)>,
    /// The chosen point, if one meets every threshold.
    pub chosen: Option<usize>,
    /// The point the margins are at: the chosen one, else the nearest to qualifying.
    pub marked: Option<usize>,
    /// `key=value …` of the marked point.
    pub marked_values: String,
    pub margins: Vec<Margin>,
}

impl RecommendationDoc {
    pub fn new(rec: &Recommendation, summaries: &[PointSummary]) -> RecommendationDoc {
        let chosen = rec.chosen.as_ref().map(|c| c.point);
        let marked = chosen.or(rec.diagnosis.as_ref().map(|d| d.nearest));
        let margins = match (&rec.chosen, marked) {
            (Some(c), _) => c.margins.clone(),
            (None, Some(p)) => summaries
                .iter()
                .find(|s| s.point == p)
                .map(|s| margins(&rec.def, s))
                .unwrap_or_default(),
            (None, None) => Vec::new(),
        };
        RecommendationDoc {
            format: FORMAT.into(),
            scenario: rec.def.scenario.clone(),
            grid: rec.def.grid.clone(),
            replications: rec.def.replications,
            seed: rec.def.seed,
            verdicts: summaries.iter().map(|s| (s.point, s.worst)).collect(),
            chosen,
            marked,
            marked_values: marked.map(|p| rec.def.grid.describe(p)).unwrap_or_default(),
            margins,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    pub fn load(dir: &Path) -> Result<RecommendationDoc, ReportError> {
        let path = dir.join(RECOMMENDATION_JSON);
        let doc: RecommendationDoc =
            read_json(&path, "the recommendation.json of `enisim recommend`")?;
        let points = doc.grid.points();
        if doc.format != FORMAT
            || doc.grid.axes.iter().any(|a| a.values.is_empty())
            || doc.verdicts.iter().any(|(p, _)| *p >= points)
            || doc.marked.is_some_and(|p| p >= points)
        {
            return Err(ReportError::Malformed {
                path,
                place: String::new(),
                message: format!(
                    "format {:?} with grid points outside the grid's {points}: written by another tool or version",
                    doc.format
                ),
            });
        }
        Ok(doc)
    }

    /// The verdict map with the marked point: over the first two axes (a one-axis grid
    /// is one row), the other axes held at the marked point's values.
    pub fn verdict_map(&self) -> Heatmap {
        let axes = &self.grid.axes;
        let at = self
            .marked
            .map(|p| self.grid.coordinates(p))
            .unwrap_or_else(|| vec![0; axes.len()]);
        let cells = self
            .verdicts
            .iter()
            .filter_map(|(p, v)| {
                let c = self.grid.coordinates(*p);
                if c.len() > 2 && c[2..] != at[2..] {
                    return None;
                }
                Some(Cell {
                    x: c.first().copied().unwrap_or(0),
                    y: c.get(1).copied().unwrap_or(0),
                    point: *p,
                    mean: f64::NAN,
                    high: f64::NAN,
                    verdict: *v,
                })
            })
            .collect();
        let axis = |i: usize| {
            axes.get(i)
                .map(|a| (a.key.clone(), a.values.clone()))
                .unwrap_or_else(|| (String::new(), vec![String::new()]))
        };
        let ((x_key, x_values), (y_key, y_values)) = (axis(0), axis(1));
        Heatmap {
            metric: None,
            label: "verdict (every threshold)".into(),
            unit: String::new(),
            x_key,
            x_values,
            y_key,
            y_values,
            cells,
            threshold: None,
            fixed: axes
                .iter()
                .zip(&at)
                .skip(2)
                .map(|(a, i)| format!("{}={}", a.key, a.values[*i]))
                .collect(),
            marked: self.marked,
        }
    }
}

/// Each threshold's margin at the marked point, as a share of its limit.
#[derive(Debug, Clone, PartialEq)]
pub struct Margins {
    pub margins: Vec<Margin>,
    pub at: String,
}

impl Margins {
    /// (limit − upper bound) / limit, in %: positive when met.
    pub fn percent(m: &Margin) -> f64 {
        if m.limit.abs() < 1e-12 {
            -100.0 * (m.high - m.limit)
        } else {
            100.0 * (m.limit - m.high) / m.limit.abs()
        }
    }
}

impl Plot for Margins {
    fn name(&self) -> String {
        "margins".into()
    }
    fn title(&self) -> String {
        format!("Each threshold's margin at {}", self.at)
    }
    fn caption(&self) -> String {
        "Limit minus the upper 95 % bound, as a share of the limit (recommendation.json): a bar to the right is met \
         with that much room, one to the left is over its limit; coloured by verdict."
            .into()
    }
    fn size(&self) -> (u32, u32) {
        (960, (120 + 44 * self.margins.len() as u32).max(300))
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let n = self.margins.len().max(1) as f64;
        let lo = self
            .margins
            .iter()
            .map(Self::percent)
            .fold(0.0, f64::min)
            .max(-300.0);
        let hi = self.margins.iter().map(Self::percent).fold(0.0, f64::max);
        let pad = ((hi - lo) * 0.08).max(5.0);
        let labels: Vec<String> = self.margins.iter().map(|m| plain(&m.label)).collect();
        let mut chart = ChartBuilder::on(root)
            .caption(plain(&self.title()), (FONT, 17))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(330)
            .build_cartesian_2d((lo - pad)..(hi + pad), 0f64..n)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc("margin: (limit - upper 95 % bound) / limit (%)")
            .y_labels(self.margins.len() * 2 + 1)
            .y_label_formatter(&move |y: &f64| row_label(&labels, *y))
            .label_style((FONT, 12))
            .draw()?;
        let top = self.margins.len();
        chart.draw_series(self.margins.iter().enumerate().map(|(i, m)| {
            let y = (top - 1 - i) as f64;
            let v = Self::percent(m).max(lo);
            Rectangle::new(
                [(0.0, y + 0.2), (v, y + 0.8)],
                verdict_color(m.verdict).filled(),
            )
        }))?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(0.0, 0.0), (0.0, n)],
            BLACK.stroke_width(1),
        )))?;
        Ok(())
    }
}

/// The recommendation's report.
pub fn report(dir: &Path) -> Result<Report, ReportError> {
    let doc = RecommendationDoc::load(dir)?;
    let map = doc.verdict_map();
    let bars = Margins {
        margins: doc.margins.clone(),
        at: if doc.chosen.is_some() {
            format!("the chosen point ({})", doc.marked_values)
        } else {
            format!("the nearest point ({})", doc.marked_values)
        },
    };
    let figures = vec![
        render(&map).map_err(ReportError::Draw)?,
        render(&bars).map_err(ReportError::Draw)?,
    ];
    let rows = doc
        .margins
        .iter()
        .map(|m| {
            vec![
                m.label.clone(),
                format!("{:.2} {}", m.mean, m.unit),
                format!("{:.2} {}", m.high, m.unit),
                format!("< {} {}", m.limit, m.unit),
                format!("{:+.1} %", Margins::percent(m)),
                m.verdict.as_str().to_string(),
            ]
        })
        .collect();
    let grid: Vec<String> = doc.grid.axes.iter().map(|a| a.spec()).collect();
    Ok(Report {
        kind: "recommend",
        title: "enisim recommend: report".into(),
        headline: format!(
            "{}: {} grid points × {} replications (seed {}); grid: {}",
            doc.scenario,
            doc.verdicts.len(),
            doc.replications,
            doc.seed,
            grid.join(" × ")
        ),
        table: Table {
            head: ["metric", "mean", "upper 95 %", "limit", "margin", "verdict"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            rows,
            verdict_column: Some(5),
        },
        notes: vec![match doc.chosen {
            Some(_) => format!("chosen: {} (recommendation.md has the values file and the reasons)", doc.marked_values),
            None => format!(
                "no point meets every threshold; nearest: {} (recommendation.md says what fails and what would change it)",
                doc.marked_values
            ),
        }],
        figures,
    })
}
