//! The journal: an append-only CSV of finished (point, replication) runs in the output
//! directory, one line per run, written and flushed as each run finishes. It is what
//! `--resume` continues from and what `merge` joins; the tables are made from it.
//!
//! Floats are written with Rust's shortest round-trip formatting, so reading the journal
//! back gives the very values the runs produced and every table made from it is the same
//! whichever machine, thread count or interruption produced the lines.

use super::SweepError;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One finished run: its metrics (in the sweep's metric order), or why it failed.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub point: u32,
    pub replication: u32,
    pub seed: u64,
    pub outcome: Result<Vec<f64>, String>,
}

pub const FIXED_COLUMNS: [&str; 5] = ["point", "replication", "seed", "status", "error"];

pub fn header(metrics: &[String]) -> Vec<String> {
    FIXED_COLUMNS
        .iter()
        .map(|s| s.to_string())
        .chain(metrics.iter().cloned())
        .collect()
}

/// A float as the tables write it: shortest representation that reads back exactly.
pub fn fmt_f64(x: f64) -> String {
    format!("{x}")
}

impl RunRow {
    /// The row as one CSV line (with its newline). Errors are flattened to one line.
    pub fn to_line(&self, metrics: usize) -> String {
        let mut fields: Vec<String> = vec![
            self.point.to_string(),
            self.replication.to_string(),
            self.seed.to_string(),
        ];
        match &self.outcome {
            Ok(values) => {
                fields.push("ok".into());
                fields.push(String::new());
                fields.extend(values.iter().map(|x| fmt_f64(*x)));
            }
            Err(e) => {
                fields.push("error".into());
                fields.push(e.replace(['\n', '\r'], " "));
                fields.extend(std::iter::repeat_n(String::new(), metrics));
            }
        }
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        let _ = w.write_record(&fields);
        String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
    }
}

fn header_line(metrics: &[String]) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let _ = w.write_record(header(metrics));
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// The rows of a journal file. A last line without its newline (a write cut short by an
/// interruption) is not a row; `complete_len` is the length of the file up to the last
/// complete line, where appending continues.
pub struct JournalContents {
    pub rows: Vec<RunRow>,
    pub complete_len: u64,
}

pub fn read(path: &Path, metrics: &[String]) -> Result<JournalContents, SweepError> {
    let bytes = std::fs::read(path)
        .map_err(|e| SweepError::Io(format!("{}: cannot read: {e}", path.display())))?;
    let complete_len = bytes
        .iter()
        .rposition(|b| *b == b'\n')
        .map(|i| i + 1)
        .unwrap_or(0);
    let bytes = &bytes[..complete_len];
    let bad = |line: usize, m: String| SweepError::Input(format!("{}:{line}: {m}", path.display()));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut rows = Vec::new();
    let want = header(metrics);
    for (i, rec) in reader.records().enumerate() {
        let line = i + 1;
        let rec = rec.map_err(|e| bad(line, format!("malformed journal line: {e}")))?;
        if i == 0 {
            if rec.iter().ne(want.iter().map(|s| s.as_str())) {
                return Err(bad(
                    1,
                    "the journal's columns are not this enisim's metrics (written by another version?)"
                        .into(),
                ));
            }
            continue;
        }
        if rec.len() != want.len() {
            return Err(bad(
                line,
                format!("{} fields, expected {}", rec.len(), want.len()),
            ));
        }
        let int = |j: usize| -> Result<u64, SweepError> {
            rec[j].parse::<u64>().map_err(|_| {
                bad(
                    line,
                    format!("{}: not a whole number: {:?}", want[j], &rec[j]),
                )
            })
        };
        let point = int(0)? as u32;
        let replication = int(1)? as u32;
        let seed = int(2)?;
        let outcome = match &rec[3] {
            "ok" => {
                let mut values = Vec::with_capacity(metrics.len());
                for j in FIXED_COLUMNS.len()..rec.len() {
                    values.push(rec[j].parse::<f64>().map_err(|_| {
                        bad(line, format!("{}: not a number: {:?}", want[j], &rec[j]))
                    })?);
                }
                Ok(values)
            }
            "error" => Err(rec[4].to_string()),
            other => return Err(bad(line, format!("status {other:?}, expected ok or error"))),
        };
        rows.push(RunRow {
            point,
            replication,
            seed,
            outcome,
        });
    }
    Ok(JournalContents {
        rows,
        complete_len: complete_len as u64,
    })
}

/// An open journal, appended to line by line.
pub struct Journal {
    file: std::fs::File,
    path: PathBuf,
    metrics: usize,
}

impl Journal {
    /// Creates a journal with its header (replacing any file at `path`).
    pub fn create(path: &Path, metrics: &[String]) -> Result<Journal, SweepError> {
        let mut file = std::fs::File::create(path)
            .map_err(|e| SweepError::Io(format!("{}: cannot create: {e}", path.display())))?;
        file.write_all(header_line(metrics).as_bytes())
            .and_then(|_| file.sync_data())
            .map_err(|e| SweepError::Io(format!("{}: {e}", path.display())))?;
        Ok(Journal {
            file,
            path: path.to_path_buf(),
            metrics: metrics.len(),
        })
    }

    /// Opens an existing journal for appending after its last complete line (dropping a
    /// line cut short by an interruption).
    pub fn append_after(
        path: &Path,
        complete_len: u64,
        metrics: &[String],
    ) -> Result<Journal, SweepError> {
        let io = |e: std::io::Error| SweepError::Io(format!("{}: {e}", path.display()));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io)?;
        file.set_len(complete_len).map_err(io)?;
        let mut j = Journal {
            file,
            path: path.to_path_buf(),
            metrics: metrics.len(),
        };
        if complete_len == 0 {
            j.file
                .write_all(header_line(metrics).as_bytes())
                .map_err(io)?;
        } else {
            use std::io::Seek;
            j.file.seek(std::io::SeekFrom::End(0)).map_err(io)?;
        }
        Ok(j)
    }

    /// Appends one row in a single write; the OS has it when this returns, so a killed
    /// process loses at most the run in progress.
    pub fn append(&mut self, row: &RunRow) -> Result<(), SweepError> {
        self.file
            .write_all(row.to_line(self.metrics).as_bytes())
            .and_then(|_| self.file.flush())
            .map_err(|e| SweepError::Io(format!("{}: {e}", self.path.display())))
    }
}

/// The journal's bytes with rows sorted by (point, replication), as left at the end.
pub fn sorted_bytes(rows: &[RunRow], metrics: &[String]) -> Vec<u8> {
    let mut out = header_line(metrics);
    for r in rows {
        out.push_str(&r.to_line(metrics.len()));
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_and_torn_lines_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.csv");
        let metrics = vec!["a".to_string(), "b_s".to_string()];
        let rows = vec![
            RunRow {
                point: 0,
                replication: 1,
                seed: u64::MAX,
                outcome: Ok(vec![0.1 + 0.2, 1e-300]),
            },
            RunRow {
                point: 2,
                replication: 0,
                seed: 5,
                outcome: Err("boom, \"quoted\"\nsecond line".into()),
            },
        ];
        let mut j = Journal::create(&path, &metrics).unwrap();
        for r in &rows {
            j.append(r).unwrap();
        }
        drop(j);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("3,0,9,ok,,1.5"); // cut short
        std::fs::write(&path, &text).unwrap();
        let back = read(&path, &metrics).unwrap();
        assert_eq!(back.rows[0], rows[0]);
        assert_eq!(
            back.rows[1].outcome,
            Err("boom, \"quoted\" second line".to_string())
        );
        assert_eq!(back.rows.len(), 2);
        let mut j = Journal::append_after(&path, back.complete_len, &metrics).unwrap();
        j.append(&rows[0]).unwrap();
        drop(j);
        let again = read(&path, &metrics).unwrap();
        assert_eq!(again.rows.len(), 3);
        assert!(read(&path, &["other".to_string()]).is_err());
    }
}
