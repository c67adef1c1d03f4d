//! CloudTrail in, normalised tables out; synthetic CloudTrail out of a simulated run.
//!
//! * [`ingest`] reads S3 delivery files, `lookup-events` JSON and Lake/Athena CSV exports
//!   (plain or gzip, directory trees) with bounded memory into one polars `DataFrame`
//!   ([`COLUMNS`]), written by [`write_parquet`] — or, for `trace ingest -o`, straight to
//!   Parquet a row group at a time ([`ingest_table_with_progress`], the same bytes);
//! * [`stats`] summarises it per action and caller class (rates, errors, throttles, gaps
//!   between paired calls);
//! * [`synth`] writes a simulated run's EC2 calls as CloudTrail S3 delivery files.

mod caller;
mod error;
mod finished;
mod ingest;
mod params;
mod record;
mod source;
mod stats;
mod synth;
mod synth_table;
mod table;
mod time;

pub mod from_run;
pub use from_run::{
    synth_calls, synth_calls_with_enis, synth_run, synth_tenant_calls, VPC_CNI_USER_AGENT,
};

pub use caller::{
    CallerField, CallerRule, CallerRules, Pattern, CLASS_CONTROLLER, CLASS_OTHER, CLASS_VPC_CNI,
};
pub use error::{Location, RecordError, TraceError};
pub use ingest::{
    ingest, ingest_table_with_progress, ingest_with_progress, IngestIssue, IngestOptions,
    IngestProgress, IngestReport, Ingested, IngestedTable, RecognisedPrincipal,
};
pub use record::{parse_record, TraceRecord, EC2_EVENT_SOURCE};
pub use source::{
    parse_document, parse_document_with_limit, DocumentOutcome, TraceFormat, SLURP_LIMIT,
};
pub use stats::{lifecycle_rank, stats, ActionStats, GapKind, GapStats, StatsTable};
pub(crate) use stats::{str_col, StrCol, NULL as NULL_CODE};
pub use synth::{
    example_workload, synth, SynthCall, SynthOptions, SynthReport, DEFAULT_USER_AGENT,
    LEGACY_USER_AGENT,
};
pub use synth_table::synth_table;
pub use table::{
    bare_code, is_throttle_code, read_parquet, write_parquet, COLUMNS, THROTTLE_CODES,
};
pub use time::{format_time_s, parse_time_ns};
