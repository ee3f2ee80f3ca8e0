//! Host side of `keyhaven:extension/log`: each line goes into a per-invocation capture
//! bounded by the log-bytes limit (lines beyond it are counted, not kept), and to the
//! service's tracing output at debug level (target `keyhaven::guest`), tagged with tenant
//! and deployment.

use super::bindings::log::{Host, Level};
use super::bindings::types;
use super::state::HostState;

/// Log lines captured during one invocation.
#[derive(Debug, Default)]
pub struct CapturedLog {
    limit_bytes: usize,
    used_bytes: usize,
    pub lines: Vec<(Level, String)>,
    pub dropped_lines: usize,
}

impl CapturedLog {
    pub fn new(limit_bytes: usize) -> Self {
        CapturedLog { limit_bytes, ..Default::default() }
    }

    /// Keeps what fits of `message` and returns it; `None` once the capture is full.
    fn push(&mut self, level: Level, message: &str) -> Option<&str> {
        let remaining = self.limit_bytes.saturating_sub(self.used_bytes);
        if remaining == 0 {
            self.dropped_lines += 1;
            return None;
        }
        let mut end = message.len().min(remaining);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        self.used_bytes += end;
        self.lines.push((level, message[..end].to_owned()));
        self.lines.last().map(|(_, kept)| kept.as_str())
    }
}

impl Host for HostState {
    fn log(&mut self, level: Level, message: String) {
        // Guests' lines belong to their tenant (the capture); the service log gets only what
        // was captured, at debug level, so no tenant can flood the operator's log.
        if let Some(kept) = self.log.push(level, &message) {
            tracing::debug!(
                target: "keyhaven::guest",
                tenant = %self.context.tenant_id,
                deployment = %self.context.deployment_id,
                level = ?level,
                "{kept}"
            );
        }
    }
}

impl types::Host for HostState {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_is_bounded_and_counts_what_it_drops() {
        let mut log = CapturedLog::new(10);
        assert_eq!(log.push(Level::Info, "12345"), Some("12345"));
        assert!(log.push(Level::Info, "héllo wörld").is_some());
        assert_eq!(log.push(Level::Info, "dropped"), None);
        assert_eq!(log.lines.len(), 2);
        assert_eq!(log.lines[0].1, "12345");
        assert!(log.lines[1].1.len() <= 5);
        assert!("héllo wörld".starts_with(&log.lines[1].1));
        assert_eq!(log.dropped_lines, 1);
    }
}
