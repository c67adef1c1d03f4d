//! Calibration: fitting the model's rates, delays and costs from a recorded trail
//! (calibration.md): direct estimates where they are exact, simulated moments through the
//! model itself for the rest, identifiability, goodness of fit and parameter uncertainty.

pub mod params;

pub use params::{Domain, ParamError, ParamSpec, Registry};
