//! The cost function of the method of simulated moments: for a point θ (the free
//! parameters, in logarithms), simulate R replications of the recorded workload under θ
//! with common random numbers (the same replication seeds at every θ), measure each as a
//! trail, and weigh the gap between the recorded moments and their simulated mean:
//! (m̂ − m̄(θ))ᵀ W (m̂ − m̄(θ)).

use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

use super::moments::{compute, Moment};
use super::params;
use super::simulate::{simulated_trail, SimulateError};
use crate::plausible::NamedValue;
use crate::scenario::{Model, Settings};

/// A fitted parameter: its name and its bounds (the plausible range).
#[derive(Debug, Clone, PartialEq)]
pub struct Free {
    pub name: String,
    pub low: f64,
    pub high: f64,
}

/// The model under θ: the base (model, settings) with the free parameters set.
pub struct SimulatedMoments<'a> {
    pub settings: &'a Settings,
    pub model: &'a Model,
    pub seed: u64,
    pub replications: u32,
    pub free: Vec<Free>,
    pub moments: Vec<Moment>,
}

impl SimulatedMoments<'_> {
    /// (model, settings) at θ = exp(x), x clamped into the bounds.
    pub fn configure(&self, x: &[f64]) -> Result<(Model, Settings), params::ParamError> {
        let mut m = self.model.clone();
        let mut s = self.settings.clone();
        for (f, xi) in self.free.iter().zip(x) {
            let v = xi.clamp(f.low.ln(), f.high.ln()).exp();
            params::set(&mut m, &mut s, &f.name, &NamedValue::Number(v))?;
        }
        Ok((m, s))
    }

    /// One row of moments per replication (R × k), at θ = exp(x).
    pub fn samples(&self, x: &[f64]) -> Result<Vec<Vec<f64>>, SimulateError> {
        let (m, s) = self
            .configure(x)
            .map_err(|e| SimulateError::Param(e.to_string()))?;
        (0..self.replications)
            .into_par_iter()
            .map(|r| simulated_trail(&s, &m, self.seed, r).map(|t| compute(&self.moments, &t)))
            .collect()
    }

    /// The mean of each moment over the replications where it is defined (NaN if none).
    pub fn mean(&self, x: &[f64]) -> Result<Vec<f64>, SimulateError> {
        Ok(column_means(&self.samples(x)?))
    }
}

/// Column means over the rows where each column is finite.
pub fn column_means(rows: &[Vec<f64>]) -> Vec<f64> {
    let k = rows.first().map_or(0, Vec::len);
    (0..k)
        .map(|j| {
            let (s, n) = rows
                .iter()
                .map(|r| r[j])
                .filter(|v| v.is_finite())
                .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
            if n == 0 {
                f64::NAN
            } else {
                s / n as f64
            }
        })
        .collect()
}

/// The weighted distance to the recorded moments.
#[derive(Debug, Clone)]
pub struct Distance {
    pub target: DVector<f64>,
    pub weight: DMatrix<f64>,
}

/// What a moment that the simulation leaves undefined costs: far worse than any fit.
pub const UNDEFINED_COST: f64 = 1e9;

impl Distance {
    /// (m̂ − m̄)ᵀ W (m̂ − m̄); an undefined simulated moment costs [`UNDEFINED_COST`].
    pub fn value(&self, mean: &[f64]) -> f64 {
        if mean.iter().any(|v| !v.is_finite()) {
            return UNDEFINED_COST;
        }
        let d = &self.target - DVector::from_column_slice(mean);
        (d.transpose() * &self.weight * &d)[(0, 0)]
    }
}

/// The MSM objective as argmin sees it: never an error (Nelder–Mead's start would panic
/// on one), a failed simulation costs [`UNDEFINED_COST`]; outside the bounds the cost at
/// the nearest bound plus a steep penalty, so the simplex comes back.
pub struct MsmCost<'a> {
    pub sim: &'a SimulatedMoments<'a>,
    pub distance: &'a Distance,
    /// Called after each evaluation with the cost (progress).
    pub on_eval: &'a (dyn Fn(f64) + Sync),
}

impl MsmCost<'_> {
    pub fn eval(&self, x: &[f64]) -> f64 {
        let excess: f64 = self
            .sim
            .free
            .iter()
            .zip(x)
            .map(|(f, xi)| {
                let lo = f.low.ln();
                let hi = f.high.ln();
                (lo - xi).max(0.0) + (xi - hi).max(0.0)
            })
            .map(|e| e * e)
            .sum();
        let c = match self.sim.mean(x) {
            Ok(m) => self.distance.value(&m),
            Err(_) => UNDEFINED_COST,
        } + 1e4 * excess;
        (self.on_eval)(c);
        c
    }
}

impl argmin::core::CostFunction for MsmCost<'_> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, x: &Self::Param) -> Result<f64, argmin::core::Error> {
        Ok(self.eval(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_is_zero_at_the_target_and_weighted_elsewhere() {
        let d = Distance {
            target: DVector::from_vec(vec![1.0, 2.0]),
            weight: DMatrix::from_diagonal(&DVector::from_vec(vec![4.0, 1.0])),
        };
        assert_eq!(d.value(&[1.0, 2.0]), 0.0);
        assert_eq!(d.value(&[1.5, 2.0]), 1.0);
        assert_eq!(d.value(&[1.0, 4.0]), 4.0);
        assert_eq!(d.value(&[f64::NAN, 2.0]), UNDEFINED_COST);
        assert_eq!(
            column_means(&[vec![1.0, f64::NAN], vec![3.0, f64::NAN]])[0],
            2.0
        );
        assert!(column_means(&[vec![1.0, f64::NAN]])[1].is_nan());
    }
}
