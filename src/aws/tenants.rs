//! Other tenants' calls as a recording showed them (`enisim replay`): each call at its
//! recorded time and action, drawing on the same bucket as the controller's calls of that
//! action — not a Poisson stream. And what the buckets did with every tenant call, Poisson
//! or recorded, so a run can show them beside the controller's own.

use super::action::Action;
use crate::engine::Nanos;
use std::fmt;

/// One recorded call of another tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordedCall {
    /// When it reaches EC2 (virtual time).
    pub at: Nanos,
    pub action: Action,
    /// Filtered (or naming ids) rather than an unfiltered, unpaginated describe.
    pub filtered: bool,
    /// Index into [`RecordedTenants::names`].
    pub tenant: u32,
}

/// Other tenants' recorded calls, in time order, with the tenants' names (caller classes).
#[derive(Clone, PartialEq, Default)]
pub struct RecordedTenants {
    pub names: Vec<String>,
    pub calls: Vec<RecordedCall>,
}

impl fmt::Debug for RecordedTenants {
    // A million calls are not printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RecordedTenants {{ names: {:?}, calls: {} }}",
            self.names,
            self.calls.len()
        )
    }
}

/// What EC2 did with one tenant call (Poisson or recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantCall {
    pub at: Nanos,
    pub action: Action,
    /// Index into the run's tenant names.
    pub tenant: u32,
    pub throttled: bool,
    /// Drawn on a filtered bucket (a describe that names a filter), not the unfiltered one.
    pub filtered: bool,
    /// An admitted call that failed with a server error (the profile's error probability).
    pub failed: bool,
}
