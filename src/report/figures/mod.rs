//! Figures (plotters): each one is a [`Plot`] — its data, taken from an output
//! directory's tables, and how to draw it on any plotters backend — rendered once as SVG
//! (text kept as text) and once as PNG (text drawn with a font embedded in the binary, so
//! a machine with no fonts installed draws the same picture). Rendering is pure: bytes
//! out; [`crate::report::render::write_report`] is the one place that writes files.

pub mod fit;
pub mod recommend;
pub mod run;
pub mod sensitivity;
pub mod sweep;

use plotters::coord::Shift;
use plotters::prelude::*;
use std::sync::Once;

/// The error of one drawing call on backend `DB`.
pub type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// The font family every figure names: in SVG the reader's sans-serif, in PNG the embedded
/// Ubuntu Light (epaint_default_fonts).
pub const FONT: &str = "sans-serif";

/// A chart with two f64 axes.
pub type Chart2d<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// A figure that can be drawn on any backend.
pub trait Plot {
    /// File stem under `figures/` (`eni_timelines` → `figures/eni_timelines.svg`).
    fn name(&self) -> String;
    /// One line above the figure in the report.
    fn title(&self) -> String;
    /// What the reader sees and where the data come from.
    fn caption(&self) -> String;
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32) {
        (960, 480)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB>;
}

/// A rendered figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub name: String,
    pub title: String,
    pub caption: String,
    pub svg: String,
    pub png: Vec<u8>,
}

fn register_fonts() {
    static FONTS: Once = Once::new();
    FONTS.call_once(|| {
        // The embedded font parses: a failure here is a broken build, not user input.
        let _ = plotters::style::register_font(
            FONT,
            FontStyle::Normal,
            epaint_default_fonts::UBUNTU_LIGHT,
        );
    });
}

/// Renders `plot` as SVG and PNG.
pub fn render<P: Plot>(plot: &P) -> Result<Figure, String> {
    register_fonts();
    let (w, h) = plot.size();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        plot.draw(&root)
            .map_err(|e| format!("{}: {e}", plot.name()))?;
        root.present().map_err(|e| e.to_string())?;
    }
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        plot.draw(&root)
            .map_err(|e| format!("{}: {e}", plot.name()))?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(Figure {
        name: plot.name(),
        title: plot.title(),
        caption: plot.caption(),
        svg,
        png: encode_png(&rgb, w, h)?,
    })
}

fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Default);
        let mut writer = enc.write_header().map_err(|e| e.to_string())?;
        writer.write_image_data(rgb).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

// ---- shared look -----------------------------------------------------------------------

/// Text drawn inside a figure: arrows the embedded font lacks spelled "->".
pub fn plain(s: &str) -> String {
    s.replace('→', "->")
}

/// Verdict colours, from acceptable to critical.
pub const ACCEPTABLE: RGBColor = RGBColor(46, 125, 50);
pub const DEGRADED: RGBColor = RGBColor(249, 168, 37);
pub const WARNING: RGBColor = RGBColor(239, 108, 0);
pub const CRITICAL: RGBColor = RGBColor(198, 40, 40);

pub fn verdict_color(v: crate::metrics::thresholds::Verdict) -> RGBColor {
    use crate::metrics::thresholds::Verdict::*;
    match v {
        Acceptable => ACCEPTABLE,
        Degraded => DEGRADED,
        Warning => WARNING,
        Critical => CRITICAL,
    }
}

/// A categorical palette (Tableau 10), for series such as EC2 actions or buckets.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

pub fn palette(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// A threshold level drawn as a line: its value, name and colour.
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    pub value: f64,
    pub name: &'static str,
    pub color: RGBColor,
}

/// A threshold's levels (acceptable limit, warning, critical) as lines to draw.
pub fn levels(t: &crate::metrics::thresholds::Threshold) -> Vec<Level> {
    let mut out = vec![Level {
        value: t.acceptable,
        name: "acceptable limit",
        color: DEGRADED,
    }];
    if let Some(w) = t.warning {
        out.push(Level {
            value: w,
            name: "warning",
            color: WARNING,
        });
    }
    if let Some(c) = t.critical {
        out.push(Level {
            value: c,
            name: "critical",
            color: CRITICAL,
        });
    }
    out
}

/// The upper end of an axis showing `max` (and the levels given), with 5 % room.
pub fn axis_top(max: f64, levels: &[f64]) -> f64 {
    let top = levels.iter().copied().fold(max, f64::max);
    if top.is_finite() && top > 0.0 {
        top * 1.05
    } else {
        1.0
    }
}

/// The y-axis label of a horizontal bar chart whose rows are drawn from the top, row `i`
/// of `labels` spanning `[n − 1 − i, n − i]`: the row's label at its middle, nothing
/// elsewhere.
pub fn row_label(labels: &[String], y: f64) -> String {
    let k = y - 0.5;
    if (k - k.round()).abs() < 1e-6 && k >= 0.0 {
        labels
            .get(labels.len().saturating_sub(1 + k.round() as usize))
            .cloned()
            .unwrap_or_default()
    } else {
        String::new()
    }
}

/// A legend entry's marker: a short line in `color`.
pub fn legend_line(color: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
}

/// A legend entry's marker: a filled box in `color`.
pub fn legend_box<C: Color + Copy + 'static>(
    color: C,
) -> impl Fn((i32, i32)) -> Rectangle<(i32, i32)> {
    move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled())
}

/// Draws horizontal threshold lines across `x` on a chart, each in the legend.
pub fn draw_levels<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart2d<'a, DB>,
    x: (f64, f64),
    levels: &[Level],
    unit: &str,
) -> DrawResult<DB> {
    for l in levels {
        chart
            .draw_series(DashedLineSeries::new(
                [(x.0, l.value), (x.1, l.value)],
                6,
                4,
                l.color.stroke_width(2),
            ))?
            .label(format!("{} {} {unit}", l.name, fmt_level(l.value)))
            .legend(legend_line(l.color));
    }
    Ok(())
}

fn fmt_level(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}

/// The legend box every figure uses.
pub fn draw_legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart2d<'a, DB>,
    position: SeriesLabelPosition,
) -> DrawResult<DB> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font((FONT, 13))
        .draw()
}
