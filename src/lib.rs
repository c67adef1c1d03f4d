//! enisim: a discrete-event capacity model and replay tool for the AWS Multi-ENI Controller.
//!
//! Layers, each importing only those above it: `engine` (virtual time), `kube` and `aws`
//! (the two worlds the controller talks to), then the controller model and the tools
//! built on it. See design.md for the map.

pub mod atomic;
pub mod aws;
pub mod calibrate;
pub mod cli;
pub mod controller;
pub mod engine;
pub mod input;
pub mod kube;
pub mod metrics;
pub mod plausible;
pub mod recommend;
pub mod replay;
pub mod report;
pub mod scenario;
pub mod sensitivity;
pub mod sweep;
pub mod textbook;
pub mod trace;
pub mod workload;
