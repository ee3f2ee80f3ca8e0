//! Builds a JavaScript or TypeScript handler uploaded as source into a component, with the
//! node's JavaScript toolchain: the SDK's `keyhaven-js build` (`sdk/js/bin/keyhaven-js.mjs`
//! with its packages installed, run by `node`), the same command tenant developers run.
//! It runs on the build worker's blocking thread, one build at a time, in a directory of
//! its own that is removed afterwards, and is killed at its timeout. What it reports of a
//! failure (esbuild's or the componentizer's messages) is the tenant's to read, so the
//! directory's path is taken out of it.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one source build may take (a QuickJS component takes 1–3 s here).
pub const BUILD_TIMEOUT: Duration = Duration::from_secs(120);
/// The most of the build's messages kept as the version's build error.
const MAX_ERROR_CHARS: usize = 2_000;

/// The language a handler was uploaded in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceType {
    JavaScript,
    TypeScript,
}

impl SourceType {
    /// The source type an upload's media type names (`application/javascript`,
    /// `text/javascript`, `application/typescript`, `text/typescript`), if any.
    pub fn from_media_type(media_type: &str) -> Option<SourceType> {
        match media_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase().as_str() {
            "application/javascript" | "text/javascript" => Some(SourceType::JavaScript),
            "application/typescript" | "text/typescript" | "application/x-typescript" => Some(SourceType::TypeScript),
            _ => None,
        }
    }

    pub fn parse(name: &str) -> Option<SourceType> {
        match name {
            "javascript" => Some(SourceType::JavaScript),
            "typescript" => Some(SourceType::TypeScript),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SourceType::JavaScript => "javascript",
            SourceType::TypeScript => "typescript",
        }
    }

    /// The media type the source is served back with.
    pub fn media_type(self) -> &'static str {
        match self {
            SourceType::JavaScript => "text/javascript; charset=utf-8",
            SourceType::TypeScript => "text/typescript; charset=utf-8",
        }
    }

    fn file_name(self) -> &'static str {
        match self {
            SourceType::JavaScript => "handler.js",
            SourceType::TypeScript => "handler.ts",
        }
    }
}

/// Why a source build made no component.
#[derive(Debug, thiserror::Error)]
pub enum SourceBuildError {
    #[error("the JavaScript build could not start: {0}")]
    Start(String),
    #[error("the JavaScript build did not finish within {} s", .0.as_secs())]
    Timeout(Duration),
    #[error("the JavaScript build failed: {0}")]
    Failed(String),
}

/// A directory removed when dropped.
struct WorkDirectory(PathBuf);

impl Drop for WorkDirectory {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Builds `source` with the toolchain whose build command is `script`; the component's
/// bytes. `work_name` names the working directory (unique per build).
pub fn build_blocking(
    script: &Path,
    source: &str,
    kind: SourceType,
    work_name: &str,
    timeout: Duration,
) -> Result<Vec<u8>, SourceBuildError> {
    let start = |e: std::io::Error| SourceBuildError::Start(e.to_string());
    let work = WorkDirectory(std::env::temp_dir().join(work_name));
    std::fs::create_dir_all(&work.0).map_err(start)?;
    let entry = work.0.join(kind.file_name());
    let output = work.0.join("component.wasm");
    std::fs::write(&entry, source).map_err(start)?;
    let mut child = Command::new("node")
        .arg(script)
        .arg("build")
        .arg(&entry)
        .arg("-o")
        .arg(&output)
        .current_dir(&work.0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| SourceBuildError::Start(format!("cannot run node: {e}")))?;
    // Read standard error on a thread of its own, so a chatty build never blocks on a full pipe.
    let mut stderr = child.stderr.take().ok_or_else(|| SourceBuildError::Start("no stderr pipe".into()))?;
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait().map_err(start)? {
            Some(status) => break status,
            None if started.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(SourceBuildError::Timeout(timeout));
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let messages = reader.join().unwrap_or_default();
    if !status.success() {
        let directory = format!("{}/", work.0.display());
        let cleaned: String = messages.replace(&directory, "").trim().chars().take(MAX_ERROR_CHARS).collect();
        return Err(SourceBuildError::Failed(if cleaned.is_empty() {
            format!("exit status {status}")
        } else {
            cleaned
        }));
    }
    std::fs::read(&output).map_err(|e| SourceBuildError::Failed(format!("no component was written: {e}")))
}

/// The build command of the JavaScript toolchain in the current directory's `sdk/js`, if
/// its packages are installed there (a checkout of this repository after `npm ci`).
pub fn detect_toolchain() -> Option<PathBuf> {
    let sdk = Path::new("sdk/js");
    let script = sdk.join("bin/keyhaven-js.mjs");
    let installed = sdk.join("node_modules/componentize-qjs").is_dir() && sdk.join("node_modules/esbuild").is_dir();
    (script.is_file() && installed).then(|| std::fs::canonicalize(&script).unwrap_or(script))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_name_the_source_type() {
        assert_eq!(SourceType::from_media_type("application/javascript"), Some(SourceType::JavaScript));
        assert_eq!(SourceType::from_media_type("Text/JavaScript; charset=utf-8"), Some(SourceType::JavaScript));
        assert_eq!(SourceType::from_media_type("text/typescript"), Some(SourceType::TypeScript));
        assert_eq!(SourceType::from_media_type("application/wasm"), None);
        for kind in [SourceType::JavaScript, SourceType::TypeScript] {
            assert_eq!(SourceType::parse(kind.as_str()), Some(kind));
        }
    }
}
