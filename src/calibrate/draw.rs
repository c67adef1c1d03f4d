//! Parameter uncertainty carried into predictions (calibration.md §4): a calibration
//! directory's profiles and the fitted distribution of θ (normal in log space, covariance
//! from the Jacobian), one draw per replication from its own named stream, so every other
//! stream of the replication is unchanged and the interval of a prediction holds parameter
//! uncertainty as well as Monte Carlo noise.

use std::path::Path;

use nalgebra::{DMatrix, DVector};
use rand_distr::{Distribution as _, StandardNormal};

use super::fit::FittedDistribution;
use super::floor::LatencyFloor;
use super::output::{CONTROLLER_FILE, EC2_FILE, JSON_FILE};
use super::params;
use crate::aws::Ec2Profile;
use crate::controller::ControllerProfile;
use crate::engine::rng;
use crate::input::{read_text, InputError};
use crate::plausible::NamedValue;
use crate::scenario::{Model, Settings};

/// A calibration directory, loaded.
#[derive(Debug, Clone)]
pub struct CalibratedModel {
    pub ec2: Ec2Profile,
    pub controller: Option<ControllerProfile>,
    pub fitted: FittedDistribution,
    /// What the trail could tell of each median at best (empty for an older directory).
    pub floors: Vec<LatencyFloor>,
}

impl CalibratedModel {
    /// Reads `DIR/ec2.yaml`, `DIR/calibration.json` and, if present, `DIR/controller.yaml`.
    pub fn load(dir: &Path) -> Result<CalibratedModel, InputError> {
        let ec2 = Ec2Profile::load(&dir.join(EC2_FILE))?;
        let cpath = dir.join(CONTROLLER_FILE);
        let controller = if cpath.exists() {
            Some(ControllerProfile::load(&cpath)?)
        } else {
            None
        };
        let jpath = dir.join(JSON_FILE);
        let text = read_text(&jpath)?;
        #[derive(serde::Deserialize)]
        struct Doc {
            fitted: FittedDistribution,
            #[serde(default)]
            floors: Vec<LatencyFloor>,
        }
        let doc: Doc = serde_json::from_str(&text).map_err(|e| {
            InputError::new(&jpath, e.to_string())
                .at_line(e.line())
                .with_key("fitted")
        })?;
        let f = &doc.fitted;
        let p = f.names.len();
        let square = f.covariance_log.len() == p && f.covariance_log.iter().all(|r| r.len() == p);
        if f.mean_log.len() != p || f.bounds.len() != p || !square {
            return Err(InputError::new(
                &jpath,
                format!("fitted: {p} names need {p} means, {p} bounds and a {p} × {p} covariance"),
            )
            .with_key("fitted"));
        }
        if let Some(a) = f.assumed.iter().find(|a| !f.names.contains(a)) {
            return Err(InputError::new(
                &jpath,
                format!("fitted.assumed: {a:?} is not one of fitted.names"),
            )
            .with_key("fitted.assumed"));
        }
        for n in &f.names {
            let mut m = Model {
                ec2: ec2.clone(),
                instance_types: crate::aws::InstanceTypes::embedded(),
            };
            let mut s = Settings::new(
                controller
                    .clone()
                    .unwrap_or_else(ControllerProfile::embedded),
                crate::scenario::ScenarioSpec::embedded("burst").expect("embedded burst"),
            );
            params::get(&m, &s, n)
                .and_then(|v| params::set(&mut m, &mut s, n, &v))
                .map_err(|e| InputError::new(&jpath, e.to_string()).with_key("fitted.names"))?;
        }
        Ok(CalibratedModel {
            ec2,
            controller,
            fitted: doc.fitted,
            floors: doc.floors,
        })
    }
}

impl FittedDistribution {
    /// How many of the drawn parameters the trail fitted (the rest are `assumed`).
    pub fn fitted_count(&self) -> usize {
        self.names.len() - self.assumed.len()
    }

    /// θ for replication `r` of a run with `seed`: exp(mean + L z), z standard normal from
    /// the stream `calibration.theta-r`, L the Cholesky factor of the covariance (its
    /// positive part), each value kept inside its plausible bounds.
    pub fn draw(&self, seed: u64, r: u32) -> Vec<(String, f64)> {
        let p = self.names.len();
        if p == 0 {
            return Vec::new();
        }
        let cov = DMatrix::from_fn(p, p, |i, j| self.covariance_log[i][j]);
        let e = nalgebra::SymmetricEigen::new(cov);
        // L = V √Λ⁺: a square root that exists for a semi-definite covariance too.
        let root =
            &e.eigenvectors * DMatrix::from_diagonal(&e.eigenvalues.map(|l| l.max(0.0).sqrt()));
        let mut g = rng::stream(seed, &format!("calibration.theta-{r}"));
        let z = DVector::from_iterator(p, (0..p).map(|_| -> f64 { StandardNormal.sample(&mut g) }));
        let x = DVector::from_column_slice(&self.mean_log) + root * z;
        self.names
            .iter()
            .zip(x.iter())
            .zip(&self.bounds)
            .map(|((n, xi), b)| (n.clone(), xi.exp().clamp(b[0], b[1])))
            .collect()
    }

    /// The point estimate θ̂.
    pub fn point(&self) -> Vec<(String, f64)> {
        self.names
            .iter()
            .zip(&self.mean_log)
            .map(|(n, m)| (n.clone(), m.exp()))
            .collect()
    }

    /// Sets θ for replication `r` on a copy of (model, settings).
    pub fn apply(
        &self,
        model: &mut Model,
        settings: &mut Settings,
        seed: u64,
        r: u32,
    ) -> Result<(), params::ParamError> {
        for (n, v) in self.draw(seed, r) {
            params::set(model, settings, &n, &NamedValue::Number(v))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_follow_the_fitted_normal() {
        let f = FittedDistribution {
            names: vec!["a".into(), "b".into()],
            mean_log: vec![1.0, -1.0],
            covariance_log: vec![vec![0.04, 0.03], vec![0.03, 0.09]],
            bounds: vec![[1e-9, 1e9], [1e-9, 1e9]],
            assumed: Vec::new(),
        };
        let n = 4000;
        let xs: Vec<(f64, f64)> = (0..n)
            .map(|r| {
                let d = f.draw(7, r);
                (d[0].1.ln(), d[1].1.ln())
            })
            .collect();
        let ma = xs.iter().map(|x| x.0).sum::<f64>() / n as f64;
        let mb = xs.iter().map(|x| x.1).sum::<f64>() / n as f64;
        let cab = xs.iter().map(|x| (x.0 - ma) * (x.1 - mb)).sum::<f64>() / (n - 1) as f64;
        let vb = xs.iter().map(|x| (x.1 - mb).powi(2)).sum::<f64>() / (n - 1) as f64;
        assert!(
            (ma - 1.0).abs() < 0.01 && (mb + 1.0).abs() < 0.015,
            "{ma} {mb}"
        );
        assert!(
            (cab - 0.03).abs() < 0.005 && (vb - 0.09).abs() < 0.008,
            "{cab} {vb}"
        );
        // The same (seed, r) gives the same draw; another r another.
        assert_eq!(f.draw(7, 3), f.draw(7, 3));
        assert_ne!(f.draw(7, 3), f.draw(7, 4));
    }
}
