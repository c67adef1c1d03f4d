//! Scenarios as data, the Helm-values view of the controller's knobs, and running a
//! scenario's replications.

pub mod kinds;
pub mod limits;
pub mod recorded;
pub mod replications;
pub mod spec;
pub mod values;
pub mod world;

pub use kinds::simulate;
pub use replications::{replicate, replicate_varied, replication_seed, simulate_replication, Vary};
pub use spec::{Kind, Layout, ScenarioSpec};
pub use values::Settings;
pub use world::{BuildError, Model};
