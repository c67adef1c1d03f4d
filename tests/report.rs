//! `enisim report`: figures checked against the run's and the sweep's own tables, the HTML
//! verdict table against `run`'s text table, SVGs parsed as XML, bad input refused with
//! exit 2 and nothing written, and every report loaded in headless Chromium.

use assert_cmd::Command;
use enisim::metrics::thresholds::Verdict;
use enisim::report::figures::recommend::{Margins, RecommendationDoc};
use enisim::report::figures::run::{BucketTokens, CpuMemory, Ec2Calls, EniTimelines, CREATING};
use enisim::report::figures::sweep::{heatmaps, lines};
use enisim::report::run_dir::RunTables;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn enisim() -> Command {
    Command::cargo_bin("enisim").unwrap()
}

struct Outputs {
    _tmp: tempfile::TempDir,
    run: PathBuf,
    run_stdout: String,
    sweep: PathBuf,
    sweep1: PathBuf,
    rec: PathBuf,
    sens: PathBuf,
    replay: PathBuf,
    calib: PathBuf,
}

/// One run, one two-axis sweep and one one-axis sweep, each with --report (small, fixed seeds).
fn outputs() -> &'static Outputs {
    static O: OnceLock<Outputs> = OnceLock::new();
    O.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("run");
        let out = enisim()
            .args([
                "run",
                "--replications",
                "3",
                "--seed",
                "7",
                "--report",
                "--out",
            ])
            .arg(&run)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let sweep = tmp.path().join("sweep");
        let sweep1 = tmp.path().join("sweep1");
        for (dir, grid) in [
            (
                &sweep,
                vec![
                    "controller.maxConcurrentReconciles=2,5,10",
                    "controller.maxConcurrentENICleanup=1,3",
                ],
            ),
            (
                &sweep1,
                vec!["controller.maxConcurrentReconciles=2,5,10,15"],
            ),
        ] {
            let mut c = enisim();
            c.args(["sweep", "-q", "--replications", "2", "--report", "--out"])
                .arg(dir);
            for g in grid {
                c.args(["--grid", g]);
            }
            let o = c.output().unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
        let rec = tmp.path().join("rec");
        let o = enisim()
            .args(["recommend", "-q", "--report", "--from"])
            .arg(&sweep)
            .arg("--out")
            .arg(&rec)
            .output()
            .unwrap();
        assert!(
            o.status.code().is_some_and(|c| c <= 1),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let sens = tmp.path().join("sens");
        let o = enisim()
            .args([
                "sensitivity",
                "--replications",
                "2",
                "--only",
                "ec2.latency.AttachNetworkInterface",
                "--only",
                "ec2.bucket.AttachNetworkInterface",
                "--only",
                "controller.costs.memory_base_mib",
                "--report",
                "--out",
            ])
            .arg(&sens)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let trail = Path::new(env!("CARGO_MANIFEST_DIR")).join("traces/synthetic-burst");
        let replay = tmp.path().join("replay");
        let calib = tmp.path().join("calib");
        for (args, out) in [
            (vec!["replay", "--replications", "2", "--out"], &replay),
            (
                vec!["calibrate", "--replications", "2", "--max-iters", "1", "-o"],
                &calib,
            ),
        ] {
            let o = enisim()
                .arg(args[0])
                .arg(&trail)
                .args(&args[1..])
                .arg(out)
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let o = enisim().arg("report").arg(out).output().unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
        Outputs {
            rec,
            sens,
            replay,
            calib,
            run_stdout: String::from_utf8(out.stdout).unwrap(),
            run,
            sweep,
            sweep1,
            _tmp: tmp,
        }
    })
}

fn svgs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("figures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "svg"))
        .collect();
    v.sort();
    v
}

/// Every figure parses as SVG (XML with an <svg> root and text as <text>) and has a PNG.
fn check_figures(dir: &Path, expected: usize) {
    let files = svgs(dir);
    assert_eq!(files.len(), expected, "{files:?}");
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let doc = roxmltree::Document::parse(&text)
            .unwrap_or_else(|e| panic!("{}: not XML: {e}", f.display()));
        assert_eq!(
            doc.root_element().tag_name().name(),
            "svg",
            "{}",
            f.display()
        );
        assert!(
            doc.descendants().any(|n| n.has_tag_name("text")),
            "{}: no text element",
            f.display()
        );
        let png = std::fs::read(f.with_extension("png")).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{}", f.display());
    }
}

fn count_fill(svg: &str, color: plotters::style::RGBColor) -> usize {
    let needle = format!("fill=\"#{:02X}{:02X}{:02X}\"", color.0, color.1, color.2);
    svg.matches(&needle).count()
}

fn replication0_metric(dir: &Path, name: &str) -> f64 {
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    doc["replications"][0]["metrics"][name].as_f64().unwrap()
}

#[test]
fn run_figures_hold_the_runs_tables() {
    let o = outputs();
    check_figures(&o.run, 6);
    let t = RunTables::load(&o.run).unwrap();
    // One bar per ENI of replication 0 in enis.csv (plus the legend's box).
    let enis_csv = std::fs::read_to_string(o.run.join("enis.csv")).unwrap();
    let rep0 = enis_csv
        .lines()
        .skip(1)
        .filter(|l| l.starts_with("0,"))
        .count();
    assert!(rep0 >= 100, "{rep0}");
    let timelines = EniTimelines::from_tables(&t);
    assert_eq!(timelines.bars.len(), rep0);
    assert_eq!(timelines.groups.len(), 10);
    let svg = std::fs::read_to_string(o.run.join("figures/eni_timelines.svg")).unwrap();
    assert_eq!(count_fill(&svg, CREATING), rep0 + 1);
    // Calls per second add up to replication 0's rows of calls.csv, and to its attempts.
    let calls = Ec2Calls::from_tables(&t);
    let drawn: u64 = calls.per_second.values().flatten().sum();
    assert_eq!(drawn as f64, replication0_metric(&o.run, "ec2_attempts"));
    let throttled: u64 = calls.throttled.iter().sum();
    assert_eq!(
        throttled as f64,
        replication0_metric(&o.run, "ec2_throttled")
    );
    // The CPU and memory lines peak where the verdicts' metrics say.
    let res = CpuMemory::from_tables(&t);
    let peak = |v: &[(f64, f64)]| v.iter().map(|p| p.1).fold(f64::MIN, f64::max);
    assert_eq!(
        peak(&res.cpu),
        replication0_metric(&o.run, "cpu_peak_millicores")
    );
    assert_eq!(
        peak(&res.memory),
        replication0_metric(&o.run, "memory_peak_mib")
    );
    assert_eq!(
        res.cpu_levels.iter().map(|l| l.value).collect::<Vec<_>>(),
        vec![200.0, 300.0, 400.0]
    );
    // Buckets: levels within [0, the bucket's top]; every bucket is drawn or named full.
    let b = BucketTokens::from_tables(&t);
    assert!(b.drawn.len() + b.full.len() >= 10);
    for levels in b.drawn.values() {
        assert!(levels.iter().all(|p| p.1 >= 0.0), "{levels:?}");
    }
}

/// The verdict table's cells as `run` prints them (columns apart by two spaces or more).
fn text_table(stdout: &str) -> Vec<Vec<String>> {
    stdout
        .lines()
        .skip_while(|l| !l.starts_with("metric "))
        .take_while(|l| !l.trim().is_empty())
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect()
        })
        .collect()
}

fn html_table(html: &str) -> Vec<Vec<String>> {
    let start = html
        .find("<table id=\"verdicts\">")
        .expect("a verdict table");
    let end = start + html[start..].find("</table>").unwrap() + "</table>".len();
    let doc = roxmltree::Document::parse(&html[start..end]).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name("tr"))
        .map(|tr| {
            tr.children()
                .filter(|c| c.is_element())
                .map(|c| c.text().unwrap_or("").to_string())
                .collect()
        })
        .collect()
}

#[test]
fn html_verdict_table_is_runs_text_table() {
    let o = outputs();
    let html = std::fs::read_to_string(o.run.join("report.html")).unwrap();
    let text = text_table(&o.run_stdout);
    assert_eq!(text.len(), 9, "{text:?}");
    assert_eq!(html_table(&html), text);
    // Self-contained: inline SVG, no script, nothing fetched.
    assert_eq!(html.matches("<svg").count(), 6);
    assert!(!html.contains("<script"));
    assert!(
        !html.contains("http://")
            || html.matches("http://").count()
                == html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count()
    );
    assert!(!html.contains("https://"));
}

#[test]
fn sweep_heatmaps_have_one_cell_per_grid_point() {
    let o = outputs();
    let r = enisim::sweep::runner::load_results(&o.sweep).unwrap();
    let summaries = r.summaries();
    let maps = heatmaps(&r, &summaries);
    let judged = r.def.thresholds.judged().count();
    assert_eq!(maps.len(), judged + 1);
    for m in &maps {
        assert_eq!(m.cells.len(), 6, "{}", m.label);
        assert_eq!((m.x_values.len(), m.y_values.len()), (3, 2));
        let mut xy: Vec<(usize, usize)> = m.cells.iter().map(|c| (c.x, c.y)).collect();
        xy.sort();
        xy.dedup();
        assert_eq!(xy.len(), 6);
        // A contour edge separates exactly two cells of different verdicts.
        for (a, b, v) in m.contour_edges() {
            assert!(a.0 == b.0 || a.1 == b.1);
            assert!(v > enisim::metrics::thresholds::Verdict::Acceptable);
        }
    }
    let verdicts = maps.last().unwrap();
    for c in &verdicts.cells {
        assert_eq!(c.verdict, summaries[c.point].worst);
    }
    check_figures(&o.sweep, judged + 1);
    // One axis: a line with its band per judged metric.
    let r1 = enisim::sweep::runner::load_results(&o.sweep1).unwrap();
    let s1 = r1.summaries();
    let ls = lines(&r1, &s1);
    assert_eq!(ls.len(), judged);
    for l in &ls {
        assert_eq!(l.points.len(), 4);
        assert!(l.points.iter().all(|(m, lo, hi)| lo <= m && m <= hi));
    }
    check_figures(&o.sweep1, judged);
}

#[test]
fn recommend_figures_mark_the_chosen_point_and_every_margin() {
    let o = outputs();
    check_figures(&o.rec, 2);
    let doc = RecommendationDoc::load(&o.rec).unwrap();
    let r = enisim::sweep::runner::load_results(&o.sweep).unwrap();
    let summaries = r.summaries();
    let chosen = enisim::recommend::choose(&r.def, &summaries, 0.02);
    assert_eq!(doc.chosen, chosen);
    let nearest = enisim::recommend::advice::diagnose(&r, &summaries).map(|d| d.nearest);
    assert_eq!(doc.marked, chosen.or(nearest));
    let marked = doc.marked.expect("a point to mark");
    // One margin per judged threshold, each the point's own upper bound.
    assert_eq!(doc.margins.len(), r.def.thresholds.judged().count());
    let at = summaries.iter().find(|s| s.point == marked).unwrap();
    for m in &doc.margins {
        assert_eq!(
            m.high,
            at.get(&r.def, &m.metric).unwrap().high(),
            "{}",
            m.metric
        );
        assert_eq!(
            Margins::percent(m) >= 0.0,
            m.verdict == Verdict::Acceptable || m.high <= m.limit
        );
    }
    // The verdict map has every grid point, the marked one among them.
    let map = doc.verdict_map();
    assert_eq!(map.cells.len(), 6);
    assert!(map.cells.iter().any(|c| c.point == marked));
    for c in &map.cells {
        assert_eq!(c.verdict, summaries[c.point].worst);
    }
}

// ---- bad input -------------------------------------------------------------------------

#[test]
fn sensitivity_figures_hold_the_ranking_and_one_tornado_per_moved_metric() {
    let o = outputs();
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(o.sens.join("sensitivity.json")).unwrap())
            .unwrap();
    let factors = doc["factors"].as_array().unwrap();
    assert_eq!(
        factors.len(),
        5,
        "2 Attach latencies, 2 Attach bucket values, 1 memory cost"
    );
    let moved: Vec<String> = doc["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_string())
        .filter(|m| {
            factors
                .iter()
                .any(|f| f["swings"][m]["share_of_threshold"].as_f64().unwrap_or(0.0) > 0.0)
        })
        .collect();
    assert!(!moved.is_empty());
    check_figures(&o.sens, 1 + moved.len());
    let bars = |name: &str| {
        let svg =
            std::fs::read_to_string(o.sens.join("figures").join(format!("{name}.svg"))).unwrap();
        count_fill(&svg, enisim::report::figures::CRITICAL)
            + count_fill(&svg, enisim::report::figures::PALETTE[0])
    };
    // One bar per assumption in the ranking, red exactly where it flips a verdict.
    assert_eq!(bars("sensitivity_ranking"), factors.len());
    let svg = std::fs::read_to_string(o.sens.join("figures/sensitivity_ranking.svg")).unwrap();
    let flips = factors
        .iter()
        .filter(|f| f["flips_verdict"] == true)
        .count();
    assert_eq!(count_fill(&svg, enisim::report::figures::CRITICAL), flips);
    // Each tornado: one bar per assumption that moves the metric.
    for m in &moved {
        let n = factors
            .iter()
            .filter(|f| f["swings"][m]["share_of_threshold"].as_f64().unwrap_or(0.0) > 0.0)
            .count();
        assert_eq!(bars(&format!("tornado_{m}")), n, "{m}");
    }
    let html = std::fs::read_to_string(o.sens.join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 1 + moved.len());
    // A foreign sensitivity.json is refused with its path, nothing written.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("sensitivity.json"), "{\"factors\": 3}").unwrap();
    refused(
        tmp.path(),
        &["sensitivity.json", "not the sensitivity.json"],
    );
}

#[test]
fn replay_and_calibrate_reports_show_the_recording_beside_the_model() {
    let o = outputs();
    let json = |p: PathBuf| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let dots = |svg: &str| {
        count_fill(svg, enisim::report::figures::ACCEPTABLE)
            + count_fill(svg, enisim::report::figures::CRITICAL)
    };
    // Replay: the run's figures plus one dot per validated metric with a recorded value.
    let v = json(o.replay.join("validation.json"));
    let rows = v["rows"].as_array().unwrap();
    let shown = rows
        .iter()
        .filter(|r| r["recorded"].as_f64().is_some_and(|x| x != 0.0) && r["replayed"].is_number())
        .count();
    assert!(shown > 5, "{shown}");
    let svg = std::fs::read_to_string(o.replay.join("figures/replay_validation.svg")).unwrap();
    assert_eq!(dots(&svg), shown);
    let red = rows
        .iter()
        .filter(|r| r["recorded"].as_f64().is_some_and(|x| x != 0.0) && r["replayed"].is_number())
        .filter(|r| r["inside"] == false)
        .count();
    assert_eq!(count_fill(&svg, enisim::report::figures::CRITICAL), red);
    check_figures(&o.replay, 7);
    let html = std::fs::read_to_string(o.replay.join("report.html")).unwrap();
    assert!(
        html.contains(v["summary"].as_str().unwrap()),
        "the summary line is in the report"
    );
    // Calibrate: one dot per moment.
    let c = json(o.calib.join("calibration.json"));
    let moments = c["moments"].as_array().unwrap().len();
    assert!(moments > 3);
    check_figures(&o.calib, 1);
    let svg = std::fs::read_to_string(o.calib.join("figures/calibration_moments.svg")).unwrap();
    assert_eq!(dots(&svg), moments);
    let html = std::fs::read_to_string(o.calib.join("report.html")).unwrap();
    assert_eq!(
        html.matches("<tr").count(),
        1 + moments,
        "a table row per moment"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() && p.file_name().unwrap() != "report.html" {
            std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
        }
    }
}

/// `report DIR` exits 2 naming `what` in its message, and writes no report.
fn refused(dir: &Path, what: &[&str]) {
    let out = enisim().arg("report").arg(dir).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for w in what {
        assert!(err.contains(w), "{w:?} not in {err}");
    }
    assert!(!dir.join("report.html").exists());
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_input_exits_2_with_the_path_and_writes_nothing() {
    let o = outputs();
    let tmp = tempfile::tempdir().unwrap();
    // No such directory; a directory with no known output.
    refused(&tmp.path().join("nope"), &["nope", "no such directory"]);
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    refused(
        &empty,
        &["empty", "not an enisim output directory", "summary.json"],
    );
    // enis.csv cut inside a line, and cut at a line boundary.
    let cut = tmp.path().join("cut");
    copy_dir(&o.run, &cut);
    let enis = std::fs::read_to_string(cut.join("enis.csv")).unwrap();
    std::fs::write(cut.join("enis.csv"), &enis[..enis.len() * 2 / 3]).unwrap();
    refused(&cut, &["enis.csv", "line"]);
    let whole_lines: String = enis.lines().take(50).map(|l| format!("{l}\n")).collect();
    std::fs::write(cut.join("enis.csv"), whole_lines).unwrap();
    refused(&cut, &["enis.csv", "truncated"]);
    // A foreign CSV in place of calls.csv.
    let foreign = tmp.path().join("foreign");
    copy_dir(&o.run, &foreign);
    std::fs::write(foreign.join("calls.csv"), "a,b\n1,2\n").unwrap();
    refused(&foreign, &["calls.csv", "missing field"]);
    // summary.json that is not a run's.
    std::fs::write(foreign.join("summary.json"), "{\"x\": 1}").unwrap();
    refused(&foreign, &["summary.json", "not the summary.json"]);
    // A sweep whose summary.parquet is truncated, or another file.
    let sweep = tmp.path().join("sweep");
    copy_dir(&o.sweep, &sweep);
    let pq = std::fs::read(sweep.join("summary.parquet")).unwrap();
    std::fs::write(sweep.join("summary.parquet"), &pq[..pq.len() / 2]).unwrap();
    refused(&sweep, &["summary.parquet", "Parquet"]);
    std::fs::copy(
        o.sweep1.join("summary.parquet"),
        sweep.join("summary.parquet"),
    )
    .unwrap();
    refused(&sweep, &["summary.parquet", "another sweep"]);
    // A recommendation.json from something else.
    let rec = tmp.path().join("rec");
    copy_dir(&o.rec, &rec);
    std::fs::write(rec.join("recommendation.json"), "{\"format\": \"x\"}").unwrap();
    refused(
        &rec,
        &["recommendation.json", "not the recommendation.json"],
    );
    // An output that cannot be written: a file where figures/ goes.
    let blocked = tmp.path().join("blocked");
    copy_dir(&o.run, &blocked);
    std::fs::write(blocked.join("figures"), "in the way").unwrap();
    refused(&blocked, &["figures", "cannot write"]);
    // run --report without --out is refused before any work.
    let out = enisim().args(["run", "--report"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn report_rerenders_byte_for_byte() {
    let o = outputs();
    let tmp = tempfile::tempdir().unwrap();
    let again = tmp.path().join("again");
    copy_dir(&o.run, &again);
    let out = enisim().arg("report").arg(&again).output().unwrap();
    assert!(out.status.success());
    let same = |rel: &str| {
        std::fs::read(again.join(rel)).unwrap() == std::fs::read(o.run.join(rel)).unwrap()
    };
    assert!(same("report.html"), "report.html differs");
    assert!(
        same("figures/eni_timelines.png"),
        "eni_timelines.png differs"
    );
}

// ---- in a real browser -----------------------------------------------------------------

/// Debian's `chromium` on PATH, or a failure that says how to get it (unless
/// ENISIM_SKIP_CHROMIUM=1).
fn chromium() -> Option<&'static str> {
    if std::env::var("ENISIM_SKIP_CHROMIUM").as_deref() == Ok("1") {
        eprintln!("ENISIM_SKIP_CHROMIUM=1: skipping the browser checks");
        return None;
    }
    let found = std::process::Command::new("chromium")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "`chromium` is not on PATH: install it (Debian: `apt-get install -y --no-install-recommends \
         chromium`; .ci/run does it), or set ENISIM_SKIP_CHROMIUM=1 to skip this test"
    );
    Some("chromium")
}

/// Loads `page` headless and takes a screenshot; returns the console lines Chromium logged.
fn load(browser: &str, page: &Path, shot: &Path) -> Vec<String> {
    let out = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1100,3000",
        ])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.canonicalize().unwrap().display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(shot).unwrap_or_default();
    assert!(
        png.starts_with(b"\x89PNG"),
        "no screenshot of {}",
        page.display()
    );
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(String::from)
        .collect()
}

#[test]
fn every_report_loads_in_chromium_without_a_console_error() {
    let Some(browser) = chromium() else { return };
    let o = outputs();
    let tmp = tempfile::tempdir().unwrap();
    // The check can fail: a page that logs an error is caught.
    let bad = tmp.path().join("bad.html");
    std::fs::write(
        &bad,
        "<html><body><script>console.error('boom')</script></body></html>",
    )
    .unwrap();
    let lines = load(browser, &bad, &tmp.path().join("bad.png"));
    assert!(lines.iter().any(|l| l.contains("boom")), "{lines:?}");
    for (name, dir) in [
        ("run", &o.run),
        ("sweep", &o.sweep),
        ("sweep1", &o.sweep1),
        ("recommend", &o.rec),
        ("sensitivity", &o.sens),
        ("replay", &o.replay),
        ("calibrate", &o.calib),
    ] {
        let shot = tmp.path().join(format!("{name}.png"));
        let console = load(browser, &dir.join("report.html"), &shot);
        assert!(console.is_empty(), "{name}: {console:?}");
    }
}
