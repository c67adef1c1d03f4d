//! Scenarios as data, the Helm-values view of the controller's knobs, and running a
//! scenario's replications.

pub mod spec;
pub mod values;
pub mod world;

pub use spec::{Layout, ScenarioSpec};
pub use values::Settings;
pub use world::{simulate, BuildError, Model};
