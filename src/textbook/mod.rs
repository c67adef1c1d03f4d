//! Textbook queues run on the engine and the client-go work queue, beside their
//! closed forms, so that anyone can see the simulator is right (`enisim check`).

pub mod model;
pub use model::replicate;
pub mod oracle;

pub use model::{check_suite, run_case, CheckCase, CheckRow, Service};
