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
        // The observer saw every iteration (argmin counts the last one after observing it).
        assert!(progress.iteration() + 1 >= m.iterations && progress.iteration() > 0);
        assert!((progress.best() - m.cost).abs() < 1e-12);
    }
}

/// m(x) of a least-squares problem.
pub type MeanFn<'a, E> = &'a dyn Fn(&[f64]) -> Result<Vec<f64>, E>;
/// ∂m/∂x at (x, m(x)).
pub type JacobianFn<'a, E> = &'a dyn Fn(&[f64], &[f64]) -> Result<nalgebra::DMatrix<f64>, E>;

/// Levenberg–Marquardt on a weighted least-squares problem min (t − m(x))ᵀW(t − m(x)) with
/// box bounds, from a Jacobian of the (simulated) mean: the step that brings a simulated-
/// moments fit close to its optimum in a few Jacobians, before Nelder–Mead polishes it.
/// `mean` returns m(x) (NaN entries make a step fail); `jacobian(x, m(x))` ∂m/∂x at x.
pub fn levenberg_marquardt<E>(
    x0: &[f64],
    bounds: &[(f64, f64)],
    target: &nalgebra::DVector<f64>,
    w: &nalgebra::DMatrix<f64>,
    mean: MeanFn<'_, E>,
    jacobian: JacobianFn<'_, E>,
    max_iters: u32,
) -> Result<Minimum, E> {
    use nalgebra::{DMatrix, DVector};
    let cost_of = |m: &[f64]| -> f64 {
        if m.iter().any(|v| !v.is_finite()) {
            return f64::INFINITY;
        }
        let d = target - DVector::from_column_slice(m);
        (d.transpose() * w * &d)[(0, 0)]
    };
    let clamp = |x: &mut Vec<f64>| {
        for (xi, (lo, hi)) in x.iter_mut().zip(bounds) {
            *xi = xi.clamp(*lo, *hi);
        }
    };
    let mut x = x0.to_vec();
    clamp(&mut x);
    let mut m = mean(&x)?;
    let mut cost = cost_of(&m);
    let mut lambda = 1e-2;
    let mut iterations = 0;
    for _ in 0..max_iters {
        iterations += 1;
        let jac = jacobian(&x, &m)?;
        let r = target
            - DVector::from_column_slice(
                &m.iter()
                    .map(|v| if v.is_finite() { *v } else { 0.0 })
                    .collect::<Vec<_>>(),
            );
        let jtw = jac.transpose() * w;
        let info = &jtw * &jac;
        let g = &jtw * r;
        let mut improved = false;
        for _ in 0..6 {
            let damped =
                &info + DMatrix::from_diagonal(&info.diagonal().map(|d| lambda * d.max(1e-12)));
            let Some(step) = damped.lu().solve(&g) else {
                lambda *= 10.0;
                continue;
            };
            let mut next: Vec<f64> = x.iter().zip(step.iter()).map(|(a, b)| a + b).collect();
            clamp(&mut next);
            let mn = mean(&next)?;
            let cn = cost_of(&mn);
            if cn < cost {
                let gain = cost - cn;
                x = next;
                m = mn;
                cost = cn;
                lambda = (lambda / 3.0).max(1e-4);
                improved = gain > 1e-3 * cost.max(1.0);
                break;
            }
            lambda *= 10.0;
        }
        if !improved {
            break;
        }
    }
    Ok(Minimum {
        x,
        cost,
        iterations,
    })
}

#[cfg(test)]
mod lm_tests {
    use super::*;
    use nalgebra::{DMatrix, DVector};

    #[test]
    fn levenberg_marquardt_solves_a_nonlinear_fit_inside_bounds() {
        // m(x) = (e^x0, e^x1, e^(x0 + x1)); target from x* = (0.5, -0.3).
        let f = |x: &[f64]| -> Result<Vec<f64>, ()> {
            Ok(vec![x[0].exp(), x[1].exp(), (x[0] + x[1]).exp()])
        };
        let jac = |x: &[f64], _: &[f64]| -> Result<DMatrix<f64>, ()> {
            let (a, b, c) = (x[0].exp(), x[1].exp(), (x[0] + x[1]).exp());
            Ok(DMatrix::from_row_slice(3, 2, &[a, 0.0, 0.0, b, c, c]))
        };
        let target = DVector::from_vec(f(&[0.5, -0.3]).unwrap());
        let w = DMatrix::identity(3, 3);
        let bounds = [(-2.0, 2.0), (-2.0, 2.0)];
        let m = levenberg_marquardt(&[0.0, 0.0], &bounds, &target, &w, &f, &jac, 50).unwrap();
        assert!(
            (m.x[0] - 0.5).abs() < 1e-4 && (m.x[1] + 0.3).abs() < 1e-4,
            "{:?}",
            m.x
        );
        // A bound holds: with x0 capped at 0.2, the fit sits on it.
        let bounds = [(-2.0, 0.2), (-2.0, 2.0)];
        let m = levenberg_marquardt(&[0.0, 0.0], &bounds, &target, &w, &f, &jac, 50).unwrap();
        assert!((m.x[0] - 0.2).abs() < 1e-12, "{:?}", m.x);
    }
}
