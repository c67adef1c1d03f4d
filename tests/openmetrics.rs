//! `run --metrics-out`: the OpenMetrics file agrees with the run's own tables, is the same
//! for the same seed, refuses bad input, and loads into the real Prometheus (promtool
//! backfill, then queries over the HTTP API of a server started here on loopback).

use assert_cmd::Command;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const START: f64 = 1735689600.0; // 2025-01-01T00:00:00Z

fn enisim() -> Command {
    Command::cargo_bin("enisim").unwrap()
}

/// One replication of the default burst: its run directory, metrics file and summary.
struct Run {
    dir: tempfile::TempDir,
    file: PathBuf,
    metrics: serde_json::Value,
}

fn run_burst(seed: u64, extra: &[&str]) -> Run {
    run_scenario("burst", seed, extra)
}

fn run_scenario(scenario: &str, seed: u64, extra: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("run.om");
    let out = enisim()
        .args(["run", scenario, "--replications", "1", "--format", "json"])
        .args(["--seed", &seed.to_string()])
        .arg("--out")
        .arg(dir.path().join("out"))
        .arg("--metrics-out")
        .arg(&file)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let metrics = doc["summary"]["metrics"].clone();
    Run { dir, file, metrics }
}

impl Run {
    /// A metric of the run's summary (one replication: its mean is its value).
    fn metric(&self, name: &str) -> f64 {
        let m = &self.metrics[name];
        assert_eq!(m["n"], 1, "{name}: {m}");
        m["mean"].as_f64().unwrap()
    }
    fn text(&self) -> String {
        std::fs::read_to_string(&self.file).unwrap()
    }
}

/// A sample: (metric name, labels, value, timestamp).
type Sample = (String, BTreeMap<String, String>, f64, f64);

/// A minimal OpenMetrics reader: the samples, in file order.
fn parse(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        let mut parts = l.rsplitn(3, ' ');
        let ts: f64 = parts.next().unwrap().parse().unwrap();
        let value: f64 = parts.next().unwrap().parse().unwrap();
        let series = parts.next().unwrap();
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => {
                let body = rest.strip_suffix('}').unwrap();
                let labels = body
                    .split("\",")
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        let (k, v) = p.split_once("=\"").unwrap();
                        (k.to_string(), v.trim_end_matches('"').to_string())
                    })
                    .collect();
                (n.to_string(), labels)
            }
            None => (series.to_string(), BTreeMap::new()),
        };
        out.push((name, labels, value, ts));
    }
    out
}

/// The value of every series at the file's last timestamp, summed by metric name.
fn final_sums(samples: &[Sample]) -> BTreeMap<String, f64> {
    let end = samples.iter().map(|s| s.3).fold(f64::MIN, f64::max);
    let mut out = BTreeMap::new();
    for (name, _, v, t) in samples {
        if *t == end {
            *out.entry(name.clone()).or_insert(0.0) += v;
        }
    }
    out
}

#[test]
fn the_file_agrees_with_the_runs_own_tables() {
    let run = run_burst(7, &[]);
    let text = run.text();
    assert!(text.ends_with("# EOF\n"));
    let samples = parse(&text);
    let sums = final_sums(&samples);
    let sum = |n: &str| sums.get(n).copied().unwrap_or(0.0);
    // Every EC2 attempt, as calls.csv lists them.
    let calls_csv = std::fs::read_to_string(run.dir.path().join("out/calls.csv")).unwrap();
    let attempts = calls_csv.lines().count() as f64 - 1.0;
    assert!(attempts > 0.0);
    assert_eq!(sum("aws_api_calls_total"), attempts);
    assert_eq!(sum("aws_api_calls_total"), run.metric("ec2_attempts"));
    assert_eq!(sum("aws_api_call_duration_seconds_count"), attempts);
    assert_eq!(
        sum("aws_throttling_events_total"),
        run.metric("ec2_throttled")
    );
    assert_eq!(sum("eni_operations_total"), run.metric("eni_operations"));
    assert_eq!(
        sum("eni_operation_errors_total"),
        run.metric("eni_operation_errors")
    );
    assert_eq!(
        sum("eni_operation_duration_seconds_count"),
        run.metric("eni_operations")
    );
    assert_eq!(
        sum("controller_runtime_reconcile_total"),
        run.metric("reconciles")
    );
    assert_eq!(
        sum("controller_runtime_reconcile_time_seconds_count"),
        run.metric("reconciles")
    );
    assert_eq!(
        sum("coordination_conflicts_total"),
        run.metric("index_conflicts")
    );
    assert_eq!(sum("eni_attachments_total"), run.metric("attached_at_end"));
    assert_eq!(sum("workqueue_depth"), run.metric("queue_depth_end"));
    // CPU: the mean over the run is the run's mean millicores.
    let end_s = run.metric("end_s");
    let cpu = sum("process_cpu_seconds_total");
    let mean = run.metric("cpu_mean_millicores");
    assert!(
        (cpu / end_s * 1000.0 - mean).abs() < 1e-6 * mean.max(1.0),
        "{cpu} s over {end_s} s vs {mean} m"
    );
    assert_eq!(cpu, sum("container_cpu_usage_seconds_total"));
    let peak = run.metric("memory_peak_mib") * 1048576.0;
    for (name, labels, v, _) in &samples {
        if name == "container_memory_usage_bytes" {
            assert!(labels["pod"].starts_with("eni-controller"));
            assert!(*v > 0.0 && *v <= peak + 1.0, "{v} > {peak}");
        }
    }
    // Every family the dashboard and the plan name is there.
    for family in [
        "eni_operations_total",
        "eni_operation_duration_seconds_bucket",
        "eni_attachments_total",
        "eni_detachments_total",
        "aws_api_calls_total",
        "aws_api_call_duration_seconds_bucket",
        "aws_throttling_events_total",
        "circuit_breaker_state",
        "coordination_conflicts_total",
        "container_cpu_usage_seconds_total",
        "container_memory_usage_bytes",
        "controller_runtime_reconcile_total",
        "controller_runtime_reconcile_time_seconds_bucket",
        "workqueue_depth",
        "workqueue_adds_total",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
    ] {
        assert!(
            samples.iter().any(|s| s.0 == family),
            "{family} missing from the file"
        );
    }
    // Label sets as pkg/observability/metrics.go declares them.
    let keys = |name: &str| -> Vec<String> {
        let s = samples.iter().find(|s| s.0 == name).unwrap();
        s.1.keys().cloned().collect()
    };
    assert_eq!(
        keys("eni_operations_total"),
        ["node", "operation", "status"]
    );
    assert_eq!(
        keys("aws_api_calls_total"),
        ["operation", "service", "status"]
    );
    assert_eq!(
        keys("eni_operation_duration_seconds_bucket"),
        ["le", "node", "operation"]
    );
    for (name, labels, _, _) in &samples {
        if name == "eni_operations_total" {
            assert!(labels["operation"].starts_with("eni-"), "{labels:?}");
            assert!(["success", "error"].contains(&labels["status"].as_str()));
        }
        if name == "controller_runtime_reconcile_total" {
            assert_eq!(labels["controller"], "nodeeni");
        }
    }
    // Buckets as declared: ExponentialBuckets(0.1, 2, 10) and (0.01, 2, 10), then +Inf.
    let les = |name: &str| -> Vec<String> {
        let first = samples.iter().find(|s| s.0 == name).unwrap();
        samples
            .iter()
            .filter(|s| s.0 == name && s.3 == first.3)
            .filter(|s| {
                let mut l = s.1.clone();
                l.remove("le");
                let mut f = first.1.clone();
                f.remove("le");
                l == f
            })
            .map(|s| s.1["le"].clone())
            .collect()
    };
    assert_eq!(
        les("eni_operation_duration_seconds_bucket"),
        ["0.1", "0.2", "0.4", "0.8", "1.6", "3.2", "6.4", "12.8", "25.6", "51.2", "+Inf"]
    );
    assert_eq!(
        les("aws_api_call_duration_seconds_bucket"),
        ["0.01", "0.02", "0.04", "0.08", "0.16", "0.32", "0.64", "1.28", "2.56", "5.12", "+Inf"]
    );
    assert_eq!(
        les("controller_runtime_reconcile_time_seconds_bucket").len(),
        41
    );
    // Counters never go down; samples every 15 s from the start time.
    let mut last: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for (name, labels, v, t) in &samples {
        assert!(*t >= START && *t <= START + end_s + 0.001, "{t}");
        assert!(((*t - START) % 15.0).abs() < 1e-9 || (*t - START - end_s).abs() < 0.001);
        if name.ends_with("_total") && !name.starts_with("eni_attachments") {
            let key = format!("{name}{labels:?}");
            if let Some((lv, lt)) = last.get(&key) {
                assert!(*t > *lt, "{key}: timestamps not increasing");
                assert!(v >= lv, "{key}: counter went down");
            }
            last.insert(key, (*v, *t));
        }
    }
}

#[test]
fn every_scenario_s_counters_match_its_tables() {
    for scenario in ["gradual", "mixed", "failure", "scale-down", "drain"] {
        let run = run_scenario(scenario, 2, &[]);
        let sums = final_sums(&parse(&run.text()));
        let sum = |n: &str| sums.get(n).copied().unwrap_or(0.0);
        for (series, metric) in [
            ("aws_api_calls_total", "ec2_attempts"),
            ("aws_throttling_events_total", "ec2_throttled"),
            ("eni_operations_total", "eni_operations"),
            ("eni_operation_errors_total", "eni_operation_errors"),
            ("controller_runtime_reconcile_total", "reconciles"),
            ("coordination_conflicts_total", "index_conflicts"),
            ("workqueue_depth", "queue_depth_end"),
        ] {
            assert_eq!(sum(series), run.metric(metric), "{scenario}: {series}");
        }
        if scenario != "mixed" {
            // (mixed ends with attachments being changed: more than the desired ones)
            assert_eq!(
                sum("eni_attachments_total"),
                run.metric("attached_at_end"),
                "{scenario}"
            );
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_bytes_and_the_start_time_only_shifts_them() {
    let a = run_burst(3, &[]);
    let b = run_burst(3, &[]);
    assert_eq!(a.text(), b.text());
    let c = run_burst(3, &["--start-time", "2025-01-01T01:00:00+00:00"]);
    let (pa, pc) = (parse(&a.text()), parse(&c.text()));
    assert_eq!(pa.len(), pc.len());
    for (x, y) in pa.iter().zip(&pc) {
        assert_eq!((&x.0, &x.1, x.2), (&y.0, &y.1, y.2));
        assert!((y.3 - x.3 - 3600.0).abs() < 1e-6);
    }
}

#[test]
fn another_replication_is_another_run() {
    let dir = tempfile::tempdir().unwrap();
    let write = |r: &str| {
        let file = dir.path().join(format!("r{r}.om"));
        enisim()
            .args(["run", "burst", "--replications", "2", "--seed", "5"])
            .args(["--replication", r, "--metrics-out"])
            .arg(&file)
            .assert()
            .success();
        std::fs::read_to_string(file).unwrap()
    };
    assert_ne!(write("0"), write("1"));
}

#[test]
fn bad_input_exits_2_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.om");
    let cases: [(&[&str], &str); 3] = [
        (
            &["--replications", "2", "--replication", "2"],
            "out of range",
        ),
        (&["--start-time", "yesterday"], "RFC 3339"),
        (&["--start-time", "1960-01-01T00:00:00Z"], "before 1970"),
    ];
    for (args, why) in cases {
        let out = enisim()
            .args(["run", "burst"])
            .args(args)
            .arg("--metrics-out")
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(why), "{args:?}: {err}");
        assert!(!file.exists());
    }
    // A directory where the file should go.
    let out = enisim()
        .args(["run", "burst", "--replications", "1", "--metrics-out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is a directory"));
    // Under a file, not a directory.
    let blocker = dir.path().join("plain");
    std::fs::write(&blocker, "x").unwrap();
    let out = enisim()
        .args(["run", "burst", "--replications", "1", "--metrics-out"])
        .arg(blocker.join("m.om"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--metrics-out"));
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "{left:?}");
}

// ---- the real thing ------------------------------------------------------------------

/// `promtool` and `prometheus` on PATH, or a failure that says how to get them (unless
/// ENISIM_SKIP_PROMETHEUS=1).
fn prometheus_tools() -> bool {
    if std::env::var("ENISIM_SKIP_PROMETHEUS").as_deref() == Ok("1") {
        eprintln!("ENISIM_SKIP_PROMETHEUS=1: skipping the Prometheus checks");
        return false;
    }
    for tool in ["promtool", "prometheus"] {
        let found = std::process::Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            found,
            "`{tool}` is not on PATH: install Prometheus (Debian: `apt-get install -y \
             --no-install-recommends prometheus`; .ci/run does it), or set \
             ENISIM_SKIP_PROMETHEUS=1 to skip this test"
        );
    }
    true
}

/// The Prometheus server this test started; killed and reaped when dropped, even when the
/// test fails.
struct Server {
    child: std::process::Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    let mut body = String::new();
    s.read_to_string(&mut body)?;
    let code = body
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = body
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((code, body))
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn start_prometheus(data: &Path, work: &Path) -> Server {
    let config = work.join("prometheus.yml");
    std::fs::write(
        &config,
        "global:\n  scrape_interval: 15s\nscrape_configs: []\n",
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::fs::File::create(work.join("prometheus.log")).unwrap();
    let child = std::process::Command::new("prometheus")
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg("--storage.tsdb.retention.time=100y")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!("--config.file={}", config.display()))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let server = Server { child, port };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok((200, _)) = http_get(port, "/-/ready") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus not ready in 60 s: {}",
            std::fs::read_to_string(work.join("prometheus.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    server
}

/// An instant query's result vector.
fn query(server: &Server, q: &str, at: f64) -> Vec<serde_json::Value> {
    let path = format!("/api/v1/query?query={}&time={at:.3}", encode(q));
    let (code, body) = http_get(server.port, &path).unwrap();
    assert_eq!(code, 200, "{q}: {body}");
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["status"], "success", "{q}: {body}");
    doc["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn promtool_and_prometheus_read_the_file() {
    if !prometheus_tools() {
        return;
    }
    let run = run_burst(11, &[]);
    let work = run.dir.path();
    // The last scrape, in the text format `promtool check metrics` reads.
    let last = enisim::report::openmetrics::last_scrape_text(&run.text());
    let check = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(last.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    let problems = String::from_utf8_lossy(&check.stdout).to_string()
        + &String::from_utf8_lossy(&check.stderr);
    // The controller's own names break two lint rules (gauges named *_total, as
    // metrics.go declares eni_attachments_total / eni_detachments_total); nothing else.
    for line in problems.lines() {
        assert!(
            line.contains("non-counter metrics should not have \"_total\" suffix")
                && (line.starts_with("eni_attachments_total")
                    || line.starts_with("eni_detachments_total")),
            "promtool check metrics: {problems}"
        );
    }
    // The backfill the docs describe.
    let data = work.join("tsdb");
    let backfill = std::process::Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&run.file)
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        backfill.status.success(),
        "promtool tsdb create-blocks-from openmetrics: {}{}",
        String::from_utf8_lossy(&backfill.stdout),
        String::from_utf8_lossy(&backfill.stderr)
    );
    let server = start_prometheus(&data, work);
    let end = START + run.metric("end_s");
    let total = query(&server, "sum(aws_api_calls_total)", end);
    assert_eq!(total.len(), 1, "{total:?}");
    let v: f64 = total[0]["value"][1].as_str().unwrap().parse().unwrap();
    assert_eq!(v, run.metric("ec2_attempts"));
    let ops = query(&server, "sum(eni_operations_total)", end);
    let v: f64 = ops[0]["value"][1].as_str().unwrap().parse().unwrap();
    assert_eq!(v, run.metric("eni_operations"));
    // Every query of the dashboard returns data at the end of the run.
    let dashboard =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/grafana/enisim-controller.json");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&dashboard).unwrap()).unwrap();
    let mut exprs = Vec::new();
    for p in doc["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().into_iter().flatten() {
            exprs.push(
                t["expr"]
                    .as_str()
                    .unwrap()
                    .replace("$__rate_interval", "1m"),
            );
        }
    }
    assert!(exprs.len() >= 16, "{exprs:?}");
    for e in exprs {
        assert!(!query(&server, &e, end).is_empty(), "no data for {e}");
    }
    // The four views of the performance plan.
    let rows: Vec<&str> = doc["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] == "row")
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        rows,
        [
            "ENI operations overview",
            "AWS API performance",
            "Controller resource usage",
            "Error-rate tracking"
        ]
    );
    drop(server);
}
