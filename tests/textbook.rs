//! The engine and the work queue against queueing theory (queues-and-oracles.md §5):
//! the closed-form mean wait lies inside the 95 % CI over 20 replications, and Little's
//! law holds on the same runs.

use enisim::textbook::{check_suite, run_case};

#[test]
fn queues_match_their_closed_forms() {
    let mut failures = Vec::new();
    for case in check_suite() {
        let row = run_case(&case, 20, 20_000, 2026);
        eprintln!(
            "{} ρ={} theory {:.4} sim {:.4} ± {:.4} little gap {:.2e}",
            case.name(),
            case.rho,
            row.theory_wq,
            row.simulated_wq.mean,
            row.simulated_wq.half_width,
            row.little_max_rel_gap
        );
        if !row.inside() {
            failures.push(format!("{} ρ={}", case.name(), case.rho));
        }
        assert!(row.little_max_rel_gap < 1e-6, "Little's law: {row:?}");
        // The interval is informative, not vacuous.
        assert!(row.simulated_wq.half_width < 0.1 * row.theory_wq + 0.01);
    }
    assert!(failures.is_empty(), "outside the 95 % CI: {failures:?}");
}

#[test]
fn replications_are_identical_whatever_the_thread_count() {
    let case = check_suite()[2];
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let two = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let a = one.install(|| run_case(&case, 6, 2_000, 9));
    let b = two.install(|| run_case(&case, 6, 2_000, 9));
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
}
