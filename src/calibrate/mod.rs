//! Calibration: fitting the model's rates, delays and costs from a recorded trail
//! (calibration.md): direct estimates where they are exact, simulated moments through the
//! model itself for the rest, identifiability, goodness of fit and parameter uncertainty.
//!
//! The pieces, each tested alone: [`observed`] (a trail as rows), [`direct`] (exact
//! estimates), [`buckets`] (the token buckets a trail allows), [`moments`] (the statistics
//! matched), [`simulate`] (a replication as a trail), [`distance`] (the cost function),
//! [`optimise`] (Nelder–Mead), [`uncertainty`] (weight, covariance, J test), [`check`] (the
//! user's settings against the trail), [`floor`] (what a trail can tell at best), and
//! [`fit`], which runs them in order. Around them: [`recording`] (the trail read once, in
//! both views) and [`workload`] (what the recorded cluster was asked to do: an audit log,
//! a scenario, or reconstructed from the controller's calls).

pub mod buckets;
pub mod check;
pub mod direct;
pub mod distance;
pub mod draw;
pub mod fit;
pub mod floor;
pub mod moments;
pub mod observed;
pub mod optimise;
pub mod output;
pub mod params;
pub mod predict;
pub mod prometheus;
pub mod recording;
pub mod simulate;
pub mod uncertainty;
pub mod workload;

pub use draw::CalibratedModel;
pub use fit::{calibrate, CalibrateError, Calibration, FittedDistribution, Options, ParamResult};
pub use observed::Trail;
pub use params::{Domain, ParamError, ParamSpec, Registry};
pub use recording::Recording;
pub use workload::{Choice, Workload};
