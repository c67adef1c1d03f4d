//! `resources.controller` sized from the predicted CPU and memory with headroom, or the
//! chart's defaults when this build of the model predicts neither.

use crate::metrics::MeanCi;

/// Metric names the CPU and memory figures may have (the model's `RunMetrics` names, and
/// the thresholds file's).
pub const CPU_P95: [&str; 2] = ["cpu_p95_millicores", "controller_cpu_p95_millicores"];
pub const CPU_PEAK: [&str; 2] = ["cpu_peak_millicores", "controller_cpu_peak_millicores"];
pub const MEM_P95: [&str; 2] = ["memory_p95_mib", "controller_memory_p95_mib"];
pub const MEM_PEAK: [&str; 2] = ["memory_peak_mib", "controller_memory_peak_mib"];

/// The chart's defaults (charts/aws-multi-eni-controller/values.yaml).
pub const CHART_DEFAULT: Sizes = Sizes {
    requests_cpu_m: 100,
    limits_cpu_m: 500,
    requests_memory_mi: 128,
    limits_memory_mi: 512,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    pub requests_cpu_m: u64,
    pub limits_cpu_m: u64,
    pub requests_memory_mi: u64,
    pub limits_memory_mi: u64,
}

/// The sizes and one comment per value saying where it comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Resources {
    pub sizes: Sizes,
    pub predicted: bool,
    /// Whether the prediction rests on calibrated per-operation costs (the controller
    /// profile's `costs.calibrated`); when not, no value goes below the chart's default.
    pub calibrated: bool,
    /// Comments for requests.cpu, requests.memory, limits.cpu, limits.memory.
    pub comments: [String; 4],
}

fn round_up(x: f64, step: u64) -> u64 {
    let x = x.max(0.0);
    ((x / step as f64).ceil() as u64).max(1) * step
}

/// The predicted figures, each as (mean and CI) for p95 and peak.
#[derive(Debug, Clone, Copy)]
pub struct Predicted {
    pub cpu_p95: MeanCi,
    pub cpu_peak: MeanCi,
    pub mem_p95: MeanCi,
    pub mem_peak: MeanCi,
}

/// Where the costs behind a prediction come from, as the comments say it.
pub fn costs_source(calibrated: bool) -> &'static str {
    if calibrated {
        "from calibrated per-operation costs"
    } else {
        "from assumed per-operation costs (models/controller `costs`, not calibrated)"
    }
}

/// Requests from the p95 (upper 95 % bound) plus `headroom`; limits from the peak (upper
/// bound) plus `headroom`, never below the requests. Unless the costs are `calibrated`,
/// no value goes below the chart's default: assumed costs may raise a value, never cut it.
pub fn size(p: Option<Predicted>, headroom: f64, calibrated: bool) -> Resources {
    let Some(p) = p else {
        let note = "enisim's model in this build predicts no controller CPU or memory: the chart default is kept";
        return Resources {
            sizes: CHART_DEFAULT,
            predicted: false,
            calibrated,
            comments: [note.into(), note.into(), note.into(), note.into()],
        };
    };
    let h = 1.0 + headroom;
    let pct = (headroom * 100.0).round();
    let d = CHART_DEFAULT;
    // (prediction, rounding step, chart default, unit, what) per value, in comment order.
    let raw = [
        (p.cpu_p95, 10, d.requests_cpu_m, "m", "p95 CPU"),
        (p.mem_p95, 16, d.requests_memory_mi, "Mi", "p95 memory"),
        (p.cpu_peak, 50, d.limits_cpu_m, "m", "peak CPU"),
        (p.mem_peak, 64, d.limits_memory_mi, "Mi", "peak memory"),
    ];
    let mut values = [0u64; 4];
    let mut comments: [String; 4] = Default::default();
    for (i, (ci, step, default, unit, what)) in raw.into_iter().enumerate() {
        let sized = round_up(ci.high() * h, step);
        // Limits never below their request.
        let sized = if i >= 2 {
            sized.max(values[i - 2])
        } else {
            sized
        };
        let (value, why) = if !calibrated && sized < default {
            (
                default,
                format!("; {sized}{unit} sized, kept at the chart default {default}{unit} (assumed costs never lower a default)"),
            )
        } else {
            (sized, String::new())
        };
        values[i] = value;
        let margin = if i >= 2 {
            format!("; margin {:.0}{unit}", value as f64 - ci.high())
        } else {
            String::new()
        };
        comments[i] = format!(
            "predicted {what} {:.0}{unit} (upper 95 % bound {:.0}{unit}) + {pct} % headroom, {}{why}{margin}",
            ci.mean,
            ci.high(),
            costs_source(calibrated)
        );
    }
    // A limit kept at its default may now sit below a request sized above its own.
    values[2] = values[2].max(values[0]);
    values[3] = values[3].max(values[1]);
    Resources {
        sizes: Sizes {
            requests_cpu_m: values[0],
            requests_memory_mi: values[1],
            limits_cpu_m: values[2],
            limits_memory_mi: values[3],
        },
        predicted: true,
        calibrated,
        comments,
    }
}

/// "250m" → 250, "1" → 1000, "1.5" → 1500 (Kubernetes CPU quantities).
pub fn parse_cpu_m(q: &str) -> Option<f64> {
    let q = q.trim();
    match q.strip_suffix('m') {
        Some(m) => m.parse().ok(),
        None => q.parse::<f64>().ok().map(|c| c * 1000.0),
    }
}

/// "256Mi" → 256, "1Gi" → 1024, "512M" → 488.3 (Kubernetes memory quantities, in MiB).
pub fn parse_memory_mi(q: &str) -> Option<f64> {
    let q = q.trim();
    const UNITS: [(&str, f64); 8] = [
        ("Ki", 1.0 / 1024.0),
        ("Mi", 1.0),
        ("Gi", 1024.0),
        ("Ti", 1024.0 * 1024.0),
        ("k", 1e3 / 1048576.0),
        ("M", 1e6 / 1048576.0),
        ("G", 1e9 / 1048576.0),
        ("T", 1e12 / 1048576.0),
    ];
    for (suffix, mib) in UNITS {
        if let Some(n) = q.strip_suffix(suffix) {
            return n.parse::<f64>().ok().map(|n| n * mib);
        }
    }
    q.parse::<f64>().ok().map(|b| b / 1048576.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ci(mean: f64, hw: f64) -> MeanCi {
        MeanCi {
            mean,
            half_width: hw,
            nonnegative: true,
            n: 20,
        }
    }

    #[test]
    fn sizes_round_up_with_headroom() {
        let r = size(
            Some(Predicted {
                cpu_p95: ci(80.0, 5.0),
                cpu_peak: ci(150.0, 10.0),
                mem_p95: ci(100.0, 2.0),
                mem_peak: ci(120.0, 3.0),
            }),
            0.25,
            true,
        );
        // 85 × 1.25 = 106.25 → 110m; 160 × 1.25 = 200 → 200m; 102 × 1.25 = 127.5 → 128Mi;
        // 123 × 1.25 = 153.75 → 192Mi.
        assert_eq!(
            r.sizes,
            Sizes {
                requests_cpu_m: 110,
                limits_cpu_m: 200,
                requests_memory_mi: 128,
                limits_memory_mi: 192
            }
        );
        assert!(size(None, 0.25, false).comments[0].contains("chart default"));
        assert!(r.comments.iter().all(|c| c.contains("calibrated")), "{r:?}");
    }

    #[test]
    fn assumed_costs_never_cut_below_the_chart_defaults() {
        let p = Predicted {
            cpu_p95: ci(40.0, 1.0),
            cpu_peak: ci(600.0, 10.0),
            mem_p95: ci(43.0, 0.0),
            mem_peak: ci(44.0, 0.0),
        };
        let r = size(Some(p), 0.3, false);
        // 41 × 1.3 → 60m, below the chart's 100m: kept at 100m. The peak CPU (610 × 1.3 →
        // 800m) is above the chart's 500m: raised. Memory stays at 128Mi / 512Mi.
        assert_eq!(
            r.sizes,
            Sizes {
                requests_cpu_m: 100,
                limits_cpu_m: 800,
                requests_memory_mi: 128,
                limits_memory_mi: 512
            }
        );
        assert!(!r.calibrated);
        for c in &r.comments {
            assert!(c.contains("assumed per-operation costs"), "{c}");
        }
        assert!(
            r.comments[0].contains("kept at the chart default 100m"),
            "{}",
            r.comments[0]
        );
        assert!(
            !r.comments[2].contains("kept at the chart default"),
            "{}",
            r.comments[2]
        );
        // Calibrated costs may go below the defaults.
        let c = size(Some(p), 0.3, true);
        assert_eq!(c.sizes.requests_cpu_m, 60);
        assert_eq!(c.sizes.requests_memory_mi, 64);
        assert!(c.comments[0].contains("from calibrated per-operation costs"));
    }

    #[test]
    fn quantities() {
        assert_eq!(parse_cpu_m("200m"), Some(200.0));
        assert_eq!(parse_cpu_m("1"), Some(1000.0));
        assert_eq!(parse_memory_mi("1Gi"), Some(1024.0));
        assert_eq!(parse_memory_mi("256Mi"), Some(256.0));
    }
}
