//! Uncertainty and fit of a simulated-moments estimate (calibration.md §3): the weight from
//! the moments' covariance, the covariance of θ̂ from the Jacobian (Hansen's sandwich,
//! (1 + 1/R)(JᵀWJ)⁻¹ when W is the inverse covariance), identifiability from the eigenvalues
//! of JᵀWJ, and Hansen's J
//! test, (m̂ − m̄)ᵀW(m̂ − m̄)/(1 + 1/R) ~ χ²(moments − parameters) under the model.

use nalgebra::{DMatrix, DVector, SymmetricEigen};
use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF};

/// The covariance of moment samples (rows = replications), over rows where all are finite.
pub fn sample_covariance(rows: &[Vec<f64>]) -> Option<DMatrix<f64>> {
    let good: Vec<&Vec<f64>> = rows
        .iter()
        .filter(|r| r.iter().all(|v| v.is_finite()))
        .collect();
    let n = good.len();
    let k = good.first()?.len();
    if n < 2 {
        return None;
    }
    let x = DMatrix::from_fn(n, k, |i, j| good[i][j]);
    let mean = x.row_mean();
    let centred = DMatrix::from_fn(n, k, |i, j| x[(i, j)] - mean[j]);
    Some(centred.transpose() * centred / (n as f64 - 1.0))
}

/// The covariance `cov` raised, in every direction, to at least the diagonal `floor_var`:
/// Σ + (D − Σ)₊, the positive part taken over the eigenvalues of D − Σ. A Cramér–Rao floor
/// bounds the covariance of any estimator as a matrix (Σ ⪰ D), not only its diagonal:
/// raising each standard error alone keeps a negative correlation that can leave a sum of
/// parameters — what a prediction depends on — surer than the trail can make it. The result
/// is ⪰ D and ⪰ Σ, and is Σ itself when Σ ⪰ D already.
pub fn at_least(cov: &DMatrix<f64>, floor_var: &[f64]) -> DMatrix<f64> {
    let d = DMatrix::from_diagonal(&DVector::from_column_slice(floor_var));
    let e = SymmetricEigen::new(&d - cov);
    let positive = e.eigenvalues.map(|l| l.max(0.0));
    let raise = &e.eigenvectors * DMatrix::from_diagonal(&positive) * e.eigenvectors.transpose();
    cov + raise
}

/// The weight W = Σ⁻¹ of a moment covariance Σ, shrunk toward its diagonal by `shrink`
/// (a covariance estimated from few replications is noisy off the diagonal) and each
/// variance floored at `floors[i]` (a moment the model makes nearly deterministic still
/// carries the data's own resolution).
pub fn weight(cov: &DMatrix<f64>, shrink: f64, floors: &[f64]) -> DMatrix<f64> {
    pseudo_inverse(&conditioned(cov, shrink, floors), 1e-12)
}

/// The covariance [`weight`] inverts: shrunk toward its diagonal, each variance floored,
/// positive definite.
pub fn conditioned(cov: &DMatrix<f64>, shrink: f64, floors: &[f64]) -> DMatrix<f64> {
    let k = cov.nrows();
    let mut s = DMatrix::from_fn(k, k, |i, j| {
        if i == j {
            cov[(i, j)].max(floors[i])
        } else {
            (1.0 - shrink) * cov[(i, j)]
        }
    });
    // Keep it positive definite after the floors: scale the off-diagonal if needed.
    for _ in 0..20 {
        let e = SymmetricEigen::new(s.clone());
        if e.eigenvalues.min() > 1e-12 * e.eigenvalues.max().max(1e-300) {
            break;
        }
        for i in 0..k {
            for j in 0..k {
                if i != j {
                    s[(i, j)] *= 0.5;
                }
            }
        }
    }
    s
}

/// The Moore–Penrose inverse of a symmetric matrix (eigenvalues below `rel`·max dropped).
pub fn pseudo_inverse(m: &DMatrix<f64>, rel: f64) -> DMatrix<f64> {
    let e = SymmetricEigen::new(m.clone());
    let cut = e.eigenvalues.iter().cloned().fold(0.0, f64::max) * rel;
    let inv = DVector::from_iterator(
        e.eigenvalues.len(),
        e.eigenvalues
            .iter()
            .map(|&l| if l > cut && l > 0.0 { 1.0 / l } else { 0.0 }),
    );
    &e.eigenvectors * DMatrix::from_diagonal(&inv) * e.eigenvectors.transpose()
}

/// What the Jacobian says about θ̂.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Uncertainty {
    /// Covariance of θ̂ (in the optimiser's coordinates), row-major.
    pub covariance: Vec<Vec<f64>>,
    /// Standard error of each coordinate.
    pub standard_errors: Vec<f64>,
    /// Eigenvalues of JᵀWJ, largest first (near zero: a direction the trail does not move).
    pub eigenvalues: Vec<f64>,
}

/// The variance (in ln θ) given a direction the trail does not move: far beyond any plausible
/// range, so every parameter along it is reported not identified rather than exact.
pub const UNMOVED_VARIANCE: f64 = 1e4;

/// Var(θ̂) ≈ (1 + 1/R)(JᵀWJ)⁻¹ for a k × p Jacobian, when W is the inverse of the moments'
/// covariance (otherwise [`sandwich`]). A direction whose eigenvalue is below
/// 1e-10 of the largest is one no moment moves: it gets [`UNMOVED_VARIANCE`], where a
/// Moore–Penrose inverse would give it none — a parameter the final Jacobian does not see
/// (a bucket no simulated call is throttled by) would otherwise be reported exact.
pub fn uncertainty(jac: &DMatrix<f64>, w: &DMatrix<f64>, replications: u32) -> Uncertainty {
    sandwich(jac, w, None, replications)
}

/// Var(θ̂) of an estimator that minimised under the weight `w` when the moments' covariance
/// is `sigma`: (1 + 1/R) B⁻¹ JᵀWΣWJ B⁻¹ with B = JᵀWJ (Hansen 1982, Theorem 3.1), which is
/// (1 + 1/R) B⁻¹ when W = Σ⁻¹ (`sigma` None) and larger otherwise. Directions B does not
/// move get [`UNMOVED_VARIANCE`] as in [`uncertainty`].
pub fn sandwich(
    jac: &DMatrix<f64>,
    w: &DMatrix<f64>,
    sigma: Option<&DMatrix<f64>>,
    replications: u32,
) -> Uncertainty {
    let info = jac.transpose() * w * jac;
    let e = SymmetricEigen::new(info.clone());
    let mut eig: Vec<f64> = e.eigenvalues.iter().copied().collect();
    eig.sort_by(|a, b| b.total_cmp(a));
    let cut = eig.first().copied().unwrap_or(0.0).max(0.0) * 1e-10;
    let moved = |l: f64| l > cut && l > 0.0;
    // A function of B's eigenvalues, on its eigenvectors.
    let spectral = |f: &dyn Fn(f64) -> f64| {
        &e.eigenvectors * DMatrix::from_diagonal(&e.eigenvalues.map(f)) * e.eigenvectors.transpose()
    };
    let pinv = spectral(&|l| if moved(l) { 1.0 / l } else { 0.0 });
    let unmoved = spectral(&|l| if moved(l) { 0.0 } else { UNMOVED_VARIANCE });
    let spread = match sigma {
        Some(sigma) => {
            let wj = w * jac;
            &pinv * (wj.transpose() * sigma * &wj) * &pinv
        }
        None => pinv,
    };
    let cov = (spread + unmoved) * (1.0 + 1.0 / f64::from(replications.max(1)));
    let p = cov.nrows();
    Uncertainty {
        covariance: (0..p)
            .map(|i| (0..p).map(|j| cov[(i, j)]).collect())
            .collect(),
        standard_errors: (0..p).map(|i| cov[(i, i)].max(0.0).sqrt()).collect(),
        eigenvalues: eig,
    }
}

/// Hansen's J test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JTest {
    pub statistic: f64,
    pub df: u32,
    /// The p-value used: the Monte Carlo one when simulated trails were given, else χ².
    pub p_value: f64,
    /// P(χ²(df) > J), Hansen's asymptotic p-value.
    pub p_chi2: f64,
    /// How many simulated trails the Monte Carlo p-value rests on (0: none).
    pub simulated: u32,
}

/// J = dᵀWd / (1 + 1/R) against χ²(df); `None` without degrees of freedom.
pub fn j_test(d: &DVector<f64>, w: &DMatrix<f64>, replications: u32, df: u32) -> Option<JTest> {
    if df == 0 {
        return None;
    }
    let stat = (d.transpose() * w * d)[(0, 0)] / (1.0 + 1.0 / f64::from(replications.max(1)));
    let p = ChiSquared::new(f64::from(df)).ok()?.sf(stat);
    Some(JTest {
        statistic: stat,
        df,
        p_value: p,
        p_chi2: p,
        simulated: 0,
    })
}

/// The J test with its null distribution simulated (a Monte Carlo test, Barnard 1963):
/// each simulated trail's J against the mean of the simulations, the p-value the share of
/// them at least as large as the recorded one, (1 + #{J_b ≥ J}) / (B + 1). Moments of a
/// few heavy-tailed gaps are far from normal, so χ² alone rejects a true model too often;
/// the simulated null knows their shape. (It ignores the fit's own degrees of freedom, so
/// it errs toward accepting.)
pub fn j_test_simulated(
    d: &DVector<f64>,
    w: &DMatrix<f64>,
    replications: u32,
    df: u32,
    samples: &[Vec<f64>],
) -> Option<JTest> {
    let mut j = j_test(d, w, replications, df)?;
    let good: Vec<&Vec<f64>> = samples
        .iter()
        .filter(|r| r.iter().all(|v| v.is_finite()))
        .collect();
    if good.len() < 20 {
        return Some(j);
    }
    let k = d.len();
    let mean: Vec<f64> = (0..k)
        .map(|c| good.iter().map(|r| r[c]).sum::<f64>() / good.len() as f64)
        .collect();
    // Each simulated trail against the mean of the others (leave one out), whose own
    // noise is a 1/(B − 1) share: the null J has the observed J's scale.
    let b = good.len() as f64;
    let scale = 1.0 + 1.0 / (b - 1.0);
    let above = good
        .iter()
        .filter(|r| {
            let db = DVector::from_iterator(
                k,
                r.iter().zip(&mean).map(|(a, m)| (a - m) * b / (b - 1.0)),
            );
            (db.transpose() * w * &db)[(0, 0)] / scale >= j.statistic
        })
        .count();
    j.p_value = (1 + above) as f64 / (good.len() + 1) as f64;
    j.simulated = good.len() as u32;
    Some(j)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_model_covariance_is_the_least_squares_one() {
        // m = Aθ with noise covariance Σ = diag(σ²): Var(θ̂) = (AᵀΣ⁻¹A)⁻¹ (R → ∞).
        let a = DMatrix::from_row_slice(3, 2, &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
        let sigma2 = [0.5, 2.0, 1.0];
        let w = DMatrix::from_diagonal(&DVector::from_iterator(3, sigma2.iter().map(|s| 1.0 / s)));
        let u = uncertainty(&a, &w, u32::MAX);
        // AᵀWA = [[3, 1], [1, 1.5]]; inverse = [[1.5, -1], [-1, 3]] / 3.5.
        let want = [[1.5 / 3.5, -1.0 / 3.5], [-1.0 / 3.5, 3.0 / 3.5]];
        for (got, want) in u.covariance.iter().flatten().zip(want.iter().flatten()) {
            assert!((got - want).abs() < 1e-9, "{:?}", u.covariance);
        }
        // With R = 4 the simulation adds a quarter.
        let u4 = uncertainty(&a, &w, 4);
        assert!((u4.covariance[0][0] / u.covariance[0][0] - 1.25).abs() < 1e-9);
        // A column of zeros (a parameter the moments do not see) has a zero eigenvalue.
        let blind = DMatrix::from_row_slice(3, 2, &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
        let ub = uncertainty(&blind, &w, 10);
        assert!(ub.eigenvalues[1].abs() < 1e-12);
        // ... and no precision: its standard error is beyond any plausible range, while the
        // seen one keeps its own.
        assert!(ub.standard_errors[1] > 50.0, "{:?}", ub.standard_errors);
        let seen = 1.1 / (1.0 / 0.5 + 1.0);
        assert!(
            (ub.covariance[0][0] - seen).abs() < 1e-9,
            "{:?}",
            ub.covariance
        );
    }

    #[test]
    fn a_weight_other_than_the_inverse_covariance_gets_the_sandwich() {
        // m = Aθ + e with correlated noise, Cov(e) = Σ, estimated under a diagonal W:
        // θ̂ = (AᵀWA)⁻¹AᵀW m. Its spread over many draws is what the sandwich says, and
        // larger than the efficient (AᵀΣ⁻¹A)⁻¹ an estimator under W = Σ⁻¹ would have.
        use crate::engine::rng;
        use rand_distr::{Distribution as _, StandardNormal};
        let a = DMatrix::from_row_slice(3, 2, &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
        let sigma = DMatrix::from_row_slice(3, 3, &[1.0, 0.8, -0.5, 0.8, 2.0, 0.0, -0.5, 0.0, 1.5]);
        let w = DMatrix::from_diagonal(&DVector::from_vec(vec![1.0, 0.5, 2.0]));
        let chol = sigma.clone().cholesky().unwrap().l();
        let solve = (a.transpose() * &w * &a).try_inverse().unwrap() * a.transpose() * &w;
        let mut g = rng::stream(7, "sandwich");
        let n = 40_000;
        let draws: Vec<Vec<f64>> = (0..n)
            .map(|_| {
                let z = DVector::from_iterator(3, (0..3).map(|_| StandardNormal.sample(&mut g)));
                let t = &solve * (&chol * z);
                vec![t[0], t[1]]
            })
            .collect();
        let empirical = sample_covariance(&draws).unwrap();
        let u = sandwich(&a, &w, Some(&sigma), u32::MAX);
        for i in 0..2 {
            for j in 0..2 {
                // 40 000 draws measure a covariance to about 1 % of its scale.
                assert!(
                    (u.covariance[i][j] - empirical[(i, j)]).abs() < 0.03,
                    "{:?} vs {empirical}",
                    u.covariance
                );
            }
        }
        // With W = Σ⁻¹ the sandwich is the efficient (AᵀΣ⁻¹A)⁻¹, and under any other W no
        // direction is surer than that (the Gauss–Markov order); this W loses some.
        let w_eff = sigma.clone().try_inverse().unwrap();
        let s = sandwich(&a, &w_eff, Some(&sigma), u32::MAX);
        let e = uncertainty(&a, &w_eff, u32::MAX);
        for (x, y) in s
            .covariance
            .iter()
            .flatten()
            .zip(e.covariance.iter().flatten())
        {
            assert!((x - y).abs() < 1e-9);
        }
        let m = |c: &Vec<Vec<f64>>| DMatrix::from_fn(2, 2, |i, j| c[i][j]);
        let lost = SymmetricEigen::new(m(&u.covariance) - m(&e.covariance)).eigenvalues;
        assert!(lost.min() > -1e-12 && lost.max() > 0.01, "{lost}");
    }

    #[test]
    fn j_statistic_against_chi_squared_and_covariance_of_samples() {
        let w = DMatrix::identity(3, 3);
        let d = DVector::from_vec(vec![1.0, 1.0, 1.0]);
        let j = j_test(&d, &w, u32::MAX, 2).unwrap();
        assert!((j.statistic - 3.0).abs() < 1e-9);
        // P(χ²₂ > 3) = e^{-1.5}.
        assert!((j.p_value - (-1.5f64).exp()).abs() < 1e-9);
        assert!(j_test(&d, &w, 10, 0).is_none());
        let rows = vec![vec![1.0, 2.0], vec![3.0, 2.0], vec![2.0, f64::NAN]];
        let c = sample_covariance(&rows).unwrap();
        assert!((c[(0, 0)] - 2.0).abs() < 1e-12 && c[(1, 1)] == 0.0);
        let wt = weight(&c, 0.0, &[0.1, 0.25]);
        assert!((wt[(0, 0)] - 0.5).abs() < 1e-9 && (wt[(1, 1)] - 4.0).abs() < 1e-9);
    }

    #[test]
    fn a_floor_holds_in_every_direction() {
        // Two parameters known only through their sum: each se 0.3, correlation −0.9, so
        // their sum's variance is 0.018 — under the 0.08 two floors of 0.2 allow.
        let cov = DMatrix::from_row_slice(2, 2, &[0.09, -0.081, -0.081, 0.09]);
        let floor = [0.04, 0.04];
        let raised = at_least(&cov, &floor);
        let d = DMatrix::from_diagonal(&DVector::from_column_slice(&floor));
        for m in [&raised - &d, &raised - &cov] {
            assert!(SymmetricEigen::new(m).eigenvalues.min() > -1e-12);
        }
        let sum = DVector::from_vec(vec![1.0, 1.0]);
        let var = (sum.transpose() * &raised * &sum)[(0, 0)];
        assert!(var >= 0.08 - 1e-12, "{var}");
        // Already above the floor in every direction: unchanged.
        let wide = DMatrix::from_row_slice(2, 2, &[0.09, 0.01, 0.01, 0.09]);
        assert!((at_least(&wide, &floor) - &wide).abs().max() < 1e-12);
        // With one floor zero the other still holds in every direction.
        let floor = [0.0, 0.04];
        let one = at_least(&cov, &floor);
        let d = DMatrix::from_diagonal(&DVector::from_column_slice(&floor));
        assert!(SymmetricEigen::new(&one - &d).eigenvalues.min() > -1e-12);
        assert!(SymmetricEigen::new(&one - &cov).eigenvalues.min() > -1e-12);
    }
}
