//! Summary statistics: quantiles and Student-t confidence intervals over replications
//! (queues-and-oracles.md §5.6: `x̄ ± t_{R−1,0.975}·s/√R`).

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MeanCi {
    pub mean: f64,
    /// Half-width of the 95 % interval (0 with fewer than two samples).
    pub half_width: f64,
    pub n: usize,
}

impl MeanCi {
    pub fn low(&self) -> f64 {
        self.mean - self.half_width
    }
    pub fn high(&self) -> f64 {
        self.mean + self.half_width
    }
    pub fn contains(&self, x: f64) -> bool {
        x >= self.low() && x <= self.high()
    }
}

/// Two-sided Student-t quantile t_{n−1, 1−α/2}.
pub fn t_quantile(n: usize, level: f64) -> f64 {
    if n < 2 {
        return f64::NAN;
    }
    StudentsT::new(0.0, 1.0, (n - 1) as f64)
        .map(|t| t.inverse_cdf(1.0 - (1.0 - level) / 2.0))
        .unwrap_or(f64::NAN)
}

/// Mean and 95 % confidence half-width of independent samples.
pub fn mean_ci(xs: &[f64]) -> MeanCi {
    let n = xs.len();
    if n == 0 {
        return MeanCi {
            mean: f64::NAN,
            half_width: f64::NAN,
            n,
        };
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return MeanCi {
            mean,
            half_width: 0.0,
            n,
        };
    }
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
    MeanCi {
        mean,
        half_width: t_quantile(n, 0.95) * (var / n as f64).sqrt(),
        n,
    }
}

/// The p-quantile (0 ≤ p ≤ 1) of sorted data, linearly interpolated (Hyndman–Fan type 7,
/// the default of R and NumPy). NaN for empty input.
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let h = (n - 1) as f64 * p.clamp(0.0, 1.0);
            let lo = h.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_tables() {
        assert!((t_quantile(20, 0.95) - 2.093).abs() < 1e-3);
        assert!((t_quantile(2, 0.95) - 12.706).abs() < 1e-3);
    }

    #[test]
    fn quantiles_interpolate() {
        let xs = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&xs, 0.5), 2.5);
        assert_eq!(quantile(&xs, 1.0), 4.0);
        assert_eq!(quantile(&xs, 0.0), 1.0);
        let ci = mean_ci(&[1.0, 2.0, 3.0]);
        assert_eq!(ci.mean, 2.0);
        assert!((ci.half_width - 4.303 * (1.0f64 / 3.0).sqrt()).abs() < 1e-3);
    }
}
