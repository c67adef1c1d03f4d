//! Closed-form results (queues-and-oracles.md §5): M/M/1, M/M/c (Erlang C), M/D/1 and
//! M/G/1 (Pollaczek–Khinchine). Rates per second, times in seconds.

/// Erlang C: the probability that an arrival waits, for offered load `a = λ/μ` on `c`
/// servers, by the Erlang-B recursion `B_k = a·B_{k−1}/(k + a·B_{k−1})` then
/// `C = B_c/(1 − ρ(1 − B_c))`, which avoids factorial overflow.
pub fn erlang_c(c: u32, a: f64) -> f64 {
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (k as f64 + a * b);
    }
    let rho = a / c as f64;
    b / (1.0 - rho * (1.0 - b))
}

/// The textbook formula `[a^c/c!·1/(1−ρ)] / [Σ_{k<c} a^k/k! + a^c/c!·1/(1−ρ)]`.
pub fn erlang_c_direct(c: u32, a: f64) -> f64 {
    let rho = a / c as f64;
    let mut term = 1.0; // a^k / k!
    let mut sum = 0.0;
    for k in 0..c {
        sum += term;
        term *= a / (k + 1) as f64;
    }
    let top = term / (1.0 - rho);
    top / (sum + top)
}

/// M/M/c mean wait in queue `Wq = C/(cμ − λ)`.
pub fn mmc_wq(lambda: f64, mu: f64, c: u32) -> f64 {
    erlang_c(c, lambda / mu) / (c as f64 * mu - lambda)
}

/// M/M/1 mean wait in queue `ρ/(μ − λ)`.
pub fn mm1_wq(lambda: f64, mu: f64) -> f64 {
    (lambda / mu) / (mu - lambda)
}

/// M/G/1 mean wait in queue (Pollaczek–Khinchine): `λE[S²]/(2(1 − ρ))`.
pub fn mg1_wq(lambda: f64, mean_s: f64, second_moment_s: f64) -> f64 {
    let rho = lambda * mean_s;
    lambda * second_moment_s / (2.0 * (1.0 - rho))
}

/// M/D/1 mean wait in queue: `ρ/(2μ(1 − ρ))`, half the M/M/1 value.
pub fn md1_wq(lambda: f64, mu: f64) -> f64 {
    let rho = lambda / mu;
    rho / (2.0 * mu * (1.0 - rho))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recursion_equals_direct_formula() {
        for c in [1, 2, 5, 15, 40] {
            for rho in [0.1, 0.5, 0.8, 0.95] {
                let a = rho * c as f64;
                let (r, d) = (erlang_c(c, a), erlang_c_direct(c, a));
                assert!((r - d).abs() < 1e-12, "c={c} ρ={rho}: {r} vs {d}");
            }
        }
    }

    #[test]
    fn special_cases_agree() {
        // M/M/c with c = 1 is M/M/1; C(1, a) = ρ.
        assert!((mmc_wq(0.8, 1.0, 1) - mm1_wq(0.8, 1.0)).abs() < 1e-12);
        assert!((erlang_c(1, 0.5) - 0.5).abs() < 1e-12);
        // M/G/1 with deterministic service is M/D/1; with exponential, M/M/1.
        assert!((mg1_wq(0.5, 1.0, 1.0) - md1_wq(0.5, 1.0)).abs() < 1e-12);
        assert!((mg1_wq(0.5, 1.0, 2.0) - mm1_wq(0.5, 1.0)).abs() < 1e-12);
        // A published value: c = 2, a = 1 → C = 1/3.
        assert!((erlang_c(2, 1.0) - 1.0 / 3.0).abs() < 1e-12);
    }
}
