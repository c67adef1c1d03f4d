//! The table as [`Store::finish`](super::table::Store) leaves it: every column built but
//! five kept compact — the two ids (`request_id`, `event_id`: 16 bytes a row as `u128`
//! against ~52 as strings) and the three tags (a few rows have them). Built whole into a
//! DataFrame ([`FinishedTable::into_dataframe`]), or a row group at a time straight into
//! Parquet ([`FinishedTable::write_parquet`]): then the ids are never strings all at once,
//! which is what keeps `trace ingest -o` of two million records under 500 MB. Both give the
//! same bytes (`write_parquet` of the DataFrame is the reference; tests below).

use std::path::Path;

use polars::prelude::*;

use super::error::TraceError;
use super::table::{
    cat_column_of, cat_dtype, in_table_order, parquet_writer, string_column, write_parquet_with,
    Cats, IdCol, DEFERRED, NONE, ROW_GROUP,
};

/// A table whose [`DEFERRED`] columns are still compact.
pub(crate) struct FinishedTable {
    /// Every other column, in row order.
    pub(crate) main: DataFrame,
    /// The store's row of each table row.
    pub(crate) order: Vec<u32>,
    pub(crate) request: IdCol,
    pub(crate) event: IdCol,
    /// (store row, NodeENI, node, subnet codes), by store row.
    pub(crate) tags: Vec<(u32, [u32; 3])>,
    /// The tag dictionaries' categories; `None` when no row has a tag (null columns).
    pub(crate) tag_cats: Option<[Cats; 3]>,
}

/// The row groups polars' `ParquetWriter::finish` cuts a one-chunk table of `height` rows
/// into (polars-core `chunk_df_for_writing`, `split_df_as_ref`): under two groups' worth,
/// one; else `n = height / size` groups, the first `n − 1` of `height / n` rows and the rest
/// in the last. (start, length) each.
fn row_groups(height: usize, size: usize) -> Vec<(usize, usize)> {
    let n = height / size.max(1);
    if height == 0 {
        return Vec::new();
    }
    if n <= 1 {
        return vec![(0, height)];
    }
    let each = height / n;
    let mut out: Vec<(usize, usize)> = (0..n - 1).map(|k| (k * each, each)).collect();
    out.push(((n - 1) * each, height - (n - 1) * each));
    out
}

impl FinishedTable {
    pub(crate) fn height(&self) -> usize {
        self.main.height()
    }

    /// Tag column `k` (0 NodeENI, 1 node, 2 subnet) for table rows `rows` (store rows).
    fn tag_column(&self, k: usize, rows: &[u32], pad: usize) -> Column {
        let name = DEFERRED[k];
        let Some(cats) = &self.tag_cats else {
            // No Create carried the tags (older or non-controller trails): a null column
            // that costs nothing until it is written.
            return Column::full_null(name.into(), rows.len(), &cat_dtype());
        };
        let codes = rows
            .iter()
            .map(|r| match self.tags.binary_search_by_key(r, |t| t.0) {
                Ok(i) => self.tags[i].1[k],
                Err(_) => NONE,
            });
        cat_column_of(name, codes, &cats[k], pad)
    }

    /// The whole table, the ids built one at a time (each freed as its column is made).
    pub(crate) fn into_dataframe(mut self) -> Result<DataFrame, TraceError> {
        let rows = self.height();
        let order = std::mem::take(&mut self.order);
        let mut cols = std::mem::take(&mut self.main).into_columns();
        cols.push(string_column("request_id", &order, &self.request, 0));
        self.request = IdCol::default();
        cols.push(string_column("event_id", &order, &self.event, 0));
        self.event = IdCol::default();
        for k in 0..3 {
            cols.push(self.tag_column(k, &order, 0));
        }
        in_table_order(&mut cols);
        Ok(DataFrame::new(rows, cols)?)
    }

    /// Rows `start..start + len` as a DataFrame: slices of the built columns, the deferred
    /// ones made for those rows with their validity bits where a slice would have them.
    fn piece(&self, start: usize, len: usize) -> Result<DataFrame, TraceError> {
        let rows = &self.order[start..start + len];
        let pad = start % 8;
        let mut cols = self.main.slice(start as i64, len).into_columns();
        cols.push(string_column("request_id", rows, &self.request, pad));
        cols.push(string_column("event_id", rows, &self.event, pad));
        for k in 0..3 {
            cols.push(self.tag_column(k, rows, pad));
        }
        in_table_order(&mut cols);
        Ok(DataFrame::new(len, cols)?)
    }

    /// Writes the table as [`write_parquet`](super::write_parquet) writes its DataFrame —
    /// the same bytes — one row group at a time.
    pub(crate) fn write_parquet(&self, path: &Path) -> Result<(), TraceError> {
        self.write_parquet_rows(path, ROW_GROUP)
    }

    pub(crate) fn write_parquet_rows(
        &self,
        path: &Path,
        row_group: usize,
    ) -> Result<(), TraceError> {
        let schema = self.piece(0, 0)?.schema().as_ref().clone();
        write_parquet_with(path, |file| {
            let mut w = parquet_writer(file, row_group).batched(&schema)?;
            for (start, len) in row_groups(self.height(), row_group) {
                w.write_batch(&self.piece(start, len)?)?;
            }
            w.finish()?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::table::write_parquet_rows;
    use crate::trace::{
        example_workload, ingest_table_with_progress, synth, IngestOptions, SynthOptions,
    };
    use std::path::PathBuf;

    fn table_of(paths: &[PathBuf]) -> FinishedTable {
        let opts = IngestOptions {
            max_issues: 3,
            ..IngestOptions::default()
        };
        ingest_table_with_progress(paths, &opts, &mut |_| {})
            .unwrap()
            .table
    }

    /// Row group by row group gives the bytes `write_parquet` gives for the whole
    /// DataFrame: with the controller's tags and without, ids missing or not canonical
    /// (the fixtures' odd shapes), row groups starting off a byte of validity bits, one
    /// group, a group and a half, many.
    #[test]
    fn written_a_row_group_at_a_time_the_bytes_are_the_dataframes() {
        let dir = tempfile::tempdir().unwrap();
        let trail = dir.path().join("trail");
        let opts = SynthOptions {
            seed: 3,
            ..SynthOptions::default()
        };
        synth(&example_workload(3_000, 3), &opts, &trail).unwrap();
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cloudtrail");
        // Records without a requestID, with ids that are not canonical UUIDs, several to a
        // second.
        let odd = dir.path().join("odd.json");
        let records: Vec<String> = (0..300u64)
            .map(|i| {
                let request = match (i % 37, i % 53) {
                    (0, _) => String::new(),
                    (_, 0) => format!(r#","requestID":"r-{i}""#),
                    _ => format!(r#","requestID":"{i:08x}-0000-4000-8000-{i:012x}""#),
                };
                let event = if i % 41 == 0 {
                    format!("E-{i}")
                } else {
                    format!("{:08x}-1111-4000-8000-{i:012x}", i + 7)
                };
                format!(
                    r#"{{"eventVersion":"1.09","userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/r/s","accountId":"1"}},"eventTime":"2024-05-01T10:{:02}:{:02}Z","eventSource":"ec2.amazonaws.com","eventName":"DescribeNetworkInterfaces","awsRegion":"us-east-1","userAgent":"x"{request},"eventID":"{event}","recipientAccountId":"1"}}"#,
                    i / 4 / 60,
                    i / 4 % 60
                )
            })
            .collect();
        std::fs::write(&odd, format!(r#"{{"Records":[{}]}}"#, records.join(","))).unwrap();
        let inputs = [vec![trail, fixtures, odd.clone()], vec![odd]];
        let mut tagged = [false; 2];
        for (i, paths) in inputs.iter().enumerate() {
            let table = table_of(paths);
            tagged[i] = table.tag_cats.is_some();
            let n = table.height();
            let df = table_of(paths).into_dataframe().unwrap();
            assert_eq!(df.height(), n);
            assert!(
                df.column("request_id").unwrap().null_count() > 0,
                "some records have no requestID"
            );
            for rg in [7, 100, n / 2 + 1, n, 1 << 16] {
                let a = dir.path().join(format!("df-{i}-{rg}.parquet"));
                let b = dir.path().join(format!("rg-{i}-{rg}.parquet"));
                write_parquet_rows(&df, &a, rg).unwrap();
                table.write_parquet_rows(&b, rg).unwrap();
                let (a, b) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
                assert!(
                    a == b,
                    "{i}: row groups of {rg}: {} vs {} bytes",
                    a.len(),
                    b.len()
                );
            }
        }
        assert_eq!(tagged, [true, false], "both kinds of trail are covered");
    }

    #[test]
    fn row_groups_cover_the_table_as_polars_cuts_it() {
        assert_eq!(row_groups(0, 10), vec![]);
        assert_eq!(row_groups(7, 10), vec![(0, 7)]);
        assert_eq!(row_groups(19, 10), vec![(0, 19)]);
        assert_eq!(row_groups(20, 10), vec![(0, 10), (10, 10)]);
        assert_eq!(row_groups(29, 10), vec![(0, 14), (14, 15)]);
        assert_eq!(row_groups(2_000_000, 1 << 16).len(), 30);
    }
}
