//! Host side of `keyhaven:extension/log`, and the capture of a guest's standard output and
//! error. Everything a guest says goes into one per-invocation capture bounded by the
//! tenant's log-bytes limit (what does not fit is counted, not kept), and what was kept
//! reaches the service's tracing output only at debug level (target `keyhaven::guest`),
//! tagged with tenant and deployment, so no tenant can flood the operator's log.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use serde::Serialize;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

use super::bindings::log::{Host, Level};
use super::bindings::types;
use super::state::HostState;

/// One captured line: a log call, or a line of standard output or error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LogLine {
    /// `trace` … `error` for log calls, `stdout` or `stderr` for output.
    pub level: &'static str,
    pub message: String,
}

/// What a guest said during one invocation.
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct CapturedLog {
    #[serde(skip)]
    limit_bytes: usize,
    #[serde(skip)]
    used_bytes: usize,
    pub lines: Vec<LogLine>,
    /// Lines (or output bytes, counted as lines of output) that did not fit.
    pub dropped: usize,
}

impl CapturedLog {
    pub fn new(limit_bytes: usize) -> Self {
        CapturedLog { limit_bytes, ..Default::default() }
    }

    /// Keeps what fits of `message` and returns it; `None` once the capture is full.
    fn push(&mut self, level: &'static str, message: &str) -> Option<&str> {
        let remaining = self.limit_bytes.saturating_sub(self.used_bytes);
        if remaining == 0 {
            self.dropped += 1;
            return None;
        }
        let mut end = message.len().min(remaining);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        self.used_bytes += end;
        self.lines.push(LogLine { level, message: message[..end].to_owned() });
        self.lines.last().map(|line| line.message.as_str())
    }

    /// The capture as text, one line per entry, for invocation records.
    pub fn text(&self) -> String {
        let mut text = String::new();
        for line in &self.lines {
            text.push_str(line.level);
            text.push_str(": ");
            text.push_str(&line.message);
            text.push('\n');
        }
        if self.dropped > 0 {
            text.push_str(&format!("… {} more dropped (log limit)\n", self.dropped));
        }
        text
    }
}

/// The capture, shared between the store and the guest's output streams.
#[derive(Clone, Debug, Default)]
pub struct SharedLog(Arc<Mutex<CapturedLog>>);

impl SharedLog {
    pub fn new(log: CapturedLog) -> Self {
        SharedLog(Arc::new(Mutex::new(log)))
    }

    fn push(&self, level: &'static str, message: &str, context: Option<(&str, &str)>) {
        let Ok(mut log) = self.0.lock() else { return };
        if let Some(kept) = log.push(level, message)
            && let Some((tenant, deployment)) = context
        {
            tracing::debug!(target: "keyhaven::guest", %tenant, %deployment, level, "{kept}");
        }
    }

    /// A line the host adds to the guest's capture (e.g. why an outbound request was refused).
    pub fn push_host(&self, level: &'static str, message: &str) {
        self.push(level, message, None);
    }

    /// What was captured so far.
    pub fn snapshot(&self) -> CapturedLog {
        self.0.lock().map(|log| log.clone()).unwrap_or_default()
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Trace => "trace",
        Level::Debug => "debug",
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Error => "error",
    }
}

impl Host for HostState {
    async fn log(&mut self, level: Level, message: String) {
        let context = Some((self.context.tenant_id.as_str(), self.context.deployment_id.as_str()));
        self.log.push(level_name(level), &message, context);
    }
}

impl types::Host for HostState {}

/// A guest's standard output or error: split into lines and captured; never an error
/// towards the guest, even when the capture is full.
pub struct CapturedOutput {
    log: SharedLog,
    stream: &'static str,
}

impl CapturedOutput {
    pub fn new(log: SharedLog, stream: &'static str) -> Self {
        CapturedOutput { log, stream }
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(OutputWriter { log: self.log.clone(), stream: self.stream, partial: Vec::new() })
    }
}

struct OutputWriter {
    log: SharedLog,
    stream: &'static str,
    /// Bytes of a line not yet ended by a newline (bounded: long lines are cut).
    partial: Vec<u8>,
}

const MAX_LINE: usize = 4096;

impl OutputWriter {
    fn flush_line(&mut self) {
        if !self.partial.is_empty() {
            let line = String::from_utf8_lossy(&self.partial).into_owned();
            self.log.push(self.stream, &line, None);
            self.partial.clear();
        }
    }
}

impl AsyncWrite for OutputWriter {
    fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        for &byte in buf {
            if byte == b'\n' {
                self.flush_line();
            } else if self.partial.len() < MAX_LINE {
                self.partial.push(byte);
            }
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.flush_line();
        Poll::Ready(Ok(()))
    }
}

impl Drop for OutputWriter {
    fn drop(&mut self) {
        self.flush_line();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_is_bounded_and_counts_what_it_drops() {
        let mut log = CapturedLog::new(10);
        assert_eq!(log.push("info", "12345"), Some("12345"));
        assert!(log.push("info", "héllo wörld").is_some());
        assert_eq!(log.push("info", "dropped"), None);
        assert_eq!(log.lines.len(), 2);
        assert_eq!(log.lines[0].message, "12345");
        assert!(log.lines[1].message.len() <= 5);
        assert!("héllo wörld".starts_with(&log.lines[1].message));
        assert_eq!(log.dropped, 1);
        assert!(log.text().ends_with("… 1 more dropped (log limit)\n"));
    }

    #[test]
    fn output_is_split_into_lines() {
        let log = SharedLog::new(CapturedLog::new(100));
        let mut writer = OutputWriter { log: log.clone(), stream: "stdout", partial: Vec::new() };
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let _ = Pin::new(&mut writer).poll_write(&mut cx, b"one\ntw");
        let _ = Pin::new(&mut writer).poll_write(&mut cx, b"o\n");
        drop(writer);
        let lines: Vec<_> = log.snapshot().lines.into_iter().map(|l| (l.level, l.message)).collect();
        assert_eq!(lines, vec![("stdout", "one".to_owned()), ("stdout", "two".to_owned())]);
    }
}
