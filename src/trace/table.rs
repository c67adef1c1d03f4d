//! The normalised table: a compact columnar store filled one record at a time, then
//! deduplicated, sorted, enriched (attachment → ENI, retry chains) and turned into polars
//! columns — all but the ids and tags, which [`FinishedTable`] builds whole or a row group
//! at a time.
//!
//! Memory per record while ingesting is ~100 bytes: low-cardinality and repeated strings are
//! interned (`u32` codes), event and request ids kept as `u128` when they are canonical UUIDs.
//! In the DataFrame, repeated strings are `Categorical` columns (dictionary-encoded in Parquet)
//! and the unique ids (`event_id`, `request_id`, `attachment_id`) plain strings.

use polars::prelude::PlHashMap as HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::path::Path;

use polars::prelude::*;

use super::caller::CallerRules;
use super::error::TraceError;
use super::finished::FinishedTable;
use super::params::hash_bytes;
use super::record::TraceRecord;

/// The table's columns, in order.
pub const COLUMNS: [&str; 24] = [
    "time",
    "action",
    "region",
    "account",
    "principal",
    "user_agent",
    "caller_class",
    "error_code",
    "throttled",
    "eni_id",
    "eni_ids",
    "attachment_id",
    "instance_id",
    "device_index",
    "subnet_id",
    "nodeeni",
    "node",
    "nodeeni_subnet",
    "request_id",
    "event_id",
    "retry_chain",
    "attempt",
    "file",
    "record",
];

pub(crate) const NONE: u32 = u32::MAX;

/// `code` through `map` (`NONE` stays `NONE`).
fn remapped(map: &[u32], code: u32) -> u32 {
    if code == NONE {
        NONE
    } else {
        map.get(code as usize).copied().unwrap_or(NONE)
    }
}

/// Interned strings; code = position. The strings live in one arena (a few large
/// allocations instead of one per string, so memory is returned when the table is built).
#[derive(Default)]
pub(crate) struct Interner {
    arena: String,
    spans: Vec<(u32, u32)>,
    /// hash → code; a (practically impossible) 64-bit hash collision goes to `collided`.
    by_hash: HashMap<u64, u32>,
    collided: HashMap<Box<str>, u32>,
    hasher: PlRandomState,
}

impl Interner {
    pub(crate) fn intern(&mut self, s: &str) -> u32 {
        let h = self.hasher.hash_one(s);
        if let Some(&c) = self.by_hash.get(&h) {
            if self.get(c) == Some(s) {
                return c;
            }
            if let Some(&c) = self.collided.get(s) {
                return c;
            }
            let c = self.push(s);
            self.collided.insert(s.into(), c);
            return c;
        }
        let c = self.push(s);
        self.by_hash.insert(h, c);
        c
    }

    fn push(&mut self, s: &str) -> u32 {
        let start = u32::try_from(self.arena.len()).unwrap_or(u32::MAX);
        let len = u32::try_from(s.len()).unwrap_or(0);
        if start == u32::MAX || start.checked_add(len).is_none() {
            // Over 4 GiB of distinct strings in one column: keep the code, lose the text.
            self.spans.push((0, 0));
        } else {
            self.arena.push_str(s);
            self.spans.push((start, len));
        }
        u32::try_from(self.spans.len() - 1).unwrap_or(NONE - 1)
    }

    pub(crate) fn get(&self, c: u32) -> Option<&str> {
        let &(start, len) = self.spans.get(c as usize)?;
        self.arena
            .get(start as usize..(start as usize + len as usize))
    }

    fn len(&self) -> usize {
        self.spans.len()
    }

    /// Interns every string of `self`, in code order, into `to`: the code in `to` of each
    /// code of `self`. Strings new to `to` get codes in the order `self` first saw them,
    /// which is the order row-by-row pushing would have given them.
    fn remap_into(&self, to: &mut Interner) -> Vec<u32> {
        self.iter().map(|s| to.intern(s)).collect()
    }

    fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.spans.len()).map(|c| self.get(c as u32).unwrap_or(""))
    }
}

/// A column of repeated strings.
#[derive(Default)]
pub(crate) struct CatCol {
    pub codes: Vec<u32>,
    pub dict: Interner,
}

impl CatCol {
    /// Appends `other`'s codes, re-interned into this column's dictionary; returns the
    /// remap (other's code → this column's code).
    fn append(&mut self, other: CatCol) -> Vec<u32> {
        let map = other.dict.remap_into(&mut self.dict);
        self.codes
            .extend(other.codes.into_iter().map(|c| remapped(&map, c)));
        map
    }

    fn push(&mut self, s: Option<&str>) {
        // Consecutive records often repeat a value (region, account, caller): skip the hash.
        let c = match (s, self.codes.last()) {
            (None, _) => NONE,
            (Some(v), Some(&last)) if self.dict.get(last) == Some(v) => last,
            (Some(v), _) => self.dict.intern(v),
        };
        self.codes.push(c);
    }
}

/// A column of (mostly) unique ids: canonical lower-case UUIDs as `u128`, anything else
/// interned on the side.
#[derive(Default)]
pub(crate) struct IdCol {
    pub keys: Vec<u128>,
    odd: HashMap<u32, u32>,
    odd_strs: Interner,
}

fn canonical_uuid(s: &str) -> Option<u128> {
    if s.len() != 36 || s.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    uuid::Uuid::try_parse(s).ok().map(|u| u.as_u128())
}

fn hash128(s: &str) -> u128 {
    let mut a = std::collections::hash_map::DefaultHasher::new();
    0xA5u8.hash(&mut a);
    s.hash(&mut a);
    let mut b = std::collections::hash_map::DefaultHasher::new();
    0x5Au8.hash(&mut b);
    s.hash(&mut b);
    (u128::from(a.finish()) << 64) | u128::from(b.finish())
}

impl IdCol {
    /// Appends `other`'s rows, which start at row `base` here.
    fn append(&mut self, base: u32, other: IdCol) {
        let map = other.odd_strs.remap_into(&mut self.odd_strs);
        self.keys.extend(other.keys);
        self.odd.extend(
            other
                .odd
                .into_iter()
                .map(|(r, c)| (base + r, remapped(&map, c))),
        );
    }

    fn push(&mut self, row: u32, s: Option<&str>) {
        match s {
            Some(s) => match canonical_uuid(s) {
                Some(u) => self.keys.push(u),
                None => {
                    self.keys.push(hash128(s));
                    let c = self.odd_strs.intern(s);
                    self.odd.insert(row, c);
                }
            },
            None => {
                self.keys.push(0);
                self.odd.insert(row, NONE);
            }
        }
    }

    /// The id of `row`, written into `buf` when it is a UUID.
    fn get<'a>(&'a self, row: u32, buf: &'a mut [u8; 36]) -> Option<&'a str> {
        match self.odd.get(&row) {
            Some(&c) => self.odd_strs.get(c),
            None => {
                let k = self.keys.get(row as usize)?;
                Some(
                    uuid::Uuid::from_u128(*k)
                        .hyphenated()
                        .encode_lower(&mut buf[..]),
                )
            }
        }
    }
}

/// Rows as ingested (file order), before dedup and sort.
#[derive(Default)]
pub(crate) struct Store {
    time: Vec<i64>,
    file: Vec<u32>,
    record: Vec<u32>,
    event: IdCol,
    request: IdCol,
    action: CatCol,
    region: CatCol,
    account: CatCol,
    principal: CatCol,
    user_agent: CatCol,
    error_code: CatCol,
    eni: CatCol,
    eni_set: CatCol,
    instance: CatCol,
    subnet: CatCol,
    attachment: CatCol,
    device: Vec<u32>,
    retry_key: Vec<u64>,
    /// (row, attachment code, ENI code) learnt from this row.
    links: Vec<(u32, u32, u32)>,
    /// Rows (ascending) of `CreateNetworkInterface` calls with the controller's marks.
    marked: Vec<u32>,
    /// (row, NodeENI, node, subnet codes) of rows with the controller's tags, ascending:
    /// few rows have them, so they are kept on the side.
    tags: Vec<(u32, [u32; 3])>,
    tag_dicts: [Interner; 3],
}

impl Store {
    pub(crate) fn len(&self) -> usize {
        self.time.len()
    }

    /// Appends `other`'s rows after this store's, as if they had been pushed here one by one
    /// (the same interned codes, in the same order): files parsed on several threads into
    /// stores of their own, appended in file order, give the table a single thread gives.
    pub(crate) fn append(&mut self, other: Store) {
        let base = u32::try_from(self.len()).unwrap_or(NONE - 1);
        let Store {
            time,
            file,
            record,
            event,
            request,
            action,
            region,
            account,
            principal,
            user_agent,
            error_code,
            eni,
            eni_set,
            instance,
            subnet,
            attachment,
            device,
            retry_key,
            links,
            marked,
            tags,
            tag_dicts,
        } = other;
        self.time.extend(time);
        self.file.extend(file);
        self.record.extend(record);
        self.event.append(base, event);
        self.request.append(base, request);
        self.action.append(action);
        self.region.append(region);
        self.account.append(account);
        self.principal.append(principal);
        self.user_agent.append(user_agent);
        self.error_code.append(error_code);
        // Links intern into the attachment and ENI dictionaries too (after the row's own
        // values, as `push` does), so the remaps come from the appended dictionaries.
        let eni_map = self.eni.append(eni);
        self.eni_set.append(eni_set);
        self.instance.append(instance);
        self.subnet.append(subnet);
        let att_map = self.attachment.append(attachment);
        self.device.extend(device);
        self.retry_key.extend(retry_key);
        self.links.extend(
            links
                .into_iter()
                .map(|(r, a, e)| (base + r, att_map[a as usize], eni_map[e as usize])),
        );
        self.marked.extend(marked.into_iter().map(|r| base + r));
        let maps: Vec<Vec<u32>> = tag_dicts
            .iter()
            .zip(&mut self.tag_dicts)
            .map(|(from, to)| from.remap_into(to))
            .collect();
        self.tags.extend(tags.into_iter().map(|(r, codes)| {
            let mut out = [NONE; 3];
            for ((o, c), m) in out.iter_mut().zip(codes).zip(&maps) {
                *o = remapped(m, c);
            }
            (base + r, out)
        }));
    }

    pub(crate) fn push(&mut self, file: u32, record: u64, r: &TraceRecord) {
        let row = u32::try_from(self.time.len()).unwrap_or(NONE - 1);
        self.time.push(r.time_ns);
        self.file.push(file);
        self.record.push(u32::try_from(record).unwrap_or(u32::MAX));
        self.event.push(row, Some(&r.event_id));
        self.request.push(row, r.request_id.as_deref());
        self.action.push(Some(&r.action));
        self.region.push(Some(&r.region));
        self.account.push(r.account.as_deref());
        self.principal.push(r.principal.as_deref());
        self.user_agent.push(r.user_agent.as_deref());
        self.error_code.push(r.error_code.as_deref());
        self.eni.push(r.eni_id.as_deref());
        if r.other_eni_ids.is_empty() {
            self.eni_set.codes.push(NONE);
        } else {
            let mut all = r.eni_id.as_deref().unwrap_or_default().to_string();
            for e in &r.other_eni_ids {
                all.push(',');
                all.push_str(e);
            }
            self.eni_set.push(Some(&all));
        }
        self.instance.push(r.instance_id.as_deref());
        self.subnet.push(r.subnet_id.as_deref());
        self.attachment.push(r.attachment_id.as_deref());
        self.device.push(r.device_index.unwrap_or(NONE));
        let key = match (&r.client_token, r.action.starts_with("Create")) {
            (Some(ct), true) => hash_bytes(7, ct.as_bytes()),
            _ => r.params_hash,
        };
        self.retry_key.push(key);
        for (att, eni) in &r.attachments {
            let a = self.attachment.dict.intern(att);
            let e = self.eni.dict.intern(eni);
            self.links.push((row, a, e));
        }
        if r.controller_mark && r.action == "CreateNetworkInterface" {
            self.marked.push(row);
        }
        let tags = [&r.tag_nodeeni, &r.tag_node, &r.tag_subnet];
        if tags.iter().any(|t| t.is_some()) {
            let mut codes = [NONE; 3];
            for ((c, t), d) in codes.iter_mut().zip(tags).zip(&mut self.tag_dicts) {
                if let Some(t) = t {
                    *c = d.intern(t);
                }
            }
            self.tags.push((row, codes));
        }
    }
}

/// Error codes that mean "throttled" (bare, after the `Client.`/`Server.` prefix), as the AWS
/// SDKs classify them.
pub const THROTTLE_CODES: [&str; 12] = [
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
];

/// `true` for `…RequestLimitExceeded` and the SDKs' throttling codes.
pub fn is_throttle_code(code: &str) -> bool {
    let bare = bare_code(code);
    bare.ends_with("RequestLimitExceeded") || THROTTLE_CODES.contains(&bare)
}

/// The error code without its `Client.` / `Server.` prefix.
pub fn bare_code(code: &str) -> &str {
    code.strip_prefix("Client.")
        .or_else(|| code.strip_prefix("Server."))
        .unwrap_or(code)
}

/// A failed call that a client would retry (not a dry-run "error").
fn is_failure(code: &str) -> bool {
    bare_code(code) != "DryRunOperation"
}

/// Settings for [`Store::finish`].
pub(crate) struct FinishOptions<'a> {
    pub rules: &'a CallerRules,
    pub retry_window_ns: i64,
}

/// What [`Store::finish`] made: the table, and what it found besides.
pub(crate) struct FinishOutcome {
    pub table: FinishedTable,
    pub duplicates: u64,
    /// Principals that made `CreateNetworkInterface` calls with the controller's marks, with
    /// how many (after deduplication), most first.
    pub marked: Vec<(String, u64)>,
}

pub(crate) fn cat_dtype() -> DataType {
    DataType::from_categories(Categories::global())
}

fn cat_column(
    name: &str,
    order: &[u32],
    codes: &[u32],
    dict: &Interner,
) -> Result<Column, TraceError> {
    let cats = cats_of(dict)?;
    Ok(cat_column_of(
        name,
        order.iter().map(|&r| codes[r as usize]),
        &cats,
        0,
    ))
}

/// The global categories of a dictionary's strings, in code order, with the dtype whose
/// mapping holds them (polars keeps a mapping only while something refers to it).
pub(crate) struct Cats {
    dtype: DataType,
    ids: Vec<CatSize>,
}

/// The categories of `dict`'s strings (interned now if new: the order the columns are built
/// in is the order their strings get categories).
pub(crate) fn cats_of(dict: &Interner) -> Result<Cats, TraceError> {
    let dtype = cat_dtype();
    let DataType::Categorical(_, mapping) = &dtype else {
        return Err(TraceError::Table("categorical dtype expected".into()));
    };
    let mut ids = Vec::with_capacity(dict.len());
    for s in dict.iter() {
        ids.push(mapping.insert_cat(s)?);
    }
    Ok(Cats { dtype, ids })
}

/// A categorical column from codes in row order (`NONE`: null) and their categories.
///
/// `pad` null rows are put before the column and sliced off again, so a piece of a table
/// (rows from `start` on, `pad = start % 8`) has its validity bits at the offset a slice of
/// the whole column would: Parquet's page sizing measures the validity's bytes.
pub(crate) fn cat_column_of(
    name: &str,
    codes: impl Iterator<Item = u32>,
    cats: &Cats,
    pad: usize,
) -> Column {
    let phys = UInt32Chunked::from_iter_options(
        name.into(),
        std::iter::repeat_n(None, pad).chain(codes.map(|c| cats.ids.get(c as usize).copied())),
    );
    let ca = Categorical32Chunked::from_cats_and_dtype(phys, cats.dtype.clone());
    unpad(ca.into_series().into_column(), pad)
}

fn unpad(c: Column, pad: usize) -> Column {
    if pad == 0 {
        c
    } else {
        let len = c.len() - pad;
        c.slice(pad as i64, len)
    }
}

/// A string column of `col`'s ids in the order of `rows`, after `pad` sliced-off nulls
/// (see [`cat_column_of`]).
pub(crate) fn string_column(name: &str, rows: &[u32], col: &IdCol, pad: usize) -> Column {
    let mut b = StringChunkedBuilder::new(name.into(), rows.len() + pad);
    for _ in 0..pad {
        b.append_null();
    }
    let mut buf = [0u8; 36];
    for &r in rows {
        match col.get(r, &mut buf) {
            Some(s) => b.append_value(s),
            None => b.append_null(),
        }
    }
    unpad(b.finish().into_series().into_column(), pad)
}

/// The columns `Store::finish` leaves to [`FinishedTable`], in [`COLUMNS`] order.
pub(crate) const DEFERRED: [&str; 5] = [
    "nodeeni",
    "node",
    "nodeeni_subnet",
    "request_id",
    "event_id",
];

/// Sorts `cols` into [`COLUMNS`] order.
pub(crate) fn in_table_order(cols: &mut [Column]) {
    cols.sort_by_key(|c| {
        COLUMNS
            .iter()
            .position(|n| *n == c.name().as_str())
            .unwrap_or(usize::MAX)
    });
}

impl Store {
    /// Dedup by eventID, sort by (eventTime, file, record), enrich, build the columns (all
    /// but [`DEFERRED`], which [`FinishedTable`] builds).
    pub(crate) fn finish(mut self, o: &FinishOptions<'_>) -> Result<FinishOutcome, TraceError> {
        let n = self.len();
        let n32 = u32::try_from(n)
            .map_err(|_| TraceError::Table(format!("{n} rows exceed the 2^32 row limit")))?;

        // 1. Order: eventTime, ties by ingest order (file, then record index). A stable,
        // adaptive sort: delivery files are nearly in time order already.
        let mut order: Vec<u32> = (0..n32).collect();
        {
            let time = &self.time;
            order.sort_by_key(|&i| time[i as usize]);
        }

        // 2. Duplicates: the same eventID (copies of one event share its eventTime, so they
        // sit in one run of equal times); keep the first in file order.
        let mut duplicates = 0u64;
        {
            let keys = &self.event.keys;
            let time = &self.time;
            let mut keep = vec![true; order.len()];
            let mut run: Vec<(u128, usize)> = Vec::new();
            let mut i = 0;
            while i < order.len() {
                let t = time[order[i] as usize];
                let mut j = i + 1;
                while j < order.len() && time[order[j] as usize] == t {
                    j += 1;
                }
                if j - i > 1 {
                    run.clear();
                    run.extend((i..j).map(|p| (keys[order[p] as usize], p)));
                    run.sort_unstable();
                    for w in run.windows(2) {
                        if w[0].0 == w[1].0 {
                            keep[w[1].1] = false;
                            duplicates += 1;
                        }
                    }
                }
                i = j;
            }
            let mut p = 0;
            order.retain(|_| {
                let k = keep[p];
                p += 1;
                k
            });
        }

        // 3. Attachment → ENI from earlier Attach / RunInstances / Modify records.
        let mut att_to_eni: HashMap<u32, u32> = HashMap::default();
        let links = std::mem::take(&mut self.links);
        for &r in &order {
            let ri = r as usize;
            let att = self.attachment.codes[ri];
            if self.eni.codes[ri] == NONE && att != NONE {
                if let Some(&e) = att_to_eni.get(&att) {
                    self.eni.codes[ri] = e;
                }
            }
            let start = links.partition_point(|l| l.0 < r);
            for l in links[start..].iter().take_while(|l| l.0 == r) {
                att_to_eni.insert(l.1, l.2);
            }
        }
        drop(att_to_eni);
        drop(links);

        // 4. Retry chains.
        let failure: Vec<bool> = self.error_code.dict.iter().map(is_failure).collect();
        let (chain, attempt) = self.retry_chains(&order, &failure, o.retry_window_ns);
        self.retry_key = Vec::new();

        // 5. Caller class and throttled, per distinct value. First the principals the
        // controller's marked Creates reveal (counting kept rows only).
        let mut marked_by: HashMap<u32, u64> = HashMap::default();
        if !self.marked.is_empty() {
            for &r in &order {
                if self.marked.binary_search(&r).is_ok() {
                    *marked_by
                        .entry(self.principal.codes[r as usize])
                        .or_default() += 1;
                }
            }
        }
        self.marked = Vec::new();
        let mut marked: Vec<(String, u64)> = marked_by
            .iter()
            .map(|(&p, &n)| {
                let name = self.principal.dict.get(p).unwrap_or("(no principal)");
                (name.to_string(), n)
            })
            .collect();
        marked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mut class = CatCol::default();
        let mut class_cache: HashMap<(u32, u32), u32> = HashMap::default();
        for &r in &order {
            let ri = r as usize;
            let key = (self.user_agent.codes[ri], self.principal.codes[ri]);
            let c = match class_cache.get(&key) {
                Some(&c) => c,
                None => {
                    let label = o.rules.classify_with(
                        self.user_agent.dict.get(key.0),
                        self.principal.dict.get(key.1),
                        key.1 != NONE && marked_by.contains_key(&key.1),
                    );
                    let c = class.dict.intern(label);
                    class_cache.insert(key, c);
                    c
                }
            };
            class.codes.push(c);
        }
        let throttle_code: Vec<bool> = self.error_code.dict.iter().map(is_throttle_code).collect();

        // 6. Columns, freeing each store column as soon as it is converted (the peak is the
        // finished table plus what is left of the store).
        let identity: Vec<u32> = (0..n32).collect();
        let rows = order.len();
        let mut cols: Vec<Column> = Vec::with_capacity(COLUMNS.len());
        let permute_u32 = |v: &[u32]| order.iter().map(|&r| v[r as usize]).collect::<Vec<u32>>();
        cols.push(Column::new("file".into(), permute_u32(&self.file)));
        self.file = Vec::new();
        cols.push(Column::new("record".into(), permute_u32(&self.record)));
        self.record = Vec::new();
        cols.push(Column::new("retry_chain".into(), chain));
        cols.push(Column::new("attempt".into(), attempt));
        cols.push(Column::new(
            "time".into(),
            order
                .iter()
                .map(|&r| self.time[r as usize])
                .collect::<Vec<i64>>(),
        ));
        self.time = Vec::new();
        cols.push(Column::new(
            "throttled".into(),
            order
                .iter()
                .map(|&r| {
                    let c = self.error_code.codes[r as usize];
                    throttle_code.get(c as usize).copied().unwrap_or(false)
                })
                .collect::<Vec<bool>>(),
        ));
        cols.push(cat_column(
            "caller_class",
            &identity[..rows],
            &class.codes,
            &class.dict,
        )?);
        drop(class);
        drop(identity);
        for (name, col) in [
            ("action", &mut self.action),
            ("region", &mut self.region),
            ("account", &mut self.account),
            ("principal", &mut self.principal),
            ("user_agent", &mut self.user_agent),
            ("error_code", &mut self.error_code),
            ("eni_id", &mut self.eni),
            ("eni_ids", &mut self.eni_set),
            ("attachment_id", &mut self.attachment),
            ("instance_id", &mut self.instance),
            ("subnet_id", &mut self.subnet),
        ] {
            cols.push(cat_column(name, &order, &col.codes, &col.dict)?);
            *col = CatCol::default();
        }
        cols.push(
            UInt32Chunked::from_iter_options(
                "device_index".into(),
                order.iter().map(|&r| {
                    let d = self.device[r as usize];
                    (d != NONE).then_some(d)
                }),
            )
            .into_series()
            .into_column(),
        );
        self.device = Vec::new();
        // The ids and the tags stay compact: built whole for a DataFrame, or a row group
        // at a time when the table goes straight to Parquet (FinishedTable).
        let tags = std::mem::take(&mut self.tags);
        let dicts = std::mem::take(&mut self.tag_dicts);
        // The tags' strings get their categories last, as when their columns came last.
        let tag_cats = if tags.is_empty() {
            None
        } else {
            let [a, b, c] = &dicts;
            Some([cats_of(a)?, cats_of(b)?, cats_of(c)?])
        };
        drop(dicts);
        in_table_order(&mut cols);
        let main = DataFrame::new(rows, cols)?;
        Ok(FinishOutcome {
            table: FinishedTable {
                main,
                order,
                request: std::mem::take(&mut self.request),
                event: std::mem::take(&mut self.event),
                tags,
                tag_cats,
            },
            duplicates,
            marked,
        })
    }

    /// `retry_chain[i]` = id of the logical call row `i` belongs to (64 bits of the first
    /// attempt's eventID, so it does not depend on row order); `attempt[i]` = 1-based attempt
    /// number. A row continues a chain when the previous
    /// row with the same principal, user agent, action and request (parameters, or
    /// `clientToken` for Create*) failed (any error but DryRunOperation) at most
    /// `window_ns` earlier.
    fn retry_chains(
        &self,
        order: &[u32],
        failure: &[bool],
        window_ns: i64,
    ) -> (Vec<u64>, Vec<u32>) {
        #[derive(Clone, Copy)]
        struct St {
            chain: u64,
            attempt: u32,
            last_ns: i64,
            failed: bool,
        }
        let mut open: HashMap<(u32, u32, u32, u64), St> = HashMap::default();
        let mut chain = Vec::with_capacity(order.len());
        let mut attempt = Vec::with_capacity(order.len());
        for (pos, &r) in order.iter().enumerate() {
            let ri = r as usize;
            let t = self.time[ri];
            if pos % 65_536 == 0 && !open.is_empty() {
                open.retain(|_, s| t.saturating_sub(s.last_ns) <= window_ns);
            }
            let key = (
                self.principal.codes[ri],
                self.user_agent.codes[ri],
                self.action.codes[ri],
                self.retry_key[ri],
            );
            let ec = self.error_code.codes[ri];
            let failed = ec != NONE && failure.get(ec as usize).copied().unwrap_or(true);
            let k = self.event.keys[ri];
            let own = ((k >> 64) as u64) ^ (k as u64);
            let st = match open.get(&key) {
                Some(p) if p.failed && t.saturating_sub(p.last_ns) <= window_ns => St {
                    chain: p.chain,
                    attempt: p.attempt.saturating_add(1),
                    last_ns: t,
                    failed,
                },
                _ => St {
                    chain: own,
                    attempt: 1,
                    last_ns: t,
                    failed,
                },
            };
            chain.push(st.chain);
            attempt.push(st.attempt);
            open.insert(key, st);
        }
        (chain, attempt)
    }
}

/// Rows per Parquet row group.
pub(crate) const ROW_GROUP: usize = 1 << 16;

/// The writer every table goes through (zstd; the row group size is used by `finish`).
pub(crate) fn parquet_writer(
    file: &mut std::fs::File,
    row_group: usize,
) -> ParquetWriter<&mut std::fs::File> {
    ParquetWriter::new(file)
        .with_compression(ParquetCompression::Zstd(None))
        .with_row_group_size(Some(row_group))
}

/// Writes the table as Parquet (zstd), atomically: a temporary file in the same directory,
/// then a rename, so readers never see a half-written file.
pub fn write_parquet(df: &DataFrame, path: &Path) -> Result<(), TraceError> {
    write_parquet_rows(df, path, ROW_GROUP)
}

pub(crate) fn write_parquet_rows(
    df: &DataFrame,
    path: &Path,
    row_group: usize,
) -> Result<(), TraceError> {
    write_parquet_with(path, |file| {
        let mut df = df.clone();
        parquet_writer(file, row_group).finish(&mut df)?;
        Ok(())
    })
}

/// Runs `write` on a temporary file beside `path`, then syncs it and renames it to `path`
/// (nothing is left behind on an error).
pub(crate) fn write_parquet_with(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> Result<(), TraceError>,
) -> Result<(), TraceError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".enisim-trace-")
        .suffix(".parquet.tmp")
        .tempfile_in(&dir)
        .map_err(|e| TraceError::io(&dir, e))?;
    write(tmp.as_file_mut())?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| TraceError::io(path, e))?;
    readable_by_all(tmp.as_file());
    tmp.persist(path)
        .map_err(|e| TraceError::io(path, e.error))?;
    Ok(())
}

/// Temporary files are created 0600; the finished file gets the usual 0644.
pub(crate) fn readable_by_all(f: &std::fs::File) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = f.set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    #[cfg(not(unix))]
    let _ = f;
}

/// Reads a table written by [`write_parquet`].
pub fn read_parquet(path: &Path) -> Result<DataFrame, TraceError> {
    let f = std::fs::File::open(path).map_err(|e| TraceError::io(path, e))?;
    Ok(ParquetReader::new(f).finish()?)
}
