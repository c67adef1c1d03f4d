//! The model inputs every simulating command takes: profiles, tables, Helm values.

use crate::aws::{Ec2Profile, InstanceTypes};
use crate::calibrate::CalibratedModel;
use crate::controller::ControllerProfile;
use crate::metrics::thresholds::Thresholds;
use crate::scenario::{Model, ScenarioSpec, Settings};
use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// Helm values file(s) for the chart, applied in order (like `helm --values`).
    #[arg(long = "values", short = 'f', value_name = "FILE")]
    pub values: Vec<PathBuf>,
    /// Override one key (like `helm --set`), e.g. controller.maxConcurrentReconciles=10.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// EC2 profile (default: the embedded models/aws/ec2-default.yaml).
    #[arg(long, value_name = "FILE")]
    pub ec2_profile: Option<PathBuf>,
    /// Controller profile (default: the embedded models/controller/v1.3.8.yaml).
    #[arg(long, value_name = "FILE")]
    pub controller_profile: Option<PathBuf>,
    /// Instance-type table: CSV like models/instance-types.csv, or the JSON of
    /// `aws ec2 describe-instance-types`.
    #[arg(long, value_name = "FILE")]
    pub instance_types: Option<PathBuf>,
    /// Thresholds (default: the embedded models/thresholds.yaml).
    #[arg(long, value_name = "FILE")]
    pub thresholds: Option<PathBuf>,
    /// A directory written by `enisim calibrate`: its EC2 (and controller) profile, and
    /// for every replication θ drawn from the fitted distribution, so intervals hold the
    /// parameters' uncertainty too.
    #[arg(long, value_name = "DIR", conflicts_with = "ec2_profile")]
    pub calibration: Option<PathBuf>,
}

impl ModelArgs {
    /// The calibration directory, loaded (`--calibration`).
    pub fn calibration(&self) -> anyhow::Result<Option<CalibratedModel>> {
        Ok(match &self.calibration {
            Some(dir) => Some(CalibratedModel::load(dir)?),
            None => None,
        })
    }

    pub fn model(&self) -> anyhow::Result<Model> {
        let ec2 = match (&self.ec2_profile, self.calibration()?) {
            (Some(p), _) => Ec2Profile::load(p)?,
            (None, Some(c)) => c.ec2,
            (None, None) => Ec2Profile::embedded(),
        };
        let instance_types = match &self.instance_types {
            Some(p) => InstanceTypes::load(p)?,
            None => InstanceTypes::embedded(),
        };
        Ok(Model {
            ec2,
            instance_types,
        })
    }

    pub fn thresholds(&self) -> anyhow::Result<Thresholds> {
        Ok(match &self.thresholds {
            Some(p) => Thresholds::load(p)?,
            None => Thresholds::embedded(),
        })
    }

    pub fn settings(&self, scenario: ScenarioSpec) -> anyhow::Result<Settings> {
        let calibrated = self.calibration()?.and_then(|c| c.controller);
        let controller = match (&self.controller_profile, calibrated) {
            (Some(p), _) => ControllerProfile::load(p)?,
            (None, Some(c)) => c,
            (None, None) => ControllerProfile::embedded(),
        };
        let mut s = Settings::new(controller, scenario);
        for f in &self.values {
            // The error names the file, the line and the key itself.
            s.apply_values_file(f)?;
        }
        for kv in &self.set {
            s.apply_set(kv)?;
        }
        s.validate()?;
        Ok(s)
    }
}
