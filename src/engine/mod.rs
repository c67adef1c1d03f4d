//! Virtual time and nothing else: integer nanoseconds, an event queue ordered by
//! (time, insertion sequence), named random streams, distributions, and a small
//! deterministic executor that runs simulated processes written as `async` sequences.
//!
//! Nothing in here knows about AWS or Kubernetes (design.md, module map).

pub mod dist;
pub mod executor;
pub mod gauge;
pub mod hold;
pub mod queue;
pub mod rng;
pub mod sync;
pub mod time;

pub use dist::Distribution;
pub use executor::{RunEnd, Sim, SimHandle};
pub use gauge::TimeWeighted;
pub use queue::EventQueue;
pub use rng::{stream_seed, SimRng};
pub use sync::{Signal, WaitGroup};
pub use time::{Nanos, MILLI, SECOND};
