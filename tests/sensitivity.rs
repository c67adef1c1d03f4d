//! `enisim sensitivity`: the ranking puts first what truly moves the verdicts, says which
//! structural switches can flip one, is the same whatever the thread count, and refuses bad
//! input with exit status 2.

use assert_cmd::Command;
use enisim::calibrate::params;
use enisim::metrics::thresholds::Thresholds;
use enisim::plausible::NamedValue;
use enisim::scenario::{replicate, Model, ScenarioSpec, Settings};
use enisim::sensitivity::{analyse, Options};

fn burst() -> (Settings, Model) {
    let mut scenario = ScenarioSpec::embedded("burst").expect("burst");
    // 3 nodes × 4 ENIs: the same mechanisms, a quarter of the work.
    scenario.cluster.nodes = 3;
    scenario.cluster.enis_per_node = 4;
    (
        Settings::new(enisim::controller::ControllerProfile::embedded(), scenario),
        Model::embedded(),
    )
}

fn opts(only: &[&str]) -> Options {
    Options {
        replications: 4,
        seed: 7,
        only: only.iter().map(|s| s.to_string()).collect(),
    }
}

#[test]
fn a_parameter_made_dominant_ranks_first_and_one_the_burst_never_calls_moves_nothing() {
    let (settings, mut model) = burst();
    // DescribeSubnets is called once per NodeENI pass; a plausible range up to 20 s makes it
    // the assumption that matters most. DeleteNetworkInterface is never called in a burst.
    let entry = model
        .ec2
        .plausible
        .get_mut("ec2.latency.DescribeSubnets.median_ms")
        .expect("the embedded profile gives DescribeSubnets a range");
    entry.range = Some([30.0, 20_000.0]);
    let s = analyse(
        &settings,
        &model,
        &Thresholds::embedded(),
        &opts(&["ec2.latency"]),
        &|_, _| {},
    )
    .expect("analyse");
    assert_eq!(s.factors[0].name, "ec2.latency.DescribeSubnets.median_ms");
    assert_eq!(s.factors[0].top_metric, "eni_creation_p95_s");
    assert!(
        s.factors[0].flips_verdict,
        "20 s describes breach the creation threshold"
    );
    assert_eq!(
        s.by_metric["eni_creation_p95_s"][0],
        "ec2.latency.DescribeSubnets.median_ms"
    );
    let delete = s
        .factors
        .iter()
        .find(|f| f.name == "ec2.latency.DeleteNetworkInterface.median_ms")
        .expect("listed");
    assert_eq!(delete.effect, 0.0, "{delete:?}");
    assert!(!delete.flips_verdict);
    // Every factor is registry-complete: the selection is every ec2.latency entry.
    let n = enisim::calibrate::Registry::of(&model, &settings)
        .params
        .iter()
        .filter(|p| p.name.starts_with("ec2.latency"))
        .count();
    assert_eq!(s.factors.len(), n);
}

#[test]
fn each_point_is_the_run_at_that_value_under_the_same_seeds() {
    let (settings, model) = burst();
    let name = "ec2.latency.AttachNetworkInterface.median_ms";
    let s = analyse(
        &settings,
        &model,
        &Thresholds::embedded(),
        &opts(&[name]),
        &|_, _| {},
    )
    .expect("analyse");
    let f = &s.factors[0];
    let (low, high) = (150.0, 2000.0);
    assert_eq!(f.points.len(), 2);
    for (point, v) in f.points.iter().zip([low, high]) {
        let (mut m, mut st) = (model.clone(), settings.clone());
        params::set(&mut m, &mut st, name, &NamedValue::Number(v)).expect("set");
        let runs = replicate(&st, &m, 7, 4, &|| {}).expect("runs");
        let mean = runs
            .iter()
            .map(|r| r.metrics.eni_attachment_p95_s)
            .sum::<f64>()
            / 4.0;
        assert!(
            (point.means["eni_attachment_p95_s"] - mean).abs() < 1e-12,
            "{v}: {} vs {mean}",
            point.means["eni_attachment_p95_s"]
        );
    }
    // Slower attaches lengthen attachment: the swing is the spread of the three points.
    let w = &f.swings["eni_attachment_p95_s"];
    assert!(w.max > w.min);
    assert!(f.points[1].means["eni_attachment_p95_s"] > f.points[0].means["eni_attachment_p95_s"]);
}

#[test]
fn the_switches_are_ranked_with_the_ranges_and_say_whether_they_flip() {
    let (settings, model) = burst();
    let s = analyse(
        &settings,
        &model,
        &Thresholds::embedded(),
        &opts(&["ec2.throttling", "controller.behaviour"]),
        &|_, _| {},
    )
    .expect("analyse");
    let names: Vec<&str> = s.factors.iter().map(|f| f.name.as_str()).collect();
    for n in [
        "ec2.throttling.layout",
        "ec2.throttling.refill",
        "ec2.throttling.describe_by_id_is_filtered",
        "controller.behaviour.self_trigger",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    for f in &s.factors {
        assert_eq!(f.kind, "switch");
        assert_eq!(
            f.points.len(),
            1,
            "{}: one alternative besides the base",
            f.name
        );
    }
    // The self-trigger loop is what keeps workers busy in v1.3.8 (reference §11.1): turning
    // it off moves full reconciliation or creation.
    let st = s
        .factors
        .iter()
        .find(|f| f.name == "controller.behaviour.self_trigger")
        .expect("listed");
    assert!(st.effect > 0.0, "{st:?}");
}

fn enisim() -> Command {
    Command::cargo_bin("enisim").expect("binary")
}

#[test]
fn the_json_is_the_same_on_one_thread_and_on_three() {
    let out = |threads: &str| {
        let o = enisim()
            .args([
                "sensitivity",
                "--replications",
                "3",
                "--only",
                "ec2.bucket.Attach",
                "--format",
                "json",
                "--threads",
                threads,
            ])
            .output()
            .expect("run");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o.stdout
    };
    let one = out("1");
    assert_eq!(one, out("3"));
    let v: serde_json::Value = serde_json::from_slice(&one).expect("json");
    assert_eq!(v["factors"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["replications"], 3);
}

#[test]
fn bad_input_exits_2_and_says_why() {
    let cases: [(&[&str], &str); 3] = [
        (
            &["--only", "ec2.nothing"],
            "no registered parameter starts with ec2.nothing",
        ),
        (&["--replications", "1"], "at least 2 replications"),
        (&["no-such-scenario"], "no-such-scenario"),
    ];
    for (args, want) in cases {
        let o = enisim()
            .arg("sensitivity")
            .args(args)
            .output()
            .expect("run");
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn out_writes_the_table_and_the_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("sens");
    let o = enisim()
        .args([
            "sensitivity",
            "--replications",
            "2",
            "--only",
            "controller.costs.memory_base",
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(out.join("sensitivity.txt")).expect("txt");
    assert_eq!(text, String::from_utf8_lossy(&o.stdout));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("sensitivity.json")).expect("json"))
            .expect("parse");
    assert_eq!(v["factors"][0]["name"], "controller.costs.memory_base_mib");
    assert_eq!(v["factors"][0]["top_metric"], "memory_p95_mib");
}
