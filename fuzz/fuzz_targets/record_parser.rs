//! Fuzz the CloudTrail record parser: one record's JSON (`parse_record`) and whole files in
//! any shape, plain or gzip (`parse_document`). Neither may panic, whatever the bytes, and a
//! file streamed from any point (as files over `SLURP_LIMIT` are) must give the same records
//! as the same file parsed from memory.
//!
//! `cargo +nightly fuzz run record_parser fuzz/corpus/record_parser fuzz/seeds -- -max_total_time=600`
#![no_main]

use enisim::trace::{parse_document, parse_document_with_limit, parse_record, TraceFormat};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_record(data);
    let (records, err) = parse_document(data, None);
    // Every record that parsed is a usable row: non-empty action and event id (CloudTrail
    // Insights events are flagged instead, and skipped by `ingest`).
    for r in records.iter().flatten().filter(|r| !r.insight) {
        assert!(!r.action.is_empty());
        assert!(!r.event_id.is_empty());
    }
    if let Some((&first, rest)) = data.split_first() {
        let forced = match first % 4 {
            0 => Some(TraceFormat::S3Records),
            1 => Some(TraceFormat::LookupEvents),
            2 => Some(TraceFormat::Csv),
            _ => None,
        };
        let _ = parse_document(rest, forced);
        // Streaming from byte `first` on gives the same records.
        let limit = usize::from(first) + 1;
        let (streamed, streamed_err) = parse_document_with_limit(data, None, limit);
        assert_eq!(records, streamed, "streamed from byte {limit}");
        assert_eq!(err.is_some(), streamed_err.is_some(), "streamed from byte {limit}");
    }
});
