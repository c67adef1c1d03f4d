//! Fuzz the CloudTrail record parser: one record's JSON (`parse_record`) and whole files in
//! any shape, plain or gzip (`parse_document`). Neither may panic, whatever the bytes.
//!
//! `cargo +nightly fuzz run record_parser -- -max_total_time=300`
#![no_main]

use enisim::trace::{parse_document, parse_record, TraceFormat};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_record(data);
    let (records, _err) = parse_document(data, None);
    // Every record that parsed is a usable row: non-empty action and event id.
    for r in records.into_iter().flatten() {
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
    }
});
