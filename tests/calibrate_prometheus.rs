//! Controller costs from Prometheus (issue #11): synthetic `query_range` JSON and text
//! scrapes made from known per-operation costs plus noise; the fit recovers them within 15 %.

use enisim::calibrate::prometheus::{fit, read, Series};
use enisim::engine::rng;
use rand::RngExt;
use std::fmt::Write as _;

const BASE_MC: f64 = 4.0;
const MS_RECONCILE: f64 = 2.5;
const MS_EC2: f64 = 1.4;
const MS_PUT: f64 = 1.8;
const MEM_BASE_MIB: f64 = 45.0;
const KIB_PER_ATTACHMENT: f64 = 30.0;

struct Synthetic {
    times_ms: Vec<i64>,
    cpu: Vec<f64>,
    reconciles: Vec<f64>,
    puts: Vec<f64>,
    rss: Vec<f64>,
    attempts_ms: Vec<i64>,
    attachments: Vec<(i64, f64)>,
}

fn synthetic() -> Synthetic {
    let mut g = rng::stream(11, "prometheus-synthetic");
    let t0 = 1_735_689_600_000i64;
    let mut s = Synthetic {
        times_ms: vec![t0],
        cpu: vec![10.0],
        reconciles: vec![0.0],
        puts: vec![0.0],
        rss: vec![MEM_BASE_MIB * 1048576.0],
        attempts_ms: Vec::new(),
        attachments: vec![(t0, 0.0)],
    };
    let mut held: f64 = 0.0;
    for w in 1..=180 {
        let t = t0 + w * 10_000;
        // A burst, then a steady verify loop, then a scale-down: operations vary by window.
        let phase = (w / 30) % 3;
        let rec = (g.random::<f64>() * [40.0, 15.0, 5.0][phase as usize]).round();
        let ec2 = (g.random::<f64>() * [300.0, 80.0, 20.0][phase as usize]).round();
        let put = (g.random::<f64>() * [60.0, 20.0, 3.0][phase as usize]).round();
        for k in 0..ec2 as i64 {
            s.attempts_ms
                .push(t - 10_000 + 1 + k * 9_000 / (ec2 as i64).max(1));
        }
        let cpu_s =
            BASE_MC / 1000.0 * 10.0 + (MS_RECONCILE * rec + MS_EC2 * ec2 + MS_PUT * put) / 1000.0;
        let noise = 1.0 + 0.04 * (g.random::<f64>() - 0.5);
        s.times_ms.push(t);
        s.cpu.push(s.cpu.last().unwrap() + cpu_s * noise);
        s.reconciles.push(s.reconciles.last().unwrap() + rec);
        s.puts.push(s.puts.last().unwrap() + put);
        held = (held + [3.0, 0.5, -3.5][phase as usize]).max(0.0);
        s.attachments.push((t, held));
        let mem = MEM_BASE_MIB * 1048576.0 + KIB_PER_ATTACHMENT * 1024.0 * held;
        s.rss.push(mem * (1.0 + 0.002 * (g.random::<f64>() - 0.5)));
    }
    s
}

fn check(fitted: &enisim::calibrate::prometheus::CostFit) {
    let want = [
        ("controller.costs.cpu_base_millicores", BASE_MC),
        ("controller.costs.cpu_ms_per_reconcile", MS_RECONCILE),
        ("controller.costs.cpu_ms_per_ec2_attempt", MS_EC2),
        ("controller.costs.cpu_ms_per_status_write", MS_PUT),
        ("controller.costs.memory_base_mib", MEM_BASE_MIB),
        (
            "controller.costs.memory_kib_per_attachment",
            KIB_PER_ATTACHMENT,
        ),
    ];
    for (name, truth) in want {
        let c = fitted.costs.iter().find(|c| c.name == name).unwrap();
        assert!(
            (c.value / truth - 1.0).abs() < 0.15,
            "{name}: {} vs {truth}",
            c.value
        );
    }
}

#[test]
fn costs_are_recovered_from_query_range_json_and_text_scrapes() {
    let s = synthetic();
    let dir = tempfile::tempdir().unwrap();
    let series_json = |name: &str, labels: &str, v: &[f64]| {
        let values: Vec<String> = s
            .times_ms
            .iter()
            .zip(v)
            .map(|(t, x)| format!("[{}, \"{x}\"]", *t as f64 / 1000.0))
            .collect();
        format!(
            "{{\"metric\":{{\"__name__\":\"{name}\"{labels}}},\"values\":[{}]}}",
            values.join(",")
        )
    };
    let json = format!(
        "{{\"status\":\"success\",\"data\":{{\"resultType\":\"matrix\",\"result\":[{},{},{},{}]}}}}",
        series_json("process_cpu_seconds_total", "", &s.cpu),
        series_json("controller_runtime_reconcile_total", ",\"result\":\"success\"", &s.reconciles),
        series_json("rest_client_requests_total", ",\"method\":\"PUT\",\"code\":\"200\"", &s.puts),
        series_json("process_resident_memory_bytes", "", &s.rss),
    );
    let jpath = dir.path().join("query_range.json");
    std::fs::write(&jpath, json).unwrap();
    let mut series = Series::new();
    read(&jpath, &mut series).unwrap();
    let f = fit(&mut series, &s.attempts_ms, &s.attachments, &jpath).unwrap();
    assert_eq!(f.windows, 180);
    check(&f);

    let mut text = String::new();
    for (i, t) in s.times_ms.iter().enumerate() {
        let _ = writeln!(
            text,
            "# HELP process_cpu_seconds_total cpu\nprocess_cpu_seconds_total {} {t}",
            s.cpu[i]
        );
        let _ = writeln!(text, "controller_runtime_reconcile_total{{controller=\"nodeeni\",result=\"success\"}} {} {t}", s.reconciles[i]);
        let _ = writeln!(
            text,
            "rest_client_requests_total{{code=\"200\",method=\"PUT\"}} {} {t}",
            s.puts[i]
        );
        let _ = writeln!(
            text,
            "rest_client_requests_total{{code=\"200\",method=\"GET\"}} {} {t}",
            7 * i
        );
        let _ = writeln!(text, "process_resident_memory_bytes {} {t}", s.rss[i]);
    }
    let tpath = dir.path().join("scrapes.prom");
    std::fs::write(&tpath, text).unwrap();
    let mut series = Series::new();
    read(&tpath, &mut series).unwrap();
    check(&fit(&mut series, &s.attempts_ms, &s.attachments, &tpath).unwrap());

    // A scrape without timestamps is refused with the file and the line.
    let bad = dir.path().join("bad.prom");
    std::fs::write(&bad, "process_cpu_seconds_total 12.5\n").unwrap();
    let e = read(&bad, &mut Series::new()).unwrap_err();
    assert!(e.to_string().contains("bad.prom:line 1"), "{e}");
}
