//! The three shapes users hold, read one record at a time.
//!
//! * S3 delivery files: `{"Records":[…]}` (`.json` / `.json.gz`), also a bare JSON array of
//!   records or one record per line (`jq -c '.Records[]'`);
//! * `aws cloudtrail lookup-events` output: `{"Events":[{…, "CloudTrailEvent":"<JSON>"}]}`;
//! * CloudTrail Lake / Athena CSV exports (JSON-string columns; gzip allowed).
//!
//! Gzip is recognised by its magic bytes, the shape by the first non-blank byte (`{`/`[` →
//! JSON, else CSV) and, for JSON, by the top-level key. Memory stays bounded: a file is held
//! whole only up to [`SLURP_LIMIT`] bytes (faster parsing), larger ones are streamed.

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::error::{Location, RecordError, TraceError};
use super::record::{
    drain_map, drain_seq, normalise, Identity, IdentityCache, IdentitySource, Loose, Params, Raw,
    RecordKey, TraceRecord, WireRecord, WireSeed,
};
use super::time::parse_time_ns;

/// A file's shape. `IngestOptions::format` forces one; otherwise it is detected per file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TraceFormat {
    /// S3 delivery files `{"Records":[…]}` (also a bare array of records, or JSON lines).
    S3Records,
    /// `aws cloudtrail lookup-events` output `{"Events":[{"CloudTrailEvent": "…"}]}`.
    LookupEvents,
    /// A CloudWatch Logs export of a trail's log group: `aws logs filter-log-events` /
    /// `get-log-events` output `{"events":[{"timestamp":…,"message":"<record JSON>"}]}`, the
    /// export-to-S3 form, lines `<ISO timestamp> <record JSON>`, or `aws logs tail` lines
    /// `<timestamp> <log stream> <record JSON>`.
    CloudWatchLogs,
    /// CloudTrail Lake / Athena CSV export.
    Csv,
}

impl fmt::Display for TraceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TraceFormat::S3Records => "s3-records",
            TraceFormat::LookupEvents => "lookup-events",
            TraceFormat::CloudWatchLogs => "cloudwatch-logs",
            TraceFormat::Csv => "csv",
        })
    }
}

impl std::str::FromStr for TraceFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "s3" | "s3-records" | "records" => Ok(TraceFormat::S3Records),
            "lookup-events" | "lookup" | "events" => Ok(TraceFormat::LookupEvents),
            "cloudwatch-logs" | "cloudwatch" | "logs" | "cwl" => Ok(TraceFormat::CloudWatchLogs),
            "csv" | "lake" | "athena" => Ok(TraceFormat::Csv),
            other => Err(format!(
                "unknown trace format {other:?} (expected s3-records, lookup-events, cloudwatch-logs or csv)"
            )),
        }
    }
}

/// Files up to this size (decompressed) are parsed from memory; larger ones are streamed.
pub const SLURP_LIMIT: u64 = 32 << 20;

/// Receives every record of a file in order (its text borrowed from the file's buffer for the
/// call only). `Err` stops reading (strict mode).
pub(crate) type Sink<'a> =
    dyn for<'r> FnMut(u64, Option<u64>, Outcome<'r>) -> Result<(), TraceError> + 'a;

/// One record as read: usable, or what is wrong with it.
pub(crate) type Outcome<'r> = Result<TraceRecord<'r>, RecordError>;

/// What reading one file found.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileOutcome {
    pub format: Option<TraceFormat>,
    /// Non-fatal notes (e.g. CSV columns absent).
    pub warnings: Vec<String>,
}

/// What the given paths hold.
#[derive(Debug, Default)]
pub(crate) struct Expanded {
    /// Files to read, in order.
    pub files: Vec<PathBuf>,
    /// Files skipped: digests, CloudTrail Insights files, other names (counted together).
    pub ignored: u64,
    /// Of `ignored`: digest files (`CloudTrail-Digest/…`, `…Digest…`).
    pub digests: u64,
    /// Of `ignored`: CloudTrail Insights files (`CloudTrail-Insight/…`).
    pub insights: u64,
}

/// What a path's name says it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameKind {
    Trail,
    Digest,
    Insight,
    Other,
}

fn name_kind(path: &Path) -> NameKind {
    let comp = |want: &str| {
        path.components()
            .any(|c| c.as_os_str().to_string_lossy().eq_ignore_ascii_case(want))
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if comp("CloudTrail-Insight") || name.contains("cloudtrail-insight") {
        return NameKind::Insight;
    }
    if comp("CloudTrail-Digest") || name.contains("digest") {
        return NameKind::Digest;
    }
    if is_trace_file_name(&name) {
        NameKind::Trail
    } else {
        NameKind::Other
    }
}

/// Files found under the given paths (directories walked recursively, sorted by name),
/// and what was skipped. Digest and Insights files are skipped even when named on their own.
pub(crate) fn expand_paths(paths: &[PathBuf]) -> Result<Expanded, TraceError> {
    let mut out = Expanded::default();
    for p in paths {
        let md = std::fs::metadata(p).map_err(|e| TraceError::io(p, e))?;
        if md.is_dir() {
            walk(p, &mut out)?;
        } else {
            match name_kind(p) {
                NameKind::Digest => skip(&mut out, NameKind::Digest),
                NameKind::Insight => skip(&mut out, NameKind::Insight),
                // A file named on its own is read whatever its name.
                NameKind::Trail | NameKind::Other => out.files.push(p.clone()),
            }
        }
    }
    if out.files.is_empty() && out.ignored == 0 {
        return Err(TraceError::NoInput(paths.to_vec()));
    }
    Ok(out)
}

fn skip(out: &mut Expanded, kind: NameKind) {
    out.ignored += 1;
    match kind {
        NameKind::Digest => out.digests += 1,
        NameKind::Insight => out.insights += 1,
        NameKind::Trail | NameKind::Other => {}
    }
}

fn is_trace_file_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    if n.starts_with('.') || n == "result_sign.json" || n.contains("digest") {
        return false;
    }
    let n = n.strip_suffix(".gz").unwrap_or(&n);
    n.ends_with(".json")
        || n.ends_with(".jsonl")
        || n.ends_with(".ndjson")
        || n.ends_with(".csv")
        // CloudWatch Logs exports to S3: `…/<task>/<stream>/000000.gz`.
        || (name.ends_with(".gz") && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn walk(dir: &Path, out: &mut Expanded) -> Result<(), TraceError> {
    let rd = std::fs::read_dir(dir).map_err(|e| TraceError::io(dir, e))?;
    let mut entries = Vec::new();
    for e in rd {
        let e = e.map_err(|e| TraceError::io(dir, e))?;
        entries.push(e.path());
    }
    entries.sort();
    for p in entries {
        // Do not follow symlinked directories (no loops).
        let md = std::fs::symlink_metadata(&p).map_err(|e| TraceError::io(&p, e))?;
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
        let name = name.unwrap_or_default();
        if md.is_dir() {
            if name.starts_with('.') {
                continue;
            }
            walk(&p, out)?;
        } else {
            match name_kind(&p) {
                NameKind::Trail => out.files.push(p),
                kind => skip(out, kind),
            }
        }
    }
    Ok(())
}

fn malformed(path: &Path, record: Option<u64>, line: Option<u64>, detail: String) -> TraceError {
    TraceError::Malformed {
        at: Location {
            path: path.to_path_buf(),
            record,
            line,
        },
        detail,
    }
}

/// Opens a file, transparently decompressing gzip. Returns the reader, whether it was gzip,
/// and a hint of the decompressed size (the gzip trailer's ISIZE, or the file length).
fn open(path: &Path) -> Result<(Box<dyn Read>, bool, u64), TraceError> {
    let io_err = |e| TraceError::io(path, e);
    let mut f = File::open(path).map_err(io_err)?;
    let len = f.metadata().map_err(io_err)?.len();
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        match f.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err(e)),
        }
    }
    let gz = got == 2 && magic == [0x1f, 0x8b];
    let mut hint = len;
    if gz && len >= 18 {
        let mut isize = [0u8; 4];
        f.seek(SeekFrom::End(-4)).map_err(io_err)?;
        f.read_exact(&mut isize).map_err(io_err)?;
        hint = u64::from(u32::from_le_bytes(isize));
    }
    f.seek(SeekFrom::Start(0)).map_err(io_err)?;
    if gz {
        let gz = MultiGzDecoder::new(BufReader::with_capacity(128 << 10, f));
        Ok((Box::new(gz), true, hint))
    } else {
        Ok((Box::new(f), false, hint))
    }
}

const UTF8_BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// A read error after `records` records of a file: the file is malformed from there on.
fn read_failed(path: &Path, records: u64, e: &io::Error, gz: bool) -> TraceError {
    malformed(
        path,
        Some(records),
        None,
        format!(
            "{}; {records} record(s) read before it",
            read_error_detail(e, gz)
        ),
    )
}

fn read_error_detail(e: &io::Error, gz: bool) -> String {
    if gz {
        format!("gzip stream is truncated or corrupt ({e})")
    } else {
        format!("read error ({e})")
    }
}

/// Reads one file, calling `sink` for each record. Fatal problems (unreadable file, broken
/// JSON, truncated gzip, CSV without the needed columns) are returned as `Err`; records seen
/// before them were already delivered.
pub(crate) fn read_file(
    path: &Path,
    forced: Option<TraceFormat>,
    sink: &mut Sink<'_>,
    scratch: &mut Scratch,
) -> Result<FileOutcome, TraceError> {
    let (r, gz, hint) = open(path)?;
    read_from(path, r, gz, hint, forced, sink, scratch)
}

/// A read buffer reused from file to file. Bytes once zeroed stay initialised, so only its
/// growth is zeroed (`read_to_end` zeroes every fresh buffer, a measurable share of ingest).
pub(crate) struct Scratch {
    buf: Vec<u8>,
    /// Files larger than this (decompressed) are streamed: [`SLURP_LIMIT`].
    limit: usize,
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch::with_limit(usize::try_from(SLURP_LIMIT).unwrap_or(usize::MAX))
    }
}

impl Scratch {
    /// At least 3 bytes, so that a UTF-8 BOM is always seen whole.
    pub(crate) fn with_limit(limit: usize) -> Self {
        Scratch {
            buf: Vec::new(),
            limit: limit.max(UTF8_BOM.len()),
        }
    }

    /// Reads `r` into the buffer until EOF or the limit (`hint`: the expected size). Returns
    /// the bytes read, and the error that stopped reading early, if any.
    fn fill(&mut self, r: &mut dyn Read, hint: usize) -> (&[u8], Option<io::Error>) {
        let limit = self.limit;
        let buf = &mut self.buf;
        let first = hint.saturating_add(1).max(64 << 10).min(limit);
        if buf.len() < first {
            buf.resize(first, 0);
        }
        let mut filled = 0;
        let mut err = None;
        while filled < limit {
            if filled == buf.len() {
                let grown = buf.len().saturating_mul(2).min(limit);
                buf.resize(grown, 0);
            }
            match r.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        (&self.buf[..filled], err)
    }
}

/// Every record's outcome in a document, in order, and the error that stopped it early.
pub type DocumentOutcome = (
    Vec<Result<TraceRecord<'static>, RecordError>>,
    Option<TraceError>,
);

/// Parses a whole CloudTrail file held in memory (any shape, plain or gzip): every record's
/// outcome in order, and the error that stopped the file early, if any. The entry point the
/// document-level fuzz target exercises; never panics.
pub fn parse_document(bytes: &[u8], format: Option<TraceFormat>) -> DocumentOutcome {
    parse_document_with_limit(bytes, format, usize::MAX)
}

/// [`parse_document`], streaming the content past its first `slurp_limit` bytes (decompressed)
/// as `ingest` streams files larger than [`SLURP_LIMIT`]. Records come out the same whatever
/// the limit; the fuzz target checks that.
pub fn parse_document_with_limit(
    bytes: &[u8],
    format: Option<TraceFormat>,
    slurp_limit: usize,
) -> DocumentOutcome {
    let path = Path::new("<memory>");
    let gz = bytes.starts_with(&[0x1f, 0x8b]);
    let r: Box<dyn Read + '_> = if gz {
        Box::new(MultiGzDecoder::new(bytes))
    } else {
        Box::new(bytes)
    };
    let mut out = Vec::new();
    let mut sink = |_: u64, _: Option<u64>, r: Outcome<'_>| {
        out.push(r.map(TraceRecord::into_owned));
        Ok(())
    };
    let mut scratch =
        Scratch::with_limit(slurp_limit.min(usize::try_from(SLURP_LIMIT).unwrap_or(usize::MAX)));
    let err = read_from(
        path,
        r,
        gz,
        bytes.len() as u64,
        format,
        &mut sink,
        &mut scratch,
    )
    .err();
    (out, err)
}

/// The decompressed content: whole (up to [`SLURP_LIMIT`]), or its first part plus the rest
/// of the stream.
pub(crate) enum Content<'r> {
    Whole(&'r [u8]),
    Stream(Box<dyn BufRead + 'r>),
}

fn read_from(
    path: &Path,
    mut r: Box<dyn Read + '_>,
    gz: bool,
    hint: u64,
    forced: Option<TraceFormat>,
    sink: &mut Sink<'_>,
    scratch: &mut Scratch,
) -> Result<FileOutcome, TraceError> {
    let limit = scratch.limit;
    let hint = usize::try_from(hint).unwrap_or(usize::MAX);
    let (mut buf, mut read_err) = scratch.fill(&mut r, hint);
    // The first significant byte: after a UTF-8 BOM and blanks, which may fill more than the
    // buffer (they carry nothing, so a full buffer of them is dropped and reading goes on).
    let mut skip = if buf.starts_with(&UTF8_BOM) {
        UTF8_BOM.len()
    } else {
        0
    };
    let start = loop {
        if let Some(i) = buf[skip..].iter().position(|b| !b.is_ascii_whitespace()) {
            break Some(skip + i);
        }
        if buf.len() < limit || read_err.is_some() {
            break None;
        }
        (buf, read_err) = scratch.fill(&mut r, hint);
        skip = 0;
    };
    let Some(start) = start else {
        if let Some(e) = read_err {
            return Err(malformed(path, Some(0), None, read_error_detail(&e, gz)));
        }
        return Err(malformed(
            path,
            None,
            None,
            "empty file: no CloudTrail records (expected {\"Records\":[…]}, lookup-events JSON or a CSV export)"
                .into(),
        ));
    };
    let first = buf[start];
    let is_json = first == b'{' || first == b'[';
    let whole = buf.len() < limit || read_err.is_some();
    // A first line `<timestamp> {…`: a CloudWatch Logs export. Streamed, the head may not
    // hold that line whole: read it first.
    let mut head_line: Option<(Vec<u8>, Box<dyn BufRead + '_>)> = None;
    let is_lines = if is_json || !first.is_ascii_digit() {
        false
    } else if whole {
        is_log_line_export(&buf[start..])
    } else {
        let mut rest: Box<dyn BufRead + '_> = Box::new(BufReader::with_capacity(
            256 << 10,
            Cursor::new(&buf[start..]).chain(r),
        ));
        let mut line = Vec::new();
        let got = (&mut rest).take(1 << 20).read_until(b'\n', &mut line);
        if let Err(e) = got {
            read_err = Some(e);
        }
        let yes = is_log_line_export(&line);
        head_line = Some((line, rest));
        r = Box::new(io::empty());
        yes
    };
    let shape = |detail: String| TraceError::Shape {
        path: path.to_path_buf(),
        detail,
    };
    match (forced, is_json, is_lines) {
        (Some(TraceFormat::Csv), true, _) => {
            return Err(shape("format csv was forced but the file is JSON".into()))
        }
        (Some(TraceFormat::Csv), _, true) => {
            return Err(shape(
                "format csv was forced but the file is a CloudWatch Logs export (lines `<timestamp> <record JSON>`)".into(),
            ))
        }
        (Some(f @ (TraceFormat::S3Records | TraceFormat::LookupEvents)), false, _) => {
            return Err(shape(format!(
                "format {f} was forced but the file is not JSON"
            )))
        }
        (Some(TraceFormat::CloudWatchLogs), false, false) => {
            return Err(shape(
                "format cloudwatch-logs was forced but the file is neither JSON nor lines `<timestamp> <record JSON>`".into(),
            ))
        }
        _ => {}
    }
    let content = if let Some((line, rest)) = head_line {
        Content::Stream(Box::new(BufReader::new(Cursor::new(line).chain(rest))))
    } else if whole {
        Content::Whole(&buf[start..])
    } else {
        let head = Cursor::new(&buf[start..]);
        Content::Stream(Box::new(BufReader::with_capacity(256 << 10, head.chain(r))))
    };
    if is_json {
        read_json(path, content, read_err, gz, forced, sink)
    } else if is_lines {
        read_log_lines(path, content, read_err, gz, sink)
    } else {
        read_csv(path, content, read_err, gz, sink)
    }
}

// ---------------------------------------------------------------------------------------
// CloudWatch Logs exported to S3: lines `<ISO timestamp> <message>`

/// The first line is `<ISO 8601 timestamp> {…` (a CloudWatch Logs export to S3 of a trail's
/// log group) or `<timestamp> <log stream> {…` (`aws logs tail`).
fn is_log_line_export(buf: &[u8]) -> bool {
    let line = buf.split(|&b| b == b'\n').next().unwrap_or_default();
    log_line_json(line).is_some_and(|(ts, _)| {
        ts.len() <= 40 && std::str::from_utf8(ts).is_ok_and(|t| parse_time_ns(t).is_ok())
    })
}

/// Splits `<timestamp> [<log stream>] {…}` into the timestamp and the JSON.
fn log_line_json(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let sp = line.iter().position(|&b| b == b' ')?;
    let (ts, rest) = line.split_at(sp);
    let rest = rest.trim_ascii_start();
    if rest.first() == Some(&b'{') {
        return Some((ts, rest));
    }
    // `aws logs tail`: a log stream name (no blank, no brace) before the message.
    let sp = rest.iter().position(|&b| b == b' ')?;
    let (stream, msg) = rest.split_at(sp);
    let msg = msg.trim_ascii_start();
    (!stream.contains(&b'{') && msg.first() == Some(&b'{')).then_some((ts, msg))
}

/// One exported line: its record, or why it is not one.
fn log_line_record<'r>(line: &'r [u8], cache: &mut IdentityCache) -> Outcome<'r> {
    let text = std::str::from_utf8(line).map_err(|e| RecordError::BadValue {
        field: "line",
        value: String::from_utf8_lossy(line).chars().take(40).collect(),
        reason: format!("not UTF-8: {e}"),
    })?;
    let Some((_, json)) = log_line_json(text.as_bytes()) else {
        return Err(RecordError::Json(
            "CloudWatch Logs export line: expected `<timestamp> <record JSON>`".into(),
        ));
    };
    // `json` is a suffix of `text` starting at an ASCII `{`.
    let json = text
        .get(text.len().saturating_sub(json.len())..)
        .unwrap_or_default();
    let mut de = serde_json::Deserializer::from_str(json.trim());
    let wire = WireSeed { borrow: true }
        .deserialize(&mut de)
        .and_then(|w| de.end().map(|()| w))
        .map_err(|e| RecordError::Json(format!("CloudWatch Logs message: {e}")))?;
    normalise(wire, cache)
}

fn read_log_lines(
    path: &Path,
    content: Content<'_>,
    read_err: Option<io::Error>,
    gz: bool,
    sink: &mut Sink<'_>,
) -> Result<FileOutcome, TraceError> {
    let mut cache = IdentityCache::default();
    let mut idx: u64 = 0;
    let mut emit = |line_no: u64, line: &[u8], idx: &mut u64| -> Result<(), TraceError> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.trim_ascii().is_empty() {
            return Ok(());
        }
        let r = log_line_record(line, &mut cache);
        sink(*idx, Some(line_no), r)?;
        *idx += 1;
        Ok(())
    };
    match content {
        Content::Whole(buf) => {
            for (n, line) in buf.split(|&b| b == b'\n').enumerate() {
                emit(n as u64 + 1, line, &mut idx)?;
            }
        }
        Content::Stream(mut r) => {
            let mut line = Vec::new();
            let mut n = 0u64;
            loop {
                line.clear();
                match r.read_until(b'\n', &mut line) {
                    Ok(0) => break,
                    Ok(_) => {
                        n += 1;
                        let l = line.strip_suffix(b"\n").unwrap_or(&line);
                        emit(n, l, &mut idx)?;
                    }
                    Err(e) => {
                        return Err(malformed(
                            path,
                            Some(idx),
                            Some(n + 1),
                            format!(
                                "{}; {idx} record(s) read before it",
                                read_error_detail(&e, gz)
                            ),
                        ))
                    }
                }
            }
        }
    }
    if let Some(e) = read_err {
        return Err(read_failed(path, idx, &e, gz));
    }
    Ok(FileOutcome {
        format: Some(TraceFormat::CloudWatchLogs),
        warnings: Vec::new(),
    })
}

// ---------------------------------------------------------------------------------------
// JSON shapes

struct Ctx<'s, 'k> {
    sink: &'s mut Sink<'k>,
    expect: Option<TraceFormat>,
    seen: Option<TraceFormat>,
    next: u64,
    stop: Option<TraceError>,
    path: &'s Path,
    /// The input is held in memory: records may borrow from it.
    borrow: bool,
    cache: IdentityCache,
    /// Bytes serde_json scanned to locate values (see [`parse_json_values`]).
    position_scan: u64,
}

impl Ctx<'_, '_> {
    fn emit<E: de::Error>(&mut self, r: Outcome<'_>) -> Result<(), E> {
        let idx = self.next;
        self.next += 1;
        match (self.sink)(idx, None, r) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.stop = Some(e);
                Err(E::custom("stopped by sink"))
            }
        }
    }

    fn see<E: de::Error>(&mut self, f: TraceFormat) -> Result<(), E> {
        if let Some(exp) = self.expect {
            if exp != f {
                self.stop = Some(TraceError::Shape {
                    path: self.path.to_path_buf(),
                    detail: format!("format {exp} was forced but the file is {f}"),
                });
                return Err(E::custom("shape mismatch"));
            }
        }
        if let Some(prev) = self.seen {
            if prev != f {
                self.stop = Some(TraceError::Shape {
                    path: self.path.to_path_buf(),
                    detail: format!("file mixes {prev} and {f} content"),
                });
                return Err(E::custom("shape mismatch"));
            }
        }
        self.seen = Some(f);
        Ok(())
    }
}

enum DocKey {
    Records,
    Events,
    /// `events` of `aws logs filter-log-events` / `get-log-events`.
    LogEvents,
    /// `results` of a CloudWatch Logs Insights query (`aws logs get-query-results`).
    LogQueryResults,
    /// A key that belongs to a CloudTrail record: the object is itself a record.
    Record(RecordKey),
    Other,
}

struct DocKeySeed;

impl<'de> DeserializeSeed<'de> for DocKeySeed {
    type Value = DocKey;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<DocKey, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DocKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DocKey, E> {
                Ok(match v {
                    "Records" => DocKey::Records,
                    "Events" => DocKey::Events,
                    "events" => DocKey::LogEvents,
                    "results" => DocKey::LogQueryResults,
                    "eventVersion" | "sourceIPAddress" => DocKey::Record(RecordKey::Other),
                    _ => match RecordKey::from_name(v) {
                        RecordKey::Other => DocKey::Other,
                        k => DocKey::Record(k),
                    },
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

/// One top-level JSON value: a `{"Records"|"Events": […]}` document, a bare record (JSON
/// lines) or an array of records.
struct DocSeed<'c, 's, 'k> {
    ctx: &'c mut Ctx<'s, 'k>,
}

impl<'de> DeserializeSeed<'de> for DocSeed<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DocSeed<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a CloudTrail JSON document")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let ctx = self.ctx;
        let mut found_array = false;
        while let Some(k) = map.next_key_seed(DocKeySeed)? {
            match k {
                DocKey::Records => {
                    ctx.see(TraceFormat::S3Records)?;
                    found_array = true;
                    map.next_value_seed(ArraySeed {
                        ctx: &mut *ctx,
                        events: None,
                    })?;
                }
                DocKey::Events => {
                    ctx.see(TraceFormat::LookupEvents)?;
                    found_array = true;
                    map.next_value_seed(ArraySeed {
                        ctx: &mut *ctx,
                        events: Some(EventSeed::LOOKUP),
                    })?;
                }
                DocKey::LogEvents => {
                    ctx.see(TraceFormat::CloudWatchLogs)?;
                    found_array = true;
                    map.next_value_seed(ArraySeed {
                        ctx: &mut *ctx,
                        events: Some(EventSeed::LOGS),
                    })?;
                }
                DocKey::LogQueryResults if !found_array => {
                    ctx.stop = Some(TraceError::Shape {
                        path: ctx.path.to_path_buf(),
                        detail: "this looks like CloudWatch Logs Insights query results (\"results\"), which are not supported: export the trail's log group with `aws logs filter-log-events` (JSON) or to S3 (lines `<timestamp> <record JSON>`), or read the trail's S3 files".into(),
                    });
                    return Err(de::Error::custom("unsupported shape"));
                }
                DocKey::Record(rk) if !found_array => {
                    // A bare record (JSON lines, or one record per file).
                    ctx.see(TraceFormat::S3Records)?;
                    let w = WireRecord::finish_map(rk, map, ctx.borrow)?;
                    let r = normalise(w, &mut ctx.cache);
                    return ctx.emit(r);
                }
                DocKey::Record(_) | DocKey::Other | DocKey::LogQueryResults => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !found_array {
            ctx.stop = Some(TraceError::Shape {
                path: ctx.path.to_path_buf(),
                detail: "JSON object has neither a \"Records\" nor an \"Events\" (lookup-events) nor an \"events\" (CloudWatch Logs) array nor CloudTrail record fields".into(),
            });
            return Err(de::Error::custom("no records"));
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        self.ctx.see(TraceFormat::S3Records)?;
        ArraySeed {
            ctx: self.ctx,
            events: None,
        }
        .visit_seq(seq)
    }
}

struct ArraySeed<'c, 's, 'k> {
    ctx: &'c mut Ctx<'s, 'k>,
    /// Elements are events wrapping a record as a JSON string (`None`: records).
    events: Option<EventSeed>,
}

impl<'de> DeserializeSeed<'de> for ArraySeed<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ArraySeed<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of CloudTrail records")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(()) // "Records": null
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let ctx = self.ctx;
        if let Some(seed) = self.events {
            while let Some(parts) = seq.next_element_seed(seed)? {
                event_record(parts, seed, ctx)?;
            }
        } else {
            let seed = WireSeed { borrow: ctx.borrow };
            while let Some(w) = seq.next_element_seed(seed)? {
                let r = normalise(w, &mut ctx.cache);
                ctx.emit(r)?;
            }
        }
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        drain_map(map)?;
        self.ctx.stop = Some(TraceError::Shape {
            path: self.ctx.path.to_path_buf(),
            detail: "\"Records\"/\"Events\" is an object, expected an array".into(),
        });
        Err(de::Error::custom("not an array"))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.ctx.stop = Some(TraceError::Shape {
            path: self.ctx.path.to_path_buf(),
            detail: "\"Records\"/\"Events\" is a string, expected an array".into(),
        });
        Err(E::custom("not an array"))
    }
}

/// One element of `Events` (lookup-events: its `CloudTrailEvent` string holds the record) or
/// of `events` (CloudWatch Logs: its `message`).
#[derive(Clone, Copy)]
struct EventSeed {
    /// The key of the record's JSON string.
    record_key: &'static str,
    /// The key of an id that stands in for a missing `eventID`.
    id_key: Option<&'static str>,
}

impl EventSeed {
    const LOOKUP: EventSeed = EventSeed {
        record_key: "CloudTrailEvent",
        id_key: Some("EventId"),
    };
    const LOGS: EventSeed = EventSeed {
        record_key: "message",
        id_key: None,
    };
}

/// An `Events` element: its `CloudTrailEvent` and `EventId`, or what it was instead.
type EventParts<'de> = Result<(Loose<'de>, Loose<'de>), RecordError>;

impl<'de> DeserializeSeed<'de> for EventSeed {
    type Value = EventParts<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EventSeed {
    type Value = EventParts<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a lookup-events event object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut ct = Loose::Null;
        let mut outer_id = Loose::Null;
        while let Some(k) = map.next_key::<String>()? {
            if k == self.record_key {
                ct = map.next_value()?;
            } else if Some(k.as_str()) == self.id_key {
                outer_id = map.next_value()?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Ok((ct, outer_id)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        drain_seq(seq)?;
        Ok(Err(not_event("array")))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Err(not_event("string")))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Err(not_event("boolean")))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Err(not_event("number")))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Err(not_event("number")))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Err(not_event("number")))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Err(not_event("null")))
    }
}

fn not_event(found: &'static str) -> RecordError {
    RecordError::WrongType {
        field: "event",
        expected: "object",
        found,
    }
}

/// Reads the record inside a `lookup-events` event and emits it.
fn event_record<E: de::Error>(
    parts: EventParts<'_>,
    seed: EventSeed,
    ctx: &mut Ctx<'_, '_>,
) -> Result<(), E> {
    let r = event_parts(parts, seed.record_key, |wire| {
        let r = normalise(wire, &mut ctx.cache);
        ctx.emit(r)
    });
    match r {
        Ok(emitted) => emitted,
        Err(e) => ctx.emit(Err(e)),
    }
}

/// Hands the wire record inside an event to `then` (it borrows the event's text).
fn event_parts<T>(
    parts: EventParts<'_>,
    key: &'static str,
    then: impl FnOnce(WireRecord<'_>) -> T,
) -> Result<T, RecordError> {
    let (ct, outer_id) = parts?;
    let text = match ct {
        Loose::Str(s) => s,
        Loose::Null => return Err(RecordError::MissingField(key)),
        Loose::Other(found) => {
            return Err(RecordError::WrongType {
                field: key,
                expected: "string",
                found,
            })
        }
    };
    let mut de = serde_json::Deserializer::from_str(&text);
    let mut wire = WireSeed { borrow: true }
        .deserialize(&mut de)
        .and_then(|w| de.end().map(|()| w))
        .map_err(|e| RecordError::Json(format!("{key}: {e}")))?;
    if matches!(wire.event_id, Loose::Null) {
        wire.event_id = outer_id;
    }
    Ok(then(wire))
}

/// Where a deserializer's input starts in the file: errors it reports are relative to it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Base {
    /// Lines before the deserializer's first byte.
    lines: usize,
    /// Bytes on the deserializer's first line that precede it.
    columns: usize,
}

impl Base {
    /// A position (1-based line, column) reported by the deserializer, in file terms.
    fn apply(self, line: usize, column: usize) -> (usize, usize) {
        if line <= 1 {
            (self.lines + 1, self.columns + column)
        } else {
            (self.lines + line, column)
        }
    }
}

/// A JSON error, and where its deserializer's input started.
struct JsonFail {
    err: serde_json::Error,
    base: Base,
}

/// Every top-level value of a streamed document (one deserializer; its reader tracks line
/// and column as it goes, so `end()` is cheap).
fn parse_json_stream<'de, R: serde_json::de::Read<'de>>(
    de: &mut serde_json::Deserializer<R>,
    ctx: &mut Ctx<'_, '_>,
) -> Result<(), serde_json::Error> {
    loop {
        if de.end().is_ok() {
            return Ok(());
        }
        DocSeed { ctx: &mut *ctx }.deserialize(&mut *de)?;
    }
}

/// Every top-level value of a document held in memory (`{"Records":[…]}` is one value, JSON
/// lines are many), in linear time.
///
/// serde_json's in-memory readers locate an error by scanning their input from its first
/// byte, and `Deserializer::end` reports "more values follow" as such an error: one
/// deserializer over a whole JSON-lines file scanned the file once per record (quadratic:
/// 14,500 records took 9 s). Here each value gets a deserializer that starts where the value
/// starts, so the scan behind `end` covers that value only. The next value's offset is read
/// back from the position `end` reports; should it ever not point at a value (another
/// serde_json), the current deserializer simply carries on (correct, only slower).
///
/// `make(offset)` builds a deserializer over the input from `offset` (`None` if `offset`
/// cannot start one). `ctx.position_scan` counts the bytes serde_json scanned to locate
/// values, so a test can check that the work stays linear.
fn parse_json_values<'de, R, F>(
    bytes: &[u8],
    mut make: F,
    ctx: &mut Ctx<'_, '_>,
) -> Result<(), JsonFail>
where
    R: serde_json::de::Read<'de>,
    F: FnMut(usize) -> Option<serde_json::Deserializer<R>>,
{
    let mut off = 0usize;
    let mut base = Base::default();
    let Some(mut de) = make(0) else {
        return Ok(());
    };
    loop {
        let Err(e) = de.end() else {
            return Ok(());
        };
        if e.classify() != serde_json::error::Category::Syntax {
            // An I/O error cannot happen in memory; report whatever it is.
            return Err(JsonFail { err: e, base });
        }
        DocSeed { ctx: &mut *ctx }
            .deserialize(&mut de)
            .map_err(|err| JsonFail { err, base })?;
        // Where does the next value (if any) start? `end` scans this value only.
        let Err(e) = de.end() else {
            return Ok(());
        };
        let (line, column) = (e.line(), e.column());
        let sub = bytes.get(off..).unwrap_or_default();
        let Some(i) = offset_of(sub, line, column) else {
            // Not a position this code understands: go on with the same deserializer.
            ctx.position_scan = ctx.position_scan.saturating_add(bytes.len() as u64);
            continue;
        };
        ctx.position_scan = ctx.position_scan.saturating_add(i as u64 + 1);
        let next_base = if line <= 1 {
            Base {
                lines: base.lines,
                columns: base.columns + i,
            }
        } else {
            Base {
                lines: base.lines + line - 1,
                columns: column.saturating_sub(1),
            }
        };
        match make(off + i) {
            Some(d) => {
                de = d;
                off += i;
                base = next_base;
            }
            None => continue,
        }
    }
}

/// The byte offset in `sub` of the 1-based (line, column) serde_json reports for the byte it
/// peeked at (`column` counts bytes from the line start, that byte included), if that byte
/// starts a value: not blank, not a UTF-8 continuation byte, not the first byte.
fn offset_of(sub: &[u8], line: usize, column: usize) -> Option<usize> {
    let mut start = 0usize;
    let mut seen = 1usize;
    while seen < line {
        let nl = sub.get(start..)?.iter().position(|&b| b == b'\n')?;
        start += nl + 1;
        seen += 1;
    }
    let i = start.checked_add(column)?.checked_sub(1)?;
    let b = *sub.get(i)?;
    let starts_value = i > 0 && !b.is_ascii_whitespace() && (b & 0xC0) != 0x80;
    starts_value.then_some(i)
}

fn read_json(
    path: &Path,
    content: Content<'_>,
    read_err: Option<io::Error>,
    gz: bool,
    forced: Option<TraceFormat>,
    sink: &mut Sink<'_>,
) -> Result<FileOutcome, TraceError> {
    let mut ctx = Ctx {
        sink,
        expect: forced,
        seen: None,
        next: 0,
        stop: None,
        path,
        borrow: matches!(content, Content::Whole(_)),
        cache: IdentityCache::default(),
        position_scan: 0,
    };
    let result = match content {
        // One (SIMD) UTF-8 check of the whole buffer is far cheaper than serde_json's check of
        // each string (`from_slice`); invalid UTF-8 falls back to it, so the error still names
        // the record.
        Content::Whole(buf) => match simdutf8::basic::from_utf8(buf) {
            Ok(text) => parse_json_values(
                buf,
                |o| text.get(o..).map(serde_json::Deserializer::from_str),
                &mut ctx,
            ),
            Err(_) => parse_json_values(
                buf,
                |o| buf.get(o..).map(serde_json::Deserializer::from_slice),
                &mut ctx,
            ),
        },
        Content::Stream(r) => {
            let mut de = serde_json::Deserializer::from_reader(r);
            parse_json_stream(&mut de, &mut ctx).map_err(|err| JsonFail {
                err,
                base: Base::default(),
            })
        }
    };
    json_outcome(path, &mut ctx, result, read_err, gz)
}

/// Turns the end of a JSON read into the file's outcome.
fn json_outcome(
    path: &Path,
    ctx: &mut Ctx<'_, '_>,
    result: Result<(), JsonFail>,
    read_err: Option<io::Error>,
    gz: bool,
) -> Result<FileOutcome, TraceError> {
    if let Some(stop) = ctx.stop.take() {
        return Err(stop);
    }
    let at = ctx.next;
    if let Some(e) = read_err {
        return Err(read_failed(path, at, &e, gz));
    }
    if let Err(JsonFail { err: e, base }) = result {
        let (line, column) = base.apply(e.line(), e.column());
        // serde_json's message names the position relative to the value's deserializer.
        let text = e.to_string();
        let own = format!(" at line {} column {}", e.line(), e.column());
        let msg = match text.strip_suffix(&own) {
            Some(bare) if e.line() > 0 => format!("{bare} at line {line} column {column}"),
            _ => text.clone(),
        };
        let line = Some(line as u64).filter(|_| e.line() > 0);
        let detail = match e.classify() {
            serde_json::error::Category::Io => read_error_detail(&io::Error::other(msg), gz),
            serde_json::error::Category::Eof => {
                format!("unexpected end of file inside record {at} (truncated?): {msg}")
            }
            _ => format!("invalid JSON in or after record {at}: {msg}"),
        };
        return Err(malformed(path, Some(at), line, detail));
    }
    Ok(FileOutcome {
        format: Some(ctx.seen.unwrap_or(TraceFormat::S3Records)),
        warnings: Vec::new(),
    })
}

// ---------------------------------------------------------------------------------------
// CSV exports

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum CsvCol {
    EventTime,
    EventSource,
    EventName,
    AwsRegion,
    RecipientAccountId,
    UserIdentity,
    IdentityArn,
    IdentityIssuerArn,
    IdentityAccountId,
    IdentityInvokedBy,
    IdentityPrincipalId,
    IdentityType,
    UserAgent,
    ErrorCode,
    RequestParameters,
    ResponseElements,
    RequestId,
    EventId,
    EventCategory,
}

fn csv_col(header: &str) -> Option<CsvCol> {
    let norm: String = header
        .trim()
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    Some(match norm.as_str() {
        "eventtime" => CsvCol::EventTime,
        "eventsource" => CsvCol::EventSource,
        "eventname" => CsvCol::EventName,
        "awsregion" => CsvCol::AwsRegion,
        "recipientaccountid" => CsvCol::RecipientAccountId,
        "useridentity" => CsvCol::UserIdentity,
        "useridentityarn" => CsvCol::IdentityArn,
        "useridentitysessioncontextsessionissuerarn" | "sessionissuerarn" => {
            CsvCol::IdentityIssuerArn
        }
        "useridentityaccountid" => CsvCol::IdentityAccountId,
        "useridentityinvokedby" => CsvCol::IdentityInvokedBy,
        "useridentityprincipalid" => CsvCol::IdentityPrincipalId,
        "useridentitytype" => CsvCol::IdentityType,
        "useragent" => CsvCol::UserAgent,
        "errorcode" => CsvCol::ErrorCode,
        "requestparameters" => CsvCol::RequestParameters,
        "responseelements" => CsvCol::ResponseElements,
        "requestid" => CsvCol::RequestId,
        "eventid" => CsvCol::EventId,
        "eventcategory" | "eventtype" => CsvCol::EventCategory,
        _ => return None,
    })
}

const CSV_REQUIRED: [(CsvCol, &str); 5] = [
    (CsvCol::EventTime, "eventtime"),
    (CsvCol::EventSource, "eventsource"),
    (CsvCol::EventName, "eventname"),
    (CsvCol::AwsRegion, "awsregion"),
    (CsvCol::EventId, "eventid"),
];

fn cell_loose(v: &str) -> Loose<'_> {
    if v.is_empty() {
        Loose::Null
    } else {
        Loose::Str(Cow::Borrowed(v))
    }
}

fn cell_opt(v: &str) -> Option<&str> {
    let t = v.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("null") {
        None
    } else {
        Some(t)
    }
}

fn read_csv(
    path: &Path,
    content: Content<'_>,
    read_err: Option<io::Error>,
    gz: bool,
    sink: &mut Sink<'_>,
) -> Result<FileOutcome, TraceError> {
    let r: Box<dyn Read + '_> = match content {
        Content::Whole(buf) => Box::new(Cursor::new(buf)),
        Content::Stream(r) => Box::new(r),
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(r);
    let headers = match rdr.byte_headers() {
        Ok(h) => h.clone(),
        Err(e) => return Err(csv_fatal(path, 0, None, e, gz)),
    };
    let mut cols: Vec<Option<CsvCol>> = Vec::with_capacity(headers.len());
    let mut names = Vec::with_capacity(headers.len());
    for h in headers.iter() {
        let name = String::from_utf8_lossy(h).into_owned();
        cols.push(csv_col(&name));
        names.push(name);
    }
    let has = |c: CsvCol| cols.contains(&Some(c));
    let missing: Vec<String> = CSV_REQUIRED
        .iter()
        .filter(|(c, _)| !has(*c))
        .map(|(_, n)| (*n).to_string())
        .collect();
    if !missing.is_empty() {
        return Err(TraceError::MissingColumns {
            path: path.to_path_buf(),
            missing,
            found: names,
        });
    }
    let mut warnings = Vec::new();
    for (c, n) in [
        (CsvCol::RequestParameters, "requestparameters"),
        (CsvCol::ResponseElements, "responseelements"),
        (CsvCol::UserAgent, "useragent"),
    ] {
        if !has(c) {
            warnings.push(format!(
                "{}: no {n} column; the fields it carries stay null",
                path.display()
            ));
        }
    }

    let mut rec = csv::ByteRecord::new();
    let mut cache = IdentityCache::default();
    let mut idx: u64 = 0;
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_fatal(path, idx, None, e, gz)),
        }
        let line = rec.position().map(|p| p.line());
        let res = csv_row(&rec, &cols, headers.len(), &mut cache);
        sink(idx, line, res)?;
        idx += 1;
    }
    if let Some(e) = read_err {
        return Err(read_failed(path, idx, &e, gz));
    }
    Ok(FileOutcome {
        format: Some(TraceFormat::Csv),
        warnings,
    })
}

fn csv_fatal(path: &Path, idx: u64, line: Option<u64>, e: csv::Error, gz: bool) -> TraceError {
    let line = line.or_else(|| e.position().map(|p| p.line()));
    let detail = match e.kind() {
        csv::ErrorKind::Io(ioe) => read_error_detail(ioe, gz),
        _ => format!("unreadable CSV: {e}"),
    };
    malformed(path, Some(idx), line, detail)
}

fn csv_row<'r>(
    rec: &'r csv::ByteRecord,
    cols: &[Option<CsvCol>],
    width: usize,
    cache: &mut IdentityCache,
) -> Outcome<'r> {
    if rec.len() != width {
        return Err(RecordError::BadValue {
            field: "row",
            value: format!("{} fields", rec.len()),
            reason: format!("the header has {width} columns"),
        });
    }
    let mut w = WireRecord::default();
    let mut ident_raw = None;
    let mut flat = Identity::default();
    let mut flat_arn = None;
    let mut flat_issuer = None;
    let mut flat_invoked = None;
    let mut flat_pid = None;
    let mut flat_type = None;
    for (cell, col) in rec.iter().zip(cols) {
        let Some(col) = col else { continue };
        let v = std::str::from_utf8(cell).map_err(|e| RecordError::BadValue {
            field: "row",
            value: String::from_utf8_lossy(cell).chars().take(40).collect(),
            reason: format!("not UTF-8: {e}"),
        })?;
        match col {
            CsvCol::EventTime => w.event_time = cell_loose(v),
            CsvCol::EventSource => w.event_source = cell_loose(v),
            CsvCol::EventName => w.event_name = cell_loose(v),
            CsvCol::AwsRegion => w.aws_region = cell_loose(v),
            CsvCol::RecipientAccountId => w.recipient_account_id = cell_loose(v),
            CsvCol::UserAgent => w.user_agent = cell_loose(v),
            CsvCol::ErrorCode => w.error_code = cell_loose(v),
            CsvCol::RequestId => w.request_id = cell_loose(v),
            CsvCol::EventId => w.event_id = cell_loose(v),
            CsvCol::EventCategory => {
                if v == "Insight" || v == "AwsCloudTrailInsight" {
                    w.insight = true;
                }
            }
            CsvCol::RequestParameters => w.request_parameters = cell_opt(v).map(Params::Text),
            CsvCol::ResponseElements => w.response_elements = cell_opt(v).map(Raw::Text),
            CsvCol::UserIdentity => ident_raw = cell_opt(v),
            CsvCol::IdentityArn => flat_arn = cell_opt(v),
            CsvCol::IdentityIssuerArn => flat_issuer = cell_opt(v),
            CsvCol::IdentityAccountId => flat.account = cell_opt(v).map(Cow::Borrowed),
            CsvCol::IdentityInvokedBy => flat_invoked = cell_opt(v),
            CsvCol::IdentityPrincipalId => flat_pid = cell_opt(v),
            CsvCol::IdentityType => flat_type = cell_opt(v),
        }
    }
    w.identity = match ident_raw {
        Some(t) => IdentitySource::Raw(Raw::Text(t)),
        None => {
            flat.principal = flat_issuer
                .or(flat_arn)
                .or(flat_invoked)
                .or(flat_pid)
                .or(flat_type)
                .map(Cow::Borrowed);
            IdentitySource::Flat(flat)
        }
    };
    normalise(w, cache)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(i: usize) -> String {
        format!(
            r#"{{"eventVersion":"1.09","eventTime":"2024-05-01T10:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"DeleteNetworkInterface","awsRegion":"us-east-1","eventID":"e{i}","requestParameters":{{"networkInterfaceId":"eni-{i}"}}}}"#
        )
    }

    /// Reads `text` from memory; returns (records, bytes scanned to locate values).
    fn scan(text: &str) -> (u64, u64, Option<TraceError>) {
        let mut n = 0u64;
        let mut sink = |_: u64, _: Option<u64>, r: Outcome<'_>| {
            assert!(r.is_ok(), "{r:?}");
            n += 1;
            Ok(())
        };
        let mut ctx = Ctx {
            sink: &mut sink,
            expect: None,
            seen: None,
            next: 0,
            stop: None,
            path: Path::new("<test>"),
            borrow: true,
            cache: IdentityCache::default(),
            position_scan: 0,
        };
        let r = parse_json_values(
            text.as_bytes(),
            |o| text.get(o..).map(serde_json::Deserializer::from_str),
            &mut ctx,
        );
        let scanned = ctx.position_scan;
        let err = json_outcome(Path::new("<test>"), &mut ctx, r, None, false).err();
        drop(ctx);
        (n, scanned, err)
    }

    /// JSON lines are read in linear time: locating the values scans each byte about once
    /// (one deserializer over the whole file scanned it once per record, n²/2 bytes).
    #[test]
    fn json_lines_are_located_in_linear_work() {
        for sep in ["\n", "\r\n", " ", "\n\n  ", ""] {
            let recs: Vec<String> = (0..2000).map(record).collect();
            let text = recs.join(sep) + "\n";
            let (n, scanned, err) = scan(&text);
            assert!(err.is_none(), "{err:?}");
            assert_eq!(n, 2000, "sep {sep:?}");
            assert!(
                scanned <= 2 * text.len() as u64,
                "sep {sep:?}: scanned {scanned} bytes for a {}-byte input",
                text.len()
            );
        }
        // One document: one value, nothing to locate.
        let doc = format!(r#"{{"Records":[{}]}}"#, record(1));
        assert_eq!(scan(&doc).0, 1);
    }

    /// An error in a later JSON line names the file's line and column, not the line
    /// within that value's own deserializer.
    #[test]
    fn errors_in_json_lines_name_the_file_position() {
        let text = format!("{}\n{}\n  {{\"eventTime\": tru}}\n", record(0), record(1));
        let (n, _, err) = scan(&text);
        assert_eq!(n, 2);
        let err = err.expect("an error");
        let msg = err.to_string();
        assert!(msg.contains("record 2"), "{msg}");
        assert!(msg.contains("at line 3 column"), "{msg}");
        assert_eq!(err.location().and_then(|l| l.line), Some(3));
        // On one line: the column counts from the line start.
        let text = format!("{} {{\"eventTime\": x}}", record(0));
        let (_, _, err) = scan(&text);
        let msg = err.expect("an error").to_string();
        let col = record(0).len() + 1 + "{\"eventTime\": x".len();
        assert!(msg.contains(&format!("at line 1 column {col}")), "{msg}");
    }
}
