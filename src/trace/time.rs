//! CloudTrail timestamps <-> nanoseconds since the Unix epoch (UTC).
//!
//! S3 delivery files and Athena write `2023-07-10T11:55:14Z` (one-second resolution);
//! CloudTrail Lake writes `2023-07-10 11:55:14.000`; `lookup-events` prints RFC 3339 with an
//! offset. All are accepted; naive timestamps are taken as UTC.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};

const NS_PER_S: i64 = 1_000_000_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let d = i64::from(d);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// Fast path for exactly `YYYY-MM-DDTHH:MM:SSZ`.
fn parse_fast(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || (b[10] != b'T' && b[10] != b't')
        || b[13] != b':'
        || b[16] != b':'
        || (b[19] != b'Z' && b[19] != b'z')
    {
        return None;
    }
    let y = i64::from(digits(&b[0..4])?);
    let mo = digits(&b[5..7])?;
    let d = digits(&b[8..10])?;
    let h = i64::from(digits(&b[11..13])?);
    let mi = i64::from(digits(&b[14..16])?);
    let se = i64::from(digits(&b[17..19])?);
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 59
    {
        return None;
    }
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se;
    secs.checked_mul(NS_PER_S)
}

fn chrono_to_ns(dt: DateTime<Utc>) -> Result<i64, String> {
    dt.timestamp_nanos_opt()
        .ok_or_else(|| "outside the range of i64 nanoseconds (1677..2262)".to_string())
}

/// Parse a CloudTrail timestamp into nanoseconds since the epoch (UTC).
pub fn parse_time_ns(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Some(ns) = parse_fast(s) {
        return Ok(ns);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return chrono_to_ns(dt.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.fZ",
        "%Y-%m-%d %H:%M:%S%.f UTC",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
            return chrono_to_ns(n.and_utc());
        }
    }
    Err("not an RFC 3339 / CloudTrail timestamp".to_string())
}

/// Format nanoseconds since the epoch as CloudTrail does: `YYYY-MM-DDTHH:MM:SSZ`
/// (truncated to the second).
pub fn format_time_s(ns: i64) -> String {
    let secs = ns.div_euclid(NS_PER_S);
    match DateTime::<Utc>::from_timestamp(secs, 0) {
        Some(dt) => dt.to_rfc3339_opts(SecondsFormat::Secs, true),
        None => "1970-01-01T00:00:00Z".to_string(),
    }
}

/// Format with a strftime pattern (UTC), used for S3 keys.
pub(crate) fn format_time_with(ns: i64, pattern: &str) -> String {
    let secs = ns.div_euclid(NS_PER_S);
    match DateTime::<Utc>::from_timestamp(secs, 0) {
        Some(dt) => dt.format(pattern).to_string(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_and_slow_paths_agree() {
        let fast = parse_time_ns("2023-07-10T11:55:14Z").unwrap();
        assert_eq!(fast, 1_688_990_114 * NS_PER_S);
        assert_eq!(parse_time_ns("2023-07-10 11:55:14.000").unwrap(), fast);
        assert_eq!(parse_time_ns("2023-07-10T13:55:14+02:00").unwrap(), fast);
        assert_eq!(
            parse_time_ns("2023-07-10T11:55:14.250Z").unwrap(),
            fast + 250_000_000
        );
        assert_eq!(format_time_s(fast + 999), "2023-07-10T11:55:14Z");
        assert!(parse_time_ns("2023-02-29T00:00:00Z").is_err());
        assert!(parse_time_ns("2024-02-29T00:00:00Z").is_ok());
        assert!(parse_time_ns("9999-12-31T23:59:59Z").is_err());
        assert!(parse_time_ns("").is_err());
        assert!(parse_time_ns("yesterday").is_err());
    }

    #[test]
    fn civil_matches_chrono_over_a_range() {
        for y in [1970i64, 1999, 2000, 2020, 2024, 2100] {
            for m in 1..=12u32 {
                let d = days_in_month(y, m);
                let s = format!("{y:04}-{m:02}-{d:02}T23:59:59Z");
                let slow = DateTime::parse_from_rfc3339(&s)
                    .unwrap()
                    .timestamp_nanos_opt();
                assert_eq!(parse_fast(&s), slow, "{s}");
            }
        }
    }
}
