//! Service-time and delay distributions as data. Every model file names its
//! distributions in this vocabulary (`fixed`, `exponential`, `uniform`, `lognormal`,
//! `mixture`), all in milliseconds, and every one is sampled to integer nanoseconds.

use super::rng::SimRng;
use super::time::{from_millis, Nanos};
use rand::RngExt;
use rand_distr::{Distribution as _, StandardNormal};
use serde::{Deserialize, Serialize};

/// z such that P(Z ≤ z) = 0.99 for a standard normal Z.
pub const Z99: f64 = 2.326_347_874_040_840_8;

/// Written as a one-key map: `{ lognormal: { median_ms: 150, p99_ms: 2000 } }`.
#[derive(Debug, Clone, PartialEq)]
pub enum Distribution {
    /// Always the same value.
    Fixed { ms: f64 },
    /// Exponential with the given mean.
    Exponential { mean_ms: f64 },
    /// Uniform on [min_ms, max_ms).
    Uniform { min_ms: f64, max_ms: f64 },
    /// Log-normal fixed by its median and 99th percentile.
    Lognormal { median_ms: f64, p99_ms: f64 },
    /// A weighted mixture, e.g. a fast detach most of the time and a slow tail.
    Mixture(Vec<MixtureComponent>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixtureComponent {
    pub weight: f64,
    pub dist: Distribution,
}

const VARIANTS: &[&str] = &["fixed", "exponential", "uniform", "lognormal", "mixture"];

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixedParams {
    ms: f64,
}
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExponentialParams {
    mean_ms: f64,
}
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UniformParams {
    min_ms: f64,
    max_ms: f64,
}
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LognormalParams {
    median_ms: f64,
    p99_ms: f64,
}

impl<'de> Deserialize<'de> for Distribution {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Distribution;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(
                    f,
                    "a one-key map naming a distribution ({})",
                    VARIANTS.join(", ")
                )
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Distribution, A::Error> {
                use serde::de::Error;
                let key: String = map
                    .next_key()?
                    .ok_or_else(|| A::Error::custom("empty distribution"))?;
                let dist = match key.as_str() {
                    "fixed" => {
                        let p: FixedParams = map.next_value()?;
                        Distribution::Fixed { ms: p.ms }
                    }
                    "exponential" => {
                        let p: ExponentialParams = map.next_value()?;
                        Distribution::Exponential { mean_ms: p.mean_ms }
                    }
                    "uniform" => {
                        let p: UniformParams = map.next_value()?;
                        Distribution::Uniform {
                            min_ms: p.min_ms,
                            max_ms: p.max_ms,
                        }
                    }
                    "lognormal" => {
                        let p: LognormalParams = map.next_value()?;
                        Distribution::Lognormal {
                            median_ms: p.median_ms,
                            p99_ms: p.p99_ms,
                        }
                    }
                    "mixture" => Distribution::Mixture(map.next_value()?),
                    other => return Err(A::Error::unknown_variant(other, VARIANTS)),
                };
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(A::Error::custom(format!(
                        "a distribution has exactly one key, found a second: {extra:?}"
                    )));
                }
                Ok(dist)
            }
        }
        d.deserialize_map(V)
    }
}

impl Serialize for Distribution {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(1))?;
        match self {
            Distribution::Fixed { ms } => m.serialize_entry("fixed", &FixedParams { ms: *ms })?,
            Distribution::Exponential { mean_ms } => {
                m.serialize_entry("exponential", &ExponentialParams { mean_ms: *mean_ms })?
            }
            Distribution::Uniform { min_ms, max_ms } => m.serialize_entry(
                "uniform",
                &UniformParams {
                    min_ms: *min_ms,
                    max_ms: *max_ms,
                },
            )?,
            Distribution::Lognormal { median_ms, p99_ms } => m.serialize_entry(
                "lognormal",
                &LognormalParams {
                    median_ms: *median_ms,
                    p99_ms: *p99_ms,
                },
            )?,
            Distribution::Mixture(parts) => m.serialize_entry("mixture", parts)?,
        }
        m.end()
    }
}

impl Distribution {
    pub fn fixed_ms(ms: f64) -> Self {
        Distribution::Fixed { ms }
    }

    /// Checks the parameters; the error names the offending field.
    pub fn validate(&self) -> Result<(), String> {
        fn non_negative(name: &str, v: f64) -> Result<(), String> {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(format!("{name} must be a finite number ≥ 0, got {v}"))
            }
        }
        fn positive(name: &str, v: f64) -> Result<(), String> {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(format!("{name} must be a finite number > 0, got {v}"))
            }
        }
        match self {
            Distribution::Fixed { ms } => non_negative("ms", *ms),
            Distribution::Exponential { mean_ms } => positive("mean_ms", *mean_ms),
            Distribution::Uniform { min_ms, max_ms } => {
                non_negative("min_ms", *min_ms)?;
                non_negative("max_ms", *max_ms)?;
                if max_ms < min_ms {
                    return Err(format!("max_ms ({max_ms}) is below min_ms ({min_ms})"));
                }
                Ok(())
            }
            Distribution::Lognormal { median_ms, p99_ms } => {
                positive("median_ms", *median_ms)?;
                positive("p99_ms", *p99_ms)?;
                if p99_ms < median_ms {
                    return Err(format!(
                        "p99_ms ({p99_ms}) is below median_ms ({median_ms})"
                    ));
                }
                Ok(())
            }
            Distribution::Mixture(parts) => {
                if parts.is_empty() {
                    return Err("mixture has no components".into());
                }
                for (i, p) in parts.iter().enumerate() {
                    positive(&format!("mixture[{i}].weight"), p.weight)?;
                    p.dist
                        .validate()
                        .map_err(|e| format!("mixture[{i}].dist: {e}"))?;
                }
                Ok(())
            }
        }
    }

    /// The mean in milliseconds (closed form; used by tests and reports).
    pub fn mean_ms(&self) -> f64 {
        match self {
            Distribution::Fixed { ms } => *ms,
            Distribution::Exponential { mean_ms } => *mean_ms,
            Distribution::Uniform { min_ms, max_ms } => (min_ms + max_ms) / 2.0,
            Distribution::Lognormal { median_ms, p99_ms } => {
                let sigma = (p99_ms / median_ms).ln() / Z99;
                median_ms * (sigma * sigma / 2.0).exp()
            }
            Distribution::Mixture(parts) => {
                let total: f64 = parts.iter().map(|p| p.weight).sum();
                parts
                    .iter()
                    .map(|p| p.weight / total * p.dist.mean_ms())
                    .sum()
            }
        }
    }

    /// One draw, in nanoseconds.
    pub fn sample(&self, rng: &mut SimRng) -> Nanos {
        from_millis(self.sample_ms(rng))
    }

    fn sample_ms(&self, rng: &mut SimRng) -> f64 {
        match self {
            Distribution::Fixed { ms } => *ms,
            Distribution::Exponential { mean_ms } => {
                // Inverse transform on (0,1]: never ln(0).
                let u: f64 = 1.0 - rng.random::<f64>();
                -mean_ms * u.ln()
            }
            Distribution::Uniform { min_ms, max_ms } => {
                min_ms + (max_ms - min_ms) * rng.random::<f64>()
            }
            Distribution::Lognormal { median_ms, p99_ms } => {
                let sigma = (p99_ms / median_ms).ln() / Z99;
                let z: f64 = StandardNormal.sample(rng);
                median_ms * (sigma * z).exp()
            }
            Distribution::Mixture(parts) => {
                let total: f64 = parts.iter().map(|p| p.weight).sum();
                let mut pick = rng.random::<f64>() * total;
                for p in parts {
                    if pick < p.weight {
                        return p.dist.sample_ms(rng);
                    }
                    pick -= p.weight;
                }
                parts.last().map(|p| p.dist.sample_ms(rng)).unwrap_or(0.0)
            }
        }
    }
}

/// Scaling and the median, for calibration and sensitivity: a parameter named
/// `….median_ms` moves a distribution by scaling it, which keeps its shape (a lognormal's
/// p99/median ratio, a mixture's weights and the ratios between its parts).
impl Distribution {
    /// The distribution of `factor · X`.
    pub fn scaled(&self, factor: f64) -> Distribution {
        match self {
            Distribution::Fixed { ms } => Distribution::Fixed { ms: ms * factor },
            Distribution::Exponential { mean_ms } => Distribution::Exponential {
                mean_ms: mean_ms * factor,
            },
            Distribution::Uniform { min_ms, max_ms } => Distribution::Uniform {
                min_ms: min_ms * factor,
                max_ms: max_ms * factor,
            },
            Distribution::Lognormal { median_ms, p99_ms } => Distribution::Lognormal {
                median_ms: median_ms * factor,
                p99_ms: p99_ms * factor,
            },
            Distribution::Mixture(parts) => Distribution::Mixture(
                parts
                    .iter()
                    .map(|p| MixtureComponent {
                        weight: p.weight,
                        dist: p.dist.scaled(factor),
                    })
                    .collect(),
            ),
        }
    }

    /// P(X ≤ x), x in milliseconds.
    pub fn cdf_ms(&self, x: f64) -> f64 {
        match self {
            Distribution::Fixed { ms } => f64::from(u8::from(x >= *ms)),
            Distribution::Exponential { mean_ms } => {
                if x <= 0.0 {
                    0.0
                } else {
                    1.0 - (-x / mean_ms).exp()
                }
            }
            Distribution::Uniform { min_ms, max_ms } => {
                if max_ms <= min_ms {
                    f64::from(u8::from(x >= *min_ms))
                } else {
                    ((x - min_ms) / (max_ms - min_ms)).clamp(0.0, 1.0)
                }
            }
            Distribution::Lognormal { median_ms, p99_ms } => {
                if x <= 0.0 {
                    return 0.0;
                }
                let sigma = (p99_ms / median_ms).ln() / Z99;
                if sigma <= 0.0 {
                    return f64::from(u8::from(x >= *median_ms));
                }
                let z = (x / median_ms).ln() / sigma;
                0.5 * statrs::function::erf::erfc(-z / std::f64::consts::SQRT_2)
            }
            Distribution::Mixture(parts) => {
                let total: f64 = parts.iter().map(|p| p.weight).sum();
                parts
                    .iter()
                    .map(|p| p.weight / total * p.dist.cdf_ms(x))
                    .sum()
            }
        }
    }

    /// The median in milliseconds (closed form, or by bisection for a mixture).
    pub fn median_ms(&self) -> f64 {
        match self {
            Distribution::Fixed { ms } => *ms,
            Distribution::Exponential { mean_ms } => mean_ms * std::f64::consts::LN_2,
            Distribution::Uniform { min_ms, max_ms } => (min_ms + max_ms) / 2.0,
            Distribution::Lognormal { median_ms, .. } => *median_ms,
            Distribution::Mixture(_) => self.quantile_ms(0.5),
        }
    }

    /// The `p`-quantile in milliseconds (0 < p < 1), by bisection on [`Self::cdf_ms`].
    pub fn quantile_ms(&self, p: f64) -> f64 {
        let mut hi = self.mean_ms().max(1.0);
        while self.cdf_ms(hi) < p && hi < 1e15 {
            hi *= 2.0;
        }
        let mut lo = 0.0;
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if self.cdf_ms(mid) < p {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        hi
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::stream;

    fn sample_mean(d: &Distribution, n: usize) -> f64 {
        let mut rng = stream(1, "dist-test");
        (0..n).map(|_| d.sample(&mut rng) as f64 / 1e6).sum::<f64>() / n as f64
    }

    #[test]
    fn quantiles_invert_the_cdf() {
        let d = Distribution::Lognormal {
            median_ms: 150.0,
            p99_ms: 2000.0,
        };
        assert!((d.quantile_ms(0.99) - 2000.0).abs() < 1e-6);
        assert!((d.quantile_ms(0.5) - 150.0).abs() < 1e-6);
        let e = Distribution::Exponential { mean_ms: 100.0 };
        assert!((e.quantile_ms(0.5) - 100.0 * std::f64::consts::LN_2).abs() < 1e-6);
    }

    #[test]
    fn sample_means_match_closed_forms() {
        let cases = [
            Distribution::Exponential { mean_ms: 100.0 },
            Distribution::Uniform {
                min_ms: 1000.0,
                max_ms: 5000.0,
            },
            Distribution::Lognormal {
                median_ms: 150.0,
                p99_ms: 2000.0,
            },
            Distribution::Mixture(vec![
                MixtureComponent {
                    weight: 0.9,
                    dist: Distribution::fixed_ms(3000.0),
                },
                MixtureComponent {
                    weight: 0.1,
                    dist: Distribution::fixed_ms(60000.0),
                },
            ]),
        ];
        for d in &cases {
            let m = sample_mean(d, 200_000);
            let rel = (m - d.mean_ms()).abs() / d.mean_ms();
            assert!(rel < 0.02, "{d:?}: sample mean {m} vs {}", d.mean_ms());
        }
    }

    #[test]
    fn lognormal_p99_is_where_it_is_declared() {
        let d = Distribution::Lognormal {
            median_ms: 150.0,
            p99_ms: 2000.0,
        };
        let mut rng = stream(3, "p99");
        let mut xs: Vec<u64> = (0..100_000).map(|_| d.sample(&mut rng)).collect();
        xs.sort_unstable();
        let median = xs[50_000] as f64 / 1e6;
        let p99 = xs[99_000] as f64 / 1e6;
        assert!((median - 150.0).abs() / 150.0 < 0.03, "median {median}");
        assert!((p99 - 2000.0).abs() / 2000.0 < 0.06, "p99 {p99}");
    }

    #[test]
    fn scaling_moves_the_median_and_keeps_the_shape() {
        let mix = Distribution::Mixture(vec![
            MixtureComponent {
                weight: 0.97,
                dist: Distribution::Lognormal {
                    median_ms: 3000.0,
                    p99_ms: 8000.0,
                },
            },
            MixtureComponent {
                weight: 0.03,
                dist: Distribution::Uniform {
                    min_ms: 20000.0,
                    max_ms: 120000.0,
                },
            },
        ]);
        let m = mix.median_ms();
        // The 3 % tail lies above every point of interest: the median solves
        // 0.97·Φ(ln(m/3000)/σ) = 0.5.
        assert!(m > 3000.0 && m < 3200.0, "{m}");
        assert!((mix.cdf_ms(m) - 0.5).abs() < 1e-9);
        let s = mix.scaled(2.0);
        assert!((s.median_ms() / m - 2.0).abs() < 1e-9);
        assert!((s.mean_ms() / mix.mean_ms() - 2.0).abs() < 1e-9);
        let ln = Distribution::Lognormal {
            median_ms: 150.0,
            p99_ms: 2000.0,
        };
        assert!((ln.cdf_ms(2000.0) - 0.99).abs() < 1e-9);
        assert_eq!(
            ln.scaled(3.0),
            Distribution::Lognormal {
                median_ms: 450.0,
                p99_ms: 6000.0
            }
        );
    }

    #[test]
    fn rejects_bad_parameters() {
        assert!(Distribution::Exponential { mean_ms: -1.0 }
            .validate()
            .is_err());
        assert!(Distribution::Uniform {
            min_ms: 5.0,
            max_ms: 1.0
        }
        .validate()
        .is_err());
        assert!(Distribution::Lognormal {
            median_ms: 10.0,
            p99_ms: 5.0
        }
        .validate()
        .is_err());
        assert!(Distribution::Mixture(vec![]).validate().is_err());
    }
}
