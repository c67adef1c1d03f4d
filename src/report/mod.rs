//! What a finished output directory tells a reader: figures and one self-contained HTML
//! report (`enisim report DIR`, [`render`]); run-to-run (and sweep-to-sweep) comparison
//! with Welch intervals, for regression checks in a team's CI (`enisim compare A B`); the
//! OpenMetrics export.

pub mod compare;
pub mod figures;
pub mod html;
pub mod openmetrics;
pub mod render;
pub mod run_dir;
