//! The controller under study, AWS Multi-ENI Controller v1.3.8, written to read like its
//! reconcile loop: create / attach / verify / stale detection / cleanup pool / finalizers.
//! Versioned behaviour lives in a profile (`models/controller/*.yaml`).

pub mod circuit_breaker;
pub mod cleanup;
pub mod cluster;
pub mod ec2;
pub mod named;
pub mod profile;
pub mod reconcile;
pub mod recorder;
pub mod resources;

pub use circuit_breaker::{BreakerState, BreakerWiring, CircuitBreaker};
pub use cluster::{ApiServer, AttachmentStatus, Cluster, Node, NodeEni, NodeEniKey, NodeEniSpec};
pub use ec2::{CallError, Ec2Ops};
pub use profile::ControllerProfile;
pub use reconcile::Controller;
pub use recorder::{EniFate, EniTimeline, Recorder};
