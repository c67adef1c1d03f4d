//! A recorded trail read once for a calibration: a table written by `trace ingest`, or
//! CloudTrail files ingested here, narrowed to one account and region — then seen two
//! ways from that one table: as the rows the workload is reconstructed from
//! ([`crate::workload::Trail`]) and as the calls the direct estimates and the moments are
//! computed on ([`Trail`]). Both views hold the same rows by construction.

use std::path::PathBuf;

use super::observed::Trail;
use crate::trace::IngestOptions;
use crate::workload::{self, Scope, WorkloadError};

/// The trail of a calibration, in both views.
#[derive(Clone)]
pub struct Recording {
    /// The table (narrowed to `scope`), with the files its records came from.
    pub table: workload::Trail,
    /// Its calls, as calibration reads them.
    pub calls: Trail,
    /// The account and region it was narrowed to (`None`: the only one there is).
    pub scope: Scope,
}

impl Recording {
    /// Reads `paths` (one `.parquet` table, or CloudTrail files and directories, ingested
    /// with `opts`) and narrows them to `scope`.
    pub fn load(
        paths: &[PathBuf],
        opts: &IngestOptions,
        scope: &Scope,
    ) -> Result<Recording, WorkloadError> {
        Recording::of(&workload::Trail::load_with(paths, opts)?, scope)
    }

    /// A trail already read (a table in memory: tests, simulated trails).
    pub fn of(table: &workload::Trail, scope: &Scope) -> Result<Recording, WorkloadError> {
        let table = table.scoped(scope)?;
        let calls = Trail::from_frame(&table.df)?;
        Ok(Recording {
            table,
            calls,
            scope: scope.clone(),
        })
    }

    /// What the user named (for messages and the profile's comments).
    pub fn name(&self) -> &str {
        &self.table.name
    }
}
