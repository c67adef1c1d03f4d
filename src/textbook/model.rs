//! An M/M/c (or M/D/c) queue built from the simulator's own parts: Poisson arrivals of
//! distinct keys into the client-go work queue, `c` workers (MaxConcurrentReconciles)
//! that take a key, hold it for a service time and mark it done. Distinct keys never
//! trigger deduplication, so the closed forms apply exactly (queues-and-oracles.md §5.2).

use super::oracle;
use crate::engine::{rng, time, Distribution, Sim};
use crate::kube::{ControllerRateLimiter, WorkQueue};
use crate::metrics::{mean_ci, MeanCi};
use rayon::prelude::*;
use serde::Serialize;
use std::cell::RefCell;
use std::rc::Rc;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Service {
    Exponential,
    Deterministic,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CheckCase {
    pub servers: u32,
    /// Utilisation ρ = λ/(cμ); μ = 1 per second.
    pub rho: f64,
    pub service: Service,
}

impl CheckCase {
    pub fn name(&self) -> String {
        let s = match self.service {
            Service::Exponential => "M",
            Service::Deterministic => "D",
        };
        format!("M/{s}/{}", self.servers)
    }

    pub fn lambda(&self) -> f64 {
        self.rho * self.servers as f64
    }

    /// The closed-form mean wait in queue, seconds.
    pub fn theory_wq(&self) -> f64 {
        match self.service {
            Service::Exponential => oracle::mmc_wq(self.lambda(), 1.0, self.servers),
            Service::Deterministic => oracle::md1_wq(self.lambda(), 1.0),
        }
    }
}

/// One replication's measurements.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Replication {
    /// Mean wait in queue of the customers after the warm-up, seconds.
    pub wq: f64,
    /// Little's law on the whole run: time-average number queued and in service…
    pub l: f64,
    /// …against throughput × mean time in system.
    pub lambda_w: f64,
    pub events: u64,
}

/// Simulates `customers` arrivals (the first `warmup` excluded from the wait estimate).
pub fn replicate(case: &CheckCase, customers: usize, warmup: usize, seed: u64) -> Replication {
    let sim = Sim::new();
    let h = sim.handle();
    let queue: WorkQueue<u32> = WorkQueue::new(&h, ControllerRateLimiter::default());
    let added = Rc::new(RefCell::new(vec![0u64; customers]));
    let got = Rc::new(RefCell::new(vec![0u64; customers]));
    let finished = Rc::new(RefCell::new(vec![0u64; customers]));
    let service = match case.service {
        Service::Exponential => Distribution::Exponential { mean_ms: 1000.0 },
        Service::Deterministic => Distribution::Fixed { ms: 1000.0 },
    };
    let interarrival = Distribution::Exponential {
        mean_ms: 1000.0 / case.lambda(),
    };
    {
        let (h, q, added) = (h.clone(), queue.clone(), added.clone());
        let mut arrivals = rng::stream(seed, "textbook.arrivals");
        sim.spawn(async move {
            for k in 0..customers {
                h.sleep(interarrival.sample(&mut arrivals)).await;
                added.borrow_mut()[k] = h.now();
                q.add(k as u32);
            }
        });
    }
    for w in 0..case.servers {
        let (h, q, got, finished) = (h.clone(), queue.clone(), got.clone(), finished.clone());
        let service = service.clone();
        let mut rng = rng::stream(seed, &format!("textbook.service.{w}"));
        sim.spawn(async move {
            loop {
                let k = q.get().await;
                got.borrow_mut()[k as usize] = h.now();
                h.sleep(service.sample(&mut rng)).await;
                finished.borrow_mut()[k as usize] = h.now();
                q.done(&k);
            }
        });
    }
    sim.run();
    let end = sim.now();
    let (added, got, finished) = (added.borrow(), got.borrow(), finished.borrow());
    let waits: Vec<f64> = (warmup..customers)
        .map(|k| time::to_secs(got[k] - added[k]))
        .collect();
    let stats = queue.stats();
    let span = time::to_secs(end);
    let l = (stats.depth_area + stats.processing_area) as f64 / 1e9 / span;
    let total_w: f64 = (0..customers)
        .map(|k| time::to_secs(finished[k] - added[k]))
        .sum();
    Replication {
        wq: waits.iter().sum::<f64>() / waits.len() as f64,
        l,
        lambda_w: customers as f64 / span * (total_w / customers as f64),
        events: sim.events_dispatched(),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckRow {
    pub case: CheckCase,
    pub theory_wq: f64,
    pub simulated_wq: MeanCi,
    /// Largest relative gap |L − λW|/L over the replications.
    pub little_max_rel_gap: f64,
    pub replications: usize,
    pub events: u64,
}

impl CheckRow {
    pub fn inside(&self) -> bool {
        self.simulated_wq.contains(self.theory_wq)
    }
}

/// Runs `replications` independent replications of one case (in parallel; the result
/// does not depend on the number of threads).
pub fn run_case(case: &CheckCase, replications: usize, customers: usize, seed: u64) -> CheckRow {
    let warmup = customers / 10;
    let reps: Vec<Replication> = (0..replications)
        .into_par_iter()
        .map(|r| {
            let s = rng::stream_seed(seed, &format!("{}-rho{}-rep{r}", case.name(), case.rho));
            replicate(case, customers, warmup, s)
        })
        .collect();
    let wq: Vec<f64> = reps.iter().map(|r| r.wq).collect();
    CheckRow {
        case: *case,
        theory_wq: case.theory_wq(),
        simulated_wq: mean_ci(&wq),
        little_max_rel_gap: reps
            .iter()
            .map(|r| (r.l - r.lambda_w).abs() / r.l)
            .fold(0.0, f64::max),
        replications,
        events: reps.iter().map(|r| r.events).sum(),
    }
}

/// The cases `enisim check` runs: M/M/c for c = 1, 5, 15 at ρ = 0.5 and 0.8, and M/D/1.
pub fn check_suite() -> Vec<CheckCase> {
    let mut cases = Vec::new();
    for c in [1, 5, 15] {
        for rho in [0.5, 0.8] {
            cases.push(CheckCase {
                servers: c,
                rho,
                service: Service::Exponential,
            });
        }
    }
    for rho in [0.5, 0.8] {
        cases.push(CheckCase {
            servers: 1,
            rho,
            service: Service::Deterministic,
        });
    }
    cases
}
