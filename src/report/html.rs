//! The report as one self-contained HTML file: the headline, the table, the notes, and
//! every figure as inline SVG (no script, no network, no file beside it needed to read
//! it; the PNG copies under `figures/` are linked for download).

use super::render::{Report, FIGURES_DIR};

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str =
    "body{font-family:sans-serif;margin:2em auto;max-width:1000px;color:#222;padding:0 1em}\
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em}\
table{border-collapse:collapse;margin:1em 0;font-size:.9em}\
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left}\
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\
td.acceptable{background:#e8f5e9}td.degraded{background:#fff8e1}\
td.warning{background:#fff3e0}td.critical{background:#ffebee}\
figure{margin:1.5em 0}figure svg{max-width:100%;height:auto;display:block}\
figcaption{font-size:.85em;color:#555;margin-top:.4em}p.note{margin:.3em 0}";

/// The whole page.
pub fn render(r: &Report) -> String {
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str(&format!("<title>{}</title>\n", escape(&r.title)));
    h.push_str(&format!("<style>{STYLE}</style>\n</head>\n<body>\n"));
    h.push_str(&format!("<h1>{}</h1>\n", escape(&r.title)));
    h.push_str(&format!(
        "<p class=\"headline\">{}</p>\n",
        escape(&r.headline)
    ));
    if !r.table.head.is_empty() {
        h.push_str("<table id=\"verdicts\">\n<thead><tr>");
        for c in &r.table.head {
            h.push_str(&format!("<th>{}</th>", escape(c)));
        }
        h.push_str("</tr></thead>\n<tbody>\n");
        for row in &r.table.rows {
            h.push_str("<tr>");
            for (i, c) in row.iter().enumerate() {
                let class = if Some(i) == r.table.verdict_column {
                    escape(c)
                } else if i > 0
                    && c.chars()
                        .next()
                        .is_some_and(|ch| ch.is_ascii_digit() || ch == '>' || ch == '-')
                {
                    "num".to_string()
                } else {
                    String::new()
                };
                if class.is_empty() {
                    h.push_str(&format!("<td>{}</td>", escape(c)));
                } else {
                    h.push_str(&format!("<td class=\"{class}\">{}</td>", escape(c)));
                }
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</tbody>\n</table>\n");
    }
    for n in &r.notes {
        h.push_str(&format!("<p class=\"note\">{}</p>\n", escape(n)));
    }
    for f in &r.figures {
        h.push_str(&format!(
            "<h2 id=\"{}\">{}</h2>\n<figure>\n",
            escape(&f.name),
            escape(&f.title)
        ));
        h.push_str(strip_prolog(&f.svg));
        h.push_str(&format!(
            "\n<figcaption>{} (<a href=\"{FIGURES_DIR}/{name}.svg\">SVG</a>, <a href=\"{FIGURES_DIR}/{name}.png\">PNG</a>)</figcaption>\n</figure>\n",
            escape(&f.caption),
            name = escape(&f.name)
        ));
    }
    h.push_str("</body>\n</html>\n");
    h
}

/// The SVG element alone (an XML declaration is not allowed inside HTML).
fn strip_prolog(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}
