//! Real Python OAuth clients (`tests/python/*.py`: Authlib, PyJWT), run against a test
//! server from a virtual environment that this module makes on first use — `python3 -m
//! venv`, then `pip install` of `tests/python/requirements.txt` — and keeps in the build
//! directory, so `cargo test` brings what it needs. A changed requirements file makes a new
//! environment. Needs `python3` with `venv` and access to PyPI the first time.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use tokio::sync::OnceCell;

const REQUIREMENTS: &str = include_str!("../python/requirements.txt");
const SCRIPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/python");

static INTERPRETER: OnceCell<PathBuf> = OnceCell::const_new();

fn run(command: &mut Command) -> Result<()> {
    let output = command.output().with_context(|| format!("cannot run {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// Makes the environment in a fresh directory and moves it into place, so a half-made
/// environment is never used.
fn make_environment(dir: &Path) -> Result<PathBuf> {
    let python = dir.join("bin").join("python");
    let marker = dir.join("keyhaven-requirements.txt");
    if std::fs::read_to_string(&marker).is_ok_and(|installed| installed == REQUIREMENTS) {
        return Ok(python);
    }
    let staging = dir.with_extension(format!("staging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    run(Command::new("python3").arg("-m").arg("venv").arg(&staging))?;
    let requirements = staging.join("requirements.txt");
    std::fs::write(&requirements, REQUIREMENTS)?;
    run(Command::new(staging.join("bin").join("pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(&requirements))?;
    std::fs::write(staging.join("keyhaven-requirements.txt"), REQUIREMENTS)?;
    let _ = std::fs::remove_dir_all(dir);
    std::fs::rename(&staging, dir).with_context(|| format!("cannot move the environment to {}", dir.display()))?;
    // A venv's scripts name their own path; the interpreter itself moves fine.
    Ok(python)
}

/// The environment's interpreter, made on first use.
pub async fn interpreter() -> Result<PathBuf> {
    INTERPRETER
        .get_or_try_init(|| async {
            let dir = PathBuf::from(env!("OUT_DIR")).join("python-env");
            tokio::task::spawn_blocking(move || make_environment(&dir)).await?
        })
        .await
        .cloned()
}

/// Runs `tests/python/<script>` with `env`; its standard output, as JSON.
pub async fn run_script(script: &str, env: &[(&str, &str)]) -> Result<serde_json::Value> {
    let python = interpreter().await?;
    let mut command = Command::new(python);
    command.arg(self::script(script));
    for (name, value) in env {
        command.env(name, value);
    }
    let output = tokio::task::spawn_blocking(move || command.output()).await??;
    if !output.status.success() {
        bail!(
            "{script} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    serde_json::from_slice(&output.stdout).with_context(|| format!("{script} printed no JSON line"))
}

/// The path of a file in `tests/python`.
pub fn script(name: &str) -> PathBuf {
    Path::new(SCRIPTS).join(name)
}

/// Runs the environment's interpreter with `args` (e.g. `-m` and a tool's module) and
/// `env`, in a fresh temporary directory (so what a tool keeps there stays out of the
/// sources); its exit status and output.
pub async fn run_interpreter(args: &[&str], env: &[(&str, &str)]) -> Result<std::process::Output> {
    let python = interpreter().await?;
    let dir = tempfile::tempdir()?;
    let mut command = Command::new(python);
    command.args(args).current_dir(dir.path());
    for (name, value) in env {
        command.env(name, value);
    }
    let output = tokio::task::spawn_blocking(move || command.output()).await??;
    drop(dir);
    Ok(output)
}
