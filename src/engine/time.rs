//! Virtual time: unsigned integer nanoseconds since the start of a run.
//! Integer ticks keep arithmetic exact and runs reproducible (queues-and-oracles.md §4).

/// A point in virtual time, or a duration, in nanoseconds.
pub type Nanos = u64;

pub const MICRO: Nanos = 1_000;
pub const MILLI: Nanos = 1_000_000;
pub const SECOND: Nanos = 1_000_000_000;
pub const MINUTE: Nanos = 60 * SECOND;

/// Seconds (possibly fractional) to nanoseconds, rounded to the nearest nanosecond;
/// negative and NaN inputs become zero.
pub fn from_secs(s: f64) -> Nanos {
    if s.is_nan() || s <= 0.0 {
        0
    } else if s >= (u64::MAX / SECOND) as f64 {
        u64::MAX
    } else {
        (s * SECOND as f64).round() as Nanos
    }
}

/// Milliseconds (possibly fractional) to nanoseconds.
pub fn from_millis(ms: f64) -> Nanos {
    from_secs(ms / 1e3)
}

pub fn to_secs(t: Nanos) -> f64 {
    t as f64 / SECOND as f64
}

pub fn to_millis(t: Nanos) -> f64 {
    t as f64 / MILLI as f64
}

/// Parses a Go-style duration ("300ms", "1.5s", "5m", "1h30m", "15s", "0"), the
/// format the controller reads from its environment (time.ParseDuration).
pub fn parse_go_duration(text: &str) -> Result<Nanos, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if s.starts_with('-') {
        return Err(format!("negative duration {s:?}"));
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    if s == "0" {
        return Ok(0);
    }
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut total: f64 = 0.0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
            i += 1;
        }
        if start == i {
            return Err(format!("invalid duration {text:?}: expected a number"));
        }
        let number: f64 = s[start..i]
            .parse()
            .map_err(|_| format!("invalid duration {text:?}: bad number {:?}", &s[start..i]))?;
        let ustart = i;
        while i < bytes.len() && !(bytes[i].is_ascii_digit() || bytes[i] == b'.') {
            i += 1;
        }
        let unit = &s[ustart..i];
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("invalid duration {text:?}: missing unit")),
            other => return Err(format!("invalid duration {text:?}: unknown unit {other:?}")),
        };
        total += number * scale;
    }
    if !total.is_finite() || total > u64::MAX as f64 {
        return Err(format!("invalid duration {text:?}: out of range"));
    }
    Ok(total.round() as Nanos)
}

/// Formats a duration the way Go prints it for the common cases ("15s", "5m0s", "250ms").
pub fn format_go_duration(t: Nanos) -> String {
    if t == 0 {
        return "0s".into();
    }
    if t < SECOND {
        if t % MILLI == 0 {
            return format!("{}ms", t / MILLI);
        }
        return format!("{}ns", t);
    }
    let h = t / (3600 * SECOND);
    let m = (t / MINUTE) % 60;
    let s = to_secs(t % MINUTE);
    let s = if t % SECOND == 0 {
        format!("{}", (t % MINUTE) / SECOND)
    } else {
        format!("{s}")
    };
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_round_trip() {
        assert_eq!(parse_go_duration("15s").unwrap(), 15 * SECOND);
        assert_eq!(parse_go_duration("5m").unwrap(), 5 * MINUTE);
        assert_eq!(parse_go_duration("1h30m").unwrap(), 90 * MINUTE);
        assert_eq!(parse_go_duration("250ms").unwrap(), 250 * MILLI);
        assert_eq!(parse_go_duration("1.5s").unwrap(), 1_500 * MILLI);
        assert_eq!(parse_go_duration("0").unwrap(), 0);
        assert!(parse_go_duration("-5s").is_err());
        assert!(parse_go_duration("5").is_err());
        assert!(parse_go_duration("5x").is_err());
        assert!(parse_go_duration("abc").is_err());
        assert_eq!(format_go_duration(15 * SECOND), "15s");
        assert_eq!(format_go_duration(5 * MINUTE), "5m0s");
        assert_eq!(format_go_duration(250 * MILLI), "250ms");
    }
}
