//! One line per event on stderr, `key=value` (logfmt) or JSON (`--log-format json`), so that
//! journald keeps each event whole and a machine can parse it.
//!
//! ```text
//! ts=2025-01-31T12:00:00.123Z level=info event=started pid=4242 inside=eth1 outside=eth2 queues=2
//! {"ts":"2025-01-31T12:00:00.123Z","level":"info","event":"started","pid":"4242",...}
//! ```
//!
//! Every line has `ts` (UTC, milliseconds), `level` and `event` first; values that need it are
//! quoted with `\"`, `\\` and `\n` escaped, so a line never breaks.

use std::fmt::{Display, Write as _};
use std::io::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// How lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// `key=value` pairs (logfmt).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl Format {
    /// Parse `text` or `json`.
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "text" => Some(Format::Text),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// How bad it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Normal operation: start-up, readiness, reloads, policy generations.
    Info,
    /// Something is degraded but weir goes on.
    Warn,
    /// weir stops (or an operation failed and changed nothing).
    Error,
}

impl Level {
    /// `info`, `warn` or `error`.
    pub fn name(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

static FORMAT: AtomicU8 = AtomicU8::new(0);

/// Set the process-wide format (once, at start).
pub fn set_format(f: Format) {
    FORMAT.store(f as u8, Ordering::Relaxed);
}

/// The process-wide format.
pub fn format() -> Format {
    if FORMAT.load(Ordering::Relaxed) == Format::Json as u8 { Format::Json } else { Format::Text }
}

/// Write one event to stderr in the process-wide format.
pub fn event(level: Level, event: &str, fields: &[(&str, &dyn Display)]) {
    let line = render(format(), SystemTime::now(), level, event, fields);
    // One write per line, so lines of several threads never interleave.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Shorthand for [`event`] at [`Level::Info`].
pub fn info(name: &str, fields: &[(&str, &dyn Display)]) {
    event(Level::Info, name, fields);
}

/// Shorthand for [`event`] at [`Level::Warn`].
pub fn warn(name: &str, fields: &[(&str, &dyn Display)]) {
    event(Level::Warn, name, fields);
}

/// Shorthand for [`event`] at [`Level::Error`].
pub fn error(name: &str, fields: &[(&str, &dyn Display)]) {
    event(Level::Error, name, fields);
}

/// One line (with its newline) for `event` with `fields`, at time `at`.
pub fn render(format: Format, at: SystemTime, level: Level, event: &str, fields: &[(&str, &dyn Display)]) -> String {
    let ts = timestamp(at);
    let mut out = String::with_capacity(128);
    let pairs = [("ts", &ts as &dyn Display), ("level", &level.name()), ("event", &event)];
    match format {
        Format::Text => {
            for (i, (k, v)) in pairs.iter().chain(fields).enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(&key(k));
                out.push('=');
                push_text_value(&mut out, &v.to_string());
            }
        }
        Format::Json => {
            out.push('{');
            for (i, (k, v)) in pairs.iter().chain(fields).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json_string(&mut out, &key(k));
                out.push(':');
                push_json_string(&mut out, &v.to_string());
            }
            out.push('}');
        }
    }
    out.push('\n');
    out
}

/// Keys are words: anything else becomes `_`.
fn key(k: &str) -> String {
    let k: String =
        k.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
    if k.is_empty() { "_".into() } else { k }
}

fn push_text_value(out: &mut String, v: &str) {
    let plain = !v.is_empty() && v.chars().all(|c| c.is_ascii_graphic() && c != '"' && c != '=' && c != '\\');
    if plain {
        out.push_str(v);
        return;
    }
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn push_json_string(out: &mut String, v: &str) {
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// RFC 3339 UTC with milliseconds, e.g. `2025-01-31T12:00:00.123Z`.
pub fn timestamp(at: SystemTime) -> String {
    let d = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(ms)
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(timestamp(at(0, 0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(timestamp(at(951_782_400, 5)), "2000-02-29T00:00:00.005Z");
        assert_eq!(timestamp(at(1_738_324_800, 123)), "2025-01-31T12:00:00.123Z");
        assert_eq!(timestamp(at(4_102_444_799, 999)), "2099-12-31T23:59:59.999Z");
    }

    #[test]
    fn text_lines_are_logfmt_and_quote_what_needs_it() {
        let line = render(
            Format::Text,
            at(0, 0),
            Level::Error,
            "startup-failed",
            &[("pid", &42), ("error", &"key `stats.listen`: \"x\" = y\nz"), ("empty", &""), ("bad key", &"a")],
        );
        assert_eq!(
            line,
            "ts=1970-01-01T00:00:00.000Z level=error event=startup-failed pid=42 \
             error=\"key `stats.listen`: \\\"x\\\" = y\\nz\" empty=\"\" bad_key=a\n"
        );
        assert_eq!(line.matches('\n').count(), 1);
    }

    #[test]
    fn json_lines_parse_back() {
        let line =
            render(Format::Json, at(0, 0), Level::Info, "ready", &[("msg", &"tab\there \"q\" \u{1}"), ("n", &7)]);
        assert_eq!(line.matches('\n').count(), 1);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["ts"], "1970-01-01T00:00:00.000Z");
        assert_eq!(v["level"], "info");
        assert_eq!(v["event"], "ready");
        assert_eq!(v["msg"], "tab\there \"q\" \u{1}");
        assert_eq!(v["n"], "7");
    }

    #[test]
    fn formats_parse() {
        assert_eq!(Format::parse("json"), Some(Format::Json));
        assert_eq!(Format::parse("text"), Some(Format::Text));
        assert_eq!(Format::parse("yaml"), None);
    }
}
