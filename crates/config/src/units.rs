//! Values with units as an operator writes them: rates (`"20 Mbit/s"`), sizes (`"64 KiB"`),
//! durations (`"5 ms"`), DSCP code points (`"CS1"`, `"AF21"`, `46`), days and clock ranges.
//!
//! Each parser returns `Err(problem)`, a sentence saying what is wrong; the caller adds the key
//! and the fix. Rates and sizes use SI prefixes for `k`, `M`, `G` (1000) and IEC prefixes for
//! `Ki`, `Mi`, `Gi` (1024). `bps`, `kbps`, `Mbps` are refused: tc reads `kbps` as kilobytes per
//! second while most people mean kilobits, so weir asks for `kbit/s` or `kB/s` instead.

/// A rate in bits per second.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rate {
    /// Bits per second.
    pub bits_per_s: u64,
}

impl Rate {
    /// Bytes per second (rounded down; at least 1 for any valid rate).
    pub fn bytes_per_s(self) -> u64 {
        (self.bits_per_s / 8).max(1)
    }
}

impl core::fmt::Display for Rate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let b = self.bits_per_s;
        for (div, unit) in [(1_000_000_000, "Gbit/s"), (1_000_000, "Mbit/s"), (1_000, "kbit/s")] {
            if b >= div && b.is_multiple_of(div / 1000) {
                let whole = b / div;
                let frac = (b % div) / (div / 1000);
                return if frac == 0 {
                    write!(f, "{whole} {unit}")
                } else {
                    write!(f, "{}.{} {unit}", whole, format!("{frac:03}").trim_end_matches('0'))
                };
            }
        }
        write!(f, "{b} bit/s")
    }
}

/// Lowest rate a class may have: below one full-size frame per second a shaper is a black hole.
pub const MIN_RATE_BITS: u64 = 8_000;
/// Highest rate a class may have.
pub const MAX_RATE_BITS: u64 = 400_000_000_000;

/// Split `"20 Mbit/s"` into `(20.0, "Mbit/s")`; the space is optional.
fn number_and_unit(s: &str) -> Result<(f64, &str), String> {
    let s = s.trim();
    let end = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(end);
    if num.is_empty() {
        return Err(format!("{s:?} does not start with a number"));
    }
    let value: f64 = num.parse().map_err(|_| format!("{num:?} is not a number"))?;
    if !value.is_finite() {
        return Err(format!("{num:?} is not a number"));
    }
    Ok((value, unit.trim()))
}

/// Parse a rate such as `"20 Mbit/s"`, `"1.5 Gbit/s"`, `"500 kbit/s"`, `"2 MB/s"`, `"1 MiB/s"`.
///
/// # Errors
/// A sentence naming the problem: no unit, an unknown or ambiguous unit, out of range.
pub fn parse_rate(s: &str) -> Result<Rate, String> {
    let (value, unit) = number_and_unit(s)?;
    let per_bit = match unit {
        "bit/s" => 1.0,
        "kbit/s" | "Kbit/s" => 1e3,
        "Mbit/s" | "mbit/s" => 1e6,
        "Gbit/s" | "gbit/s" => 1e9,
        "B/s" => 8.0,
        "kB/s" => 8e3,
        "MB/s" => 8e6,
        "GB/s" => 8e9,
        "KiB/s" => 8.0 * 1024.0,
        "MiB/s" => 8.0 * 1024.0 * 1024.0,
        "GiB/s" => 8.0 * 1024.0 * 1024.0 * 1024.0,
        "" => return Err(format!("{s:?} has no unit")),
        u if u.to_ascii_lowercase().ends_with("bps") => {
            return Err(format!("{u:?} is ambiguous (tc reads kbps as kilobytes per second)"));
        }
        u => return Err(format!("{u:?} is not a rate unit")),
    };
    let bits = value * per_bit;
    if !(MIN_RATE_BITS as f64..=MAX_RATE_BITS as f64).contains(&bits) {
        return Err(format!("{s:?} is outside 8 kbit/s..400 Gbit/s"));
    }
    Ok(Rate { bits_per_s: bits.round() as u64 })
}

/// Parse a size such as `"64 KiB"`, `"32 MiB"`, `"1500 B"`, `"2 MB"`; a bare number is bytes.
///
/// # Errors
/// A sentence naming the problem.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let (value, unit) = number_and_unit(s)?;
    let mult = match unit {
        "" | "B" => 1.0,
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "KB" | "k" | "K" => return Err(format!("{unit:?} is ambiguous: write kB (1000) or KiB (1024)")),
        u => return Err(format!("{u:?} is not a size unit")),
    };
    let bytes = value * mult;
    if !(1.0..=1e15).contains(&bytes) {
        return Err(format!("{s:?} is out of range"));
    }
    Ok(bytes.round() as u64)
}

/// Parse a duration such as `"5 ms"`, `"100 ms"`, `"500 us"`, `"1 s"`, into nanoseconds.
///
/// # Errors
/// A sentence naming the problem.
pub fn parse_duration_ns(s: &str) -> Result<u64, String> {
    let (value, unit) = number_and_unit(s)?;
    let mult = match unit {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "" => return Err(format!("{s:?} has no unit")),
        u => return Err(format!("{u:?} is not a time unit")),
    };
    let ns = value * mult;
    if !(1.0..=3_600e9).contains(&ns) {
        return Err(format!("{s:?} is outside 1 ns..1 hour"));
    }
    Ok(ns.round() as u64)
}

/// A DSCP code point, 0..=63.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Dscp(pub u8);

/// The names of RFC 2474 (class selectors), RFC 2597 (assured forwarding), RFC 3246 (EF) and
/// RFC 8622 (LE), with their code points.
pub const DSCP_NAMES: &[(&str, u8)] = &[
    ("CS0", 0),
    ("CS1", 8),
    ("CS2", 16),
    ("CS3", 24),
    ("CS4", 32),
    ("CS5", 40),
    ("CS6", 48),
    ("CS7", 56),
    ("AF11", 10),
    ("AF12", 12),
    ("AF13", 14),
    ("AF21", 18),
    ("AF22", 20),
    ("AF23", 22),
    ("AF31", 26),
    ("AF32", 28),
    ("AF33", 30),
    ("AF41", 34),
    ("AF42", 36),
    ("AF43", 38),
    ("EF", 46),
    ("LE", 1),
];

impl Dscp {
    /// Parse a DSCP name (case-insensitive) or a number 0..=63 written as text.
    ///
    /// # Errors
    /// A sentence naming the problem.
    pub fn parse_name(s: &str) -> Result<Dscp, String> {
        let t = s.trim();
        if let Some(&(_, v)) = DSCP_NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(t)) {
            return Ok(Dscp(v));
        }
        match t.parse::<i64>() {
            Ok(n) => Dscp::from_number(n),
            Err(_) => Err(format!("{s:?} is not a DSCP name")),
        }
    }

    /// A code point given as a number.
    ///
    /// # Errors
    /// If it is not in 0..=63.
    pub fn from_number(n: i64) -> Result<Dscp, String> {
        u8::try_from(n).ok().filter(|v| *v <= 63).map(Dscp).ok_or_else(|| format!("{n} is not in 0..=63"))
    }

    /// The standard name, if the code point has one.
    pub fn name(self) -> Option<&'static str> {
        DSCP_NAMES.iter().find(|(_, v)| *v == self.0).map(|(n, _)| *n)
    }
}

/// Days of the week, Monday first, as used in schedules.
pub const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Parse a day name (`mon` .. `sun`, or the full English name; case-insensitive) into 0 (Monday)
/// ..= 6 (Sunday).
///
/// # Errors
/// A sentence naming the problem.
pub fn parse_day(s: &str) -> Result<u8, String> {
    let t = s.trim().to_ascii_lowercase();
    const FULL: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
    DAYS.iter()
        .zip(FULL)
        .position(|(short, full)| t == *short || t == full)
        .map(|i| i as u8)
        .ok_or_else(|| format!("{s:?} is not a day"))
}

/// A daily clock range in minutes after local midnight: `start` in 0..1440, `end` in 1..=1440.
/// `end < start` crosses midnight (`"22:00-06:00"`); the range then belongs to the day it starts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimeRange {
    /// Minutes after midnight at which it starts.
    pub start_min: u16,
    /// Minutes after midnight at which it ends (1440 = the next midnight).
    pub end_min: u16,
}

impl TimeRange {
    /// Whether the range ends on the next day.
    pub fn crosses_midnight(self) -> bool {
        self.end_min <= self.start_min
    }
}

fn parse_clock(s: &str, allow_24: bool) -> Result<u16, String> {
    let (h, m) = s.trim().split_once(':').ok_or_else(|| format!("{s:?} is not HH:MM"))?;
    let h: u16 = h.parse().map_err(|_| format!("{s:?} is not HH:MM"))?;
    let m: u16 = m.parse().map_err(|_| format!("{s:?} is not HH:MM"))?;
    if m > 59 || h > 24 || (h == 24 && (m != 0 || !allow_24)) {
        return Err(format!("{s:?} is not a time of day"));
    }
    Ok(h * 60 + m)
}

/// Parse `"08:00-17:00"`, `"22:00-06:00"` (crosses midnight) or `"00:00-24:00"` (all day).
///
/// # Errors
/// A sentence naming the problem.
pub fn parse_time_range(s: &str) -> Result<TimeRange, String> {
    let (a, b) = s.split_once('-').ok_or_else(|| format!("{s:?} is not a range like 08:00-17:00"))?;
    let start_min = parse_clock(a, false)?;
    let end_min = parse_clock(b, true)?;
    if start_min == end_min {
        return Err(format!("{s:?} is empty (for a whole day write 00:00-24:00)"));
    }
    Ok(TimeRange { start_min, end_min })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_in_bits_and_bytes() {
        assert_eq!(parse_rate("20 Mbit/s").unwrap().bits_per_s, 20_000_000);
        assert_eq!(parse_rate("1.5Gbit/s").unwrap().bits_per_s, 1_500_000_000);
        assert_eq!(parse_rate("500 kbit/s").unwrap().bits_per_s, 500_000);
        assert_eq!(parse_rate("2 MB/s").unwrap().bits_per_s, 16_000_000);
        assert_eq!(parse_rate("1 MiB/s").unwrap().bits_per_s, 8 * 1024 * 1024);
        assert_eq!(parse_rate("8 Mbit/s").unwrap().bytes_per_s(), 1_000_000);
        for bad in ["20", "20 Mbps", "20 kbps", "fast", "20 Mbit", "1 bit/s", "1000 Gbit/s", "-5 Mbit/s"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
        assert!(parse_rate("20 Mbps").unwrap_err().contains("ambiguous"));
    }

    #[test]
    fn rates_display_readably() {
        assert_eq!(parse_rate("20 Mbit/s").unwrap().to_string(), "20 Mbit/s");
        assert_eq!(parse_rate("1.5 Gbit/s").unwrap().to_string(), "1.5 Gbit/s");
        assert_eq!(Rate { bits_per_s: 8_500 }.to_string(), "8.5 kbit/s");
        assert_eq!(Rate { bits_per_s: 8_001 }.to_string(), "8.001 kbit/s");
        assert_eq!(Rate { bits_per_s: 999 }.to_string(), "999 bit/s");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64 KiB").unwrap(), 65536);
        assert_eq!(parse_size("32 MiB").unwrap(), 32 << 20);
        assert_eq!(parse_size("1500").unwrap(), 1500);
        assert_eq!(parse_size("2 MB").unwrap(), 2_000_000);
        assert!(parse_size("64 KB").unwrap_err().contains("ambiguous"));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("0").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ns("5 ms").unwrap(), 5_000_000);
        assert_eq!(parse_duration_ns("100ms").unwrap(), 100_000_000);
        assert_eq!(parse_duration_ns("500 us").unwrap(), 500_000);
        assert_eq!(parse_duration_ns("1 s").unwrap(), 1_000_000_000);
        assert!(parse_duration_ns("5").is_err());
        assert!(parse_duration_ns("5 min").is_err());
    }

    #[test]
    fn dscp_names_and_numbers() {
        assert_eq!(Dscp::parse_name("CS1").unwrap(), Dscp(8));
        assert_eq!(Dscp::parse_name("af21").unwrap(), Dscp(18));
        assert_eq!(Dscp::parse_name("EF").unwrap(), Dscp(46));
        assert_eq!(Dscp::parse_name("LE").unwrap(), Dscp(1));
        assert_eq!(Dscp::parse_name("AF43").unwrap(), Dscp(38));
        assert_eq!(Dscp::parse_name("63").unwrap(), Dscp(63));
        assert!(Dscp::parse_name("64").is_err());
        assert!(Dscp::parse_name("AF44").is_err());
        assert!(Dscp::from_number(-1).is_err());
        assert_eq!(Dscp(46).name(), Some("EF"));
        assert_eq!(Dscp(7).name(), None);
    }

    #[test]
    fn days_and_ranges() {
        assert_eq!(parse_day("mon").unwrap(), 0);
        assert_eq!(parse_day("Sunday").unwrap(), 6);
        assert!(parse_day("mo").is_err());
        let r = parse_time_range("08:00-17:00").unwrap();
        assert_eq!((r.start_min, r.end_min, r.crosses_midnight()), (480, 1020, false));
        let r = parse_time_range("22:00-06:00").unwrap();
        assert!(r.crosses_midnight());
        let r = parse_time_range("00:00-24:00").unwrap();
        assert_eq!((r.start_min, r.end_min), (0, 1440));
        for bad in ["08:00", "8-17", "08:00-08:00", "24:00-06:00", "08:60-09:00", "25:00-26:00", "08:00-24:30"] {
            assert!(parse_time_range(bad).is_err(), "{bad}");
        }
    }
}
