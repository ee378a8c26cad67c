//! Reading a `--stats-json` file: one JSON object per line.
//!
//! Lines whose `"type"` is not `"interval"` are skipped (the format may grow other record
//! types); blank lines are skipped. Any other line that is not a valid record is an error naming
//! the file and the 1-based line. One exception: an unterminated last line that does not parse
//! is the record a running bridge is still writing, so it is skipped with a warning.

use crate::ViewError;
use std::path::{Path, PathBuf};
use weir_stats::IntervalRecord;

/// The records of a stats file and what was skipped.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The interval records in file order.
    pub records: Vec<IntervalRecord>,
    /// Messages for the user about lines that were skipped.
    pub warnings: Vec<String>,
}

/// Read and parse a stats file.
///
/// # Errors
/// [`ViewError::Read`] when it cannot be read, [`ViewError::BadRecord`] for an invalid line,
/// [`ViewError::Empty`] when it holds no interval record.
pub fn read(path: &Path) -> Result<Loaded, ViewError> {
    let bytes = std::fs::read(path).map_err(|source| ViewError::Read { path: path.to_path_buf(), source })?;
    parse(path, &bytes)
}

/// Parse the contents of a stats file; `path` is only for messages.
///
/// # Errors
/// As [`read`], less the I/O.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Loaded, ViewError> {
    let bad = |line: usize, message: String| ViewError::BadRecord { path: PathBuf::from(path), line, message };
    let mut loaded = Loaded::default();
    let unterminated = !bytes.is_empty() && !bytes.ends_with(b"\n");
    let count = bytes.split(|&b| b == b'\n').count();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let number = i + 1;
        let is_last_unterminated = unterminated && number == count;
        let text = match std::str::from_utf8(line) {
            Ok(t) => t.trim(),
            Err(e) => return Err(bad(number, format!("not UTF-8 text ({e})"))),
        };
        if text.is_empty() {
            continue;
        }
        let value: serde_json::Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(_) if is_last_unterminated => {
                loaded.warnings.push(format!(
                    "{}:{number}: skipped an unfinished last line (the bridge may still be writing it)",
                    path.display()
                ));
                continue;
            }
            Err(e) => return Err(bad(number, format!("not JSON: {e}"))),
        };
        match value.get("type").and_then(serde_json::Value::as_str) {
            Some("interval") => {}
            Some(_) => continue,
            None => return Err(bad(number, "no \"type\" field; expected \"type\":\"interval\"".into())),
        }
        let record: IntervalRecord = serde_json::from_value(value).map_err(|e| bad(number, e.to_string()))?;
        loaded.records.push(record);
    }
    if loaded.records.is_empty() {
        return Err(ViewError::Empty { path: path.to_path_buf() });
    }
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(uptime: f64) -> String {
        let r = IntervalRecord { kind: "interval".into(), uptime_s: uptime, ..IntervalRecord::default() };
        serde_json::to_string(&r).unwrap()
    }

    fn err(text: &str) -> String {
        parse(Path::new("s.jsonl"), text.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn records_are_read_in_order_skipping_blank_and_other_types() {
        let text = format!("{}\n\n{{\"type\":\"summary\",\"x\":1}}\n{}\n", line(1.0), line(2.0));
        let l = parse(Path::new("s.jsonl"), text.as_bytes()).unwrap();
        assert_eq!(l.records.iter().map(|r| r.uptime_s).collect::<Vec<_>>(), [1.0, 2.0]);
        assert!(l.warnings.is_empty());
    }

    #[test]
    fn an_unfinished_last_line_is_skipped_with_a_warning() {
        let full = line(2.0);
        let text = format!("{}\n{}", line(1.0), &full[..full.len() / 2]);
        let l = parse(Path::new("s.jsonl"), text.as_bytes()).unwrap();
        assert_eq!(l.records.len(), 1);
        assert!(l.warnings[0].contains("s.jsonl:2"), "{:?}", l.warnings);
    }

    #[test]
    fn errors_name_the_file_and_line() {
        assert_eq!(err(""), "s.jsonl: no stats records in the file (is it the --stats-json output of `weir run`?)");
        assert!(err("\n\n").contains("no stats records"));
        let e = err(&format!("{}\nnot json\n{}\n", line(1.0), line(2.0)));
        assert!(e.starts_with("s.jsonl:2: not a valid stats record: not JSON"), "{e}");
        let e = err(&format!("{}\n{{\"type\":\"interval\"}}\n", line(1.0)));
        assert!(e.starts_with("s.jsonl:2: not a valid stats record: missing field"), "{e}");
        let e = err("{\"a\":1}\n");
        assert!(e.starts_with("s.jsonl:1:") && e.contains("\"type\""), "{e}");
        let e = parse(Path::new("s.jsonl"), b"\xff\xfe\n").unwrap_err().to_string();
        assert!(e.starts_with("s.jsonl:1:") && e.contains("UTF-8"), "{e}");
    }

    #[test]
    fn a_missing_file_is_named() {
        let e = read(Path::new("/nonexistent/weir-stats.jsonl")).unwrap_err().to_string();
        assert!(e.starts_with("/nonexistent/weir-stats.jsonl: cannot read:"), "{e}");
    }
}
