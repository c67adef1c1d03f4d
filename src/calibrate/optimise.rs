//! The optimiser: argmin's Nelder–Mead (derivative-free: the simulated cost is piecewise
//! flat under one-second rounding, so gradients are not to be trusted), started from a
//! simplex around the direct estimates and priors, with an observer for progress.

use argmin::core::observers::{Observe, ObserverMode};
use argmin::core::{CostFunction, Executor, State, KV};
use argmin::solver::neldermead::NelderMead;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Where the optimiser stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct Minimum {
    pub x: Vec<f64>,
    pub cost: f64,
    pub iterations: u64,
}

/// An observer that publishes the iteration and the best cost after every iteration
/// (argmin wants an owned, `'static` observer: it shares them through atomics, which the
/// cost function's own progress reads).
#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub iteration: Arc<AtomicU64>,
    /// The best cost's bits (`f64::to_bits`).
    pub best: Arc<AtomicU64>,
}

impl Progress {
    pub fn iteration(&self) -> u64 {
        self.iteration.load(Ordering::Relaxed)
    }
    pub fn best(&self) -> f64 {
        f64::from_bits(self.best.load(Ordering::Relaxed))
    }
}

impl<I: State<Float = f64>> Observe<I> for Progress {
    fn observe_iter(&mut self, state: &I, _kv: &KV) -> Result<(), argmin::core::Error> {
        self.iteration.store(state.get_iter(), Ordering::Relaxed);
        self.best
            .store(state.get_best_cost().to_bits(), Ordering::Relaxed);
        Ok(())
    }
}

/// Minimises `cost` from `x0` with Nelder–Mead: the first simplex is `x0` and `x0 + step·eᵢ`;
/// it stops after `max_iters` iterations or when the costs of the simplex agree to
/// `tolerance` (standard deviation).
pub fn minimise<C>(
    cost: C,
    x0: &[f64],
    step: f64,
    max_iters: u64,
    tolerance: f64,
    progress: &Progress,
) -> Result<Minimum, argmin::core::Error>
where
    C: CostFunction<Param = Vec<f64>, Output = f64>,
{
    let mut simplex = vec![x0.to_vec()];
    for i in 0..x0.len() {
        let mut v = x0.to_vec();
        v[i] += step;
        simplex.push(v);
    }
    let solver = NelderMead::new(simplex).with_sd_tolerance(tolerance)?;
    let res = Executor::new(cost, solver)
        .configure(|s| s.max_iters(max_iters))
        .add_observer(progress.clone(), ObserverMode::Always)
        .run()?;
    let state = res.state();
    let x = state
        .get_best_param()
        .cloned()
        .unwrap_or_else(|| x0.to_vec());
    Ok(Minimum {
        x,
        cost: state.get_best_cost(),
        iterations: state.get_iter(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Quadratic;
    impl CostFunction for Quadratic {
        type Param = Vec<f64>;
        type Output = f64;
        fn cost(&self, x: &Vec<f64>) -> Result<f64, argmin::core::Error> {
            // Minimum 1 at (1, -2, 0.5), with unequal curvatures and a cross term.
            let (a, b, c) = (x[0] - 1.0, x[1] + 2.0, x[2] - 0.5);
            Ok(1.0 + 3.0 * a * a + b * b + 0.5 * c * c + a * b)
        }
    }

    #[test]
    fn finds_the_minimum_of_a_quadratic() {
        let progress = Progress::default();
        let m = minimise(Quadratic, &[0.0, 0.0, 0.0], 0.5, 500, 1e-12, &progress).unwrap();
        for (got, want) in m.x.iter().zip([1.0, -2.0, 0.5]) {
            assert!((got - want).abs() < 1e-3, "{:?}", m.x);
        }
        assert!((m.cost - 1.0).abs() < 1e-6);
        assert_eq!(progress.iteration(), m.iterations);
        assert!((progress.best() - m.cost).abs() < 1e-12);
    }
}
