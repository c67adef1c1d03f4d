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

/// Requests from the p95 (upper 95 % bound) plus `headroom`; limits from the peak (upper
/// bound) plus `headroom`, never below the requests.
pub fn size(p: Option<Predicted>, headroom: f64) -> Resources {
    let Some(p) = p else {
        let note = "enisim's model in this build predicts no controller CPU or memory: the chart default is kept";
        return Resources {
            sizes: CHART_DEFAULT,
            predicted: false,
            comments: [note.into(), note.into(), note.into(), note.into()],
        };
    };
    let h = 1.0 + headroom;
    let req_cpu = round_up(p.cpu_p95.high() * h, 10);
    let lim_cpu = round_up(p.cpu_peak.high() * h, 50).max(req_cpu);
    let req_mem = round_up(p.mem_p95.high() * h, 16);
    let lim_mem = round_up(p.mem_peak.high() * h, 64).max(req_mem);
    let pct = (headroom * 100.0).round();
    Resources {
        sizes: Sizes {
            requests_cpu_m: req_cpu,
            limits_cpu_m: lim_cpu,
            requests_memory_mi: req_mem,
            limits_memory_mi: lim_mem,
        },
        predicted: true,
        comments: [
            format!(
                "predicted p95 CPU {:.0}m (upper 95 % bound {:.0}m) + {pct} % headroom",
                p.cpu_p95.mean,
                p.cpu_p95.high()
            ),
            format!(
                "predicted p95 memory {:.0}Mi (upper 95 % bound {:.0}Mi) + {pct} % headroom",
                p.mem_p95.mean,
                p.mem_p95.high()
            ),
            format!(
                "predicted peak CPU {:.0}m (upper 95 % bound {:.0}m) + {pct} % headroom; margin {:.0}m",
                p.cpu_peak.mean,
                p.cpu_peak.high(),
                lim_cpu as f64 - p.cpu_peak.high()
            ),
            format!(
                "predicted peak memory {:.0}Mi (upper 95 % bound {:.0}Mi) + {pct} % headroom; margin {:.0}Mi",
                p.mem_peak.mean,
                p.mem_peak.high(),
                lim_mem as f64 - p.mem_peak.high()
            ),
        ],
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
        assert!(size(None, 0.25).comments[0].contains("chart default"));
    }

    #[test]
    fn quantities() {
        assert_eq!(parse_cpu_m("200m"), Some(200.0));
        assert_eq!(parse_cpu_m("1"), Some(1000.0));
        assert_eq!(parse_memory_mi("1Gi"), Some(1024.0));
        assert_eq!(parse_memory_mi("256Mi"), Some(256.0));
    }
}
