//! What the command line prints: tables of chosen fields for people, the API's JSON as it
//! came for scripts (`--json`), one resource as `field: value` lines, and the progress of a
//! long wait drawn on one terminal line of standard error.

use std::io::Write;
use std::time::Duration;

use serde_json::Value;

use super::{CliError, Result};

/// A table column: its header, the field it shows, and how.
pub struct Column {
    pub header: &'static str,
    pub field: &'static str,
    pub kind: Kind,
}

#[derive(Clone, Copy)]
pub enum Kind {
    Text,
    /// Unix seconds, shown in UTC.
    Time,
}

pub const fn text(header: &'static str, field: &'static str) -> Column {
    Column { header, field, kind: Kind::Text }
}

pub const fn time(header: &'static str, field: &'static str) -> Column {
    Column { header, field, kind: Kind::Time }
}

fn failed(error: std::io::Error) -> CliError {
    CliError::Local(format!("cannot write the output: {error}"))
}

/// A value as one cell: text as is, `-` for nothing, anything else as compact JSON.
fn cell(value: &Value, kind: Kind) -> String {
    match (value, kind) {
        (Value::Null, _) => "-".into(),
        (Value::Number(n), Kind::Time) => n
            .as_i64()
            .and_then(|seconds| chrono::DateTime::from_timestamp(seconds, 0))
            .map_or_else(|| n.to_string(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string()),
        (Value::String(s), _) => s.replace(['\n', '\t'], " "),
        (Value::Array(items), _) if items.iter().all(Value::is_string) => {
            items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(",")
        }
        (other, _) => other.to_string(),
    }
}

/// `rows` as a table of `columns`, each as wide as its widest cell.
pub fn table(out: &mut (dyn Write + Send), rows: &[Value], columns: &[Column]) -> Result<()> {
    let cells: Vec<Vec<String>> =
        rows.iter().map(|row| columns.iter().map(|c| cell(&row[c.field], c.kind)).collect()).collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| cells.iter().map(|r| r[i].chars().count()).chain([c.header.len()]).max().unwrap_or(0))
        .collect();
    let line = |values: Vec<&str>| {
        let padded: Vec<String> = values.iter().zip(&widths).map(|(v, w)| format!("{v:<w$}")).collect();
        padded.join("  ").trim_end().to_owned()
    };
    writeln!(out, "{}", line(columns.iter().map(|c| c.header).collect())).map_err(failed)?;
    for row in &cells {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect())).map_err(failed)?;
    }
    Ok(())
}

/// One resource as `field: value` lines, in the API's order.
pub fn fields(out: &mut (dyn Write + Send), value: &Value) -> Result<()> {
    match value.as_object() {
        Some(object) => {
            let width = object.keys().map(String::len).max().unwrap_or(0) + 1;
            for (name, value) in object {
                let kind = match name.ends_with("_at") || name == "time" || name == "published_until" {
                    true => Kind::Time,
                    false => Kind::Text,
                };
                writeln!(out, "{:<width$} {}", format!("{name}:"), cell(value, kind)).map_err(failed)?;
            }
            Ok(())
        }
        None => writeln!(out, "{}", cell(value, Kind::Text)).map_err(failed),
    }
}

/// The API's JSON, pretty.
pub fn json(out: &mut (dyn Write + Send), value: &Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::Local(e.to_string()))?;
    writeln!(out, "{text}").map_err(failed)
}

/// `bytes` for people: B, KiB or MiB.
pub fn size(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1_048_576 => format!("{:.1} KiB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
    }
}

/// A progress line on standard error, redrawn in place; nothing when not on a terminal.
pub struct Progress {
    enabled: bool,
    drawn: bool,
}

impl Progress {
    pub fn new(enabled: bool) -> Self {
        Progress { enabled, drawn: false }
    }

    /// Redraws the line: `label`, and how far along (`done` of `total`) or how long.
    pub fn draw(&mut self, err: &mut (dyn Write + Send), label: &str, done: Option<(u64, u64)>, elapsed: Duration) {
        if !self.enabled {
            return;
        }
        let status = match done {
            Some((done, total)) if total > 0 => {
                let percent = done.min(total) * 100 / total;
                let filled = usize::try_from(percent / 5).unwrap_or(20);
                format!("[{:<20}] {percent:>3}% {} of {}", "#".repeat(filled), size(done.min(total)), size(total))
            }
            _ => format!("{:.1} s", elapsed.as_secs_f64()),
        };
        let _ = write!(err, "\r\x1b[2K{label} {status}");
        let _ = err.flush();
        self.drawn = true;
    }

    /// Ends the line, keeping what it last said.
    pub fn finish(&mut self, err: &mut (dyn Write + Send)) {
        if self.drawn {
            let _ = writeln!(err);
            self.drawn = false;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    #[test]
    fn tables_align_their_columns_and_show_times_in_utc() {
        let rows = [json!({"name": "acme", "state": "ENABLED", "created_at": 0}), json!({"name": "b", "state": null})];
        let mut out = Vec::new();
        table(&mut out, &rows, &[text("NAME", "name"), text("STATE", "state"), time("CREATED", "created_at")]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "NAME  STATE    CREATED\nacme  ENABLED  1970-01-01 00:00:00\nb     -        -\n"
        );
    }

    #[test]
    fn progress_is_drawn_only_when_asked() {
        let mut err = Vec::new();
        let mut quiet = Progress::new(false);
        quiet.draw(&mut err, "uploading", Some((1, 2)), Duration::ZERO);
        quiet.finish(&mut err);
        assert!(err.is_empty());
        let mut shown = Progress::new(true);
        shown.draw(&mut err, "uploading", Some((2048, 4096)), Duration::ZERO);
        shown.finish(&mut err);
        let drawn = String::from_utf8(err).unwrap();
        assert!(drawn.contains("uploading [##########          ]  50% 2.0 KiB of 4.0 KiB"), "{drawn:?}");
        assert!(drawn.ends_with('\n'));
    }
}
