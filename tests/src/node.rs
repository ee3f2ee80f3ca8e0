//! Real JavaScript OAuth clients (`tests/node/*.mjs`: oauth4webapi), run with `node` against
//! a test server. On first use this module copies `tests/node`'s `package.json` and
//! `package-lock.json` into a directory of the build and installs exactly what the lockfile
//! names with `npm ci`; a changed lockfile makes a new installation. Needs `node` (20 or
//! later) and `npm` on the PATH, and access to the npm registry the first time.
//!
//! The real-browser script (`browser_login.mjs`, playwright-core) drives the system's
//! Chromium — Debian's `chromium`, or the binary `CHROMIUM` names — never a browser of
//! Playwright's own; [`chromium`] finds it, or says the test is skipped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::sync::OnceCell;

const PACKAGE: &str = include_str!("../node/package.json");
const LOCKFILE: &str = include_str!("../node/package-lock.json");
/// What the scripts share; installed beside the packages, where the scripts' copies run.
const HARNESS: &str = include_str!("../node/harness.mjs");
const SCRIPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/node");
/// How long one script may run before it is killed (the scripts' own watchdogs stop them
/// sooner, printing where they were).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(240);
/// How long `npm ci` may take.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);
/// Names the Chromium binary the real-browser tests drive.
pub const CHROMIUM_VARIABLE: &str = "CHROMIUM";
/// Where Debian's `chromium` package puts it.
const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";

static MODULES: OnceCell<PathBuf> = OnceCell::const_new();

/// The standard output and error of a finished command, or an error if it failed or ran
/// out of time (it is killed then).
pub(crate) fn run(command: &mut Command, timeout: Duration) -> Result<std::process::Output> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {command:?}"))?;
    // Read both pipes on threads of their own, so a chatty child never blocks on a full pipe.
    let mut stdout = child.stdout.take().context("no stdout pipe")?;
    let mut stderr = child.stderr.take().context("no stderr pipe")?;
    let out = std::thread::spawn(move || {
        let mut buffer = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut buffer).map(|_| buffer)
    });
    let err = std::thread::spawn(move || {
        let mut buffer = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut buffer).map(|_| buffer)
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out.join().map_err(|_| anyhow::anyhow!("stdout reader panicked"))??;
    let stderr = err.join().map_err(|_| anyhow::anyhow!("stderr reader panicked"))??;
    let Some(status) = status else {
        bail!(
            "{command:?} ran longer than {timeout:?} and was killed:\n{}{}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        );
    };
    if !status.success() {
        bail!(
            "{command:?} failed ({status}):\n{}{}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        );
    }
    Ok(std::process::Output { status, stdout, stderr })
}

/// Installs the lockfile's packages (and `harness.mjs`) in a fresh directory and moves it
/// into place, so a half-made installation is never used; an installation of the same
/// lockfile is kept.
fn install(dir: &Path) -> Result<PathBuf> {
    install_locked(dir, PACKAGE, LOCKFILE, &[(PathBuf::from("harness.mjs"), HARNESS.as_bytes().to_vec())])
}

/// Installs `package`/`lockfile` (with `files`, paths relative to `dir`, written beside
/// them) into `dir` with `npm ci`, atomically; kept while the same lockfile and files are
/// installed there.
pub(crate) fn install_locked(
    dir: &Path,
    package: &str,
    lockfile: &str,
    files: &[(PathBuf, Vec<u8>)],
) -> Result<PathBuf> {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    (package, lockfile, files).hash(&mut hasher);
    let fingerprint = format!("{}\n{:016x}", lockfile.len(), hasher.finish());
    let modules = dir.join("node_modules");
    let marker = dir.join("keyhaven-installed");
    if std::fs::read_to_string(&marker).is_ok_and(|installed| installed == fingerprint) && modules.is_dir() {
        return Ok(modules);
    }
    let staging = dir.with_extension(format!("staging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging)?;
    std::fs::write(staging.join("package.json"), package)?;
    std::fs::write(staging.join("package-lock.json"), lockfile)?;
    for (path, contents) in files {
        let path = staging.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, contents)?;
    }
    run(
        Command::new("npm")
            .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&staging),
        INSTALL_TIMEOUT,
    )?;
    std::fs::write(staging.join("keyhaven-installed"), &fingerprint)?;
    let _ = std::fs::remove_dir_all(dir);
    std::fs::rename(&staging, dir).with_context(|| format!("cannot move the packages to {}", dir.display()))?;
    Ok(modules)
}

/// The Chromium binary for the real-browser tests: `CHROMIUM`, or Debian's
/// `/usr/bin/chromium`. Without it, `None` and a note on the terminal that the test was
/// skipped — except in CI (`CI` set), where a missing Chromium is a failure.
pub fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os(CHROMIUM_VARIABLE)
        .filter(|path| !path.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_CHROMIUM), PathBuf::from);
    if path.is_file() {
        return Some(path);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "no Chromium at {}: CI runs the real-browser test (apt-get install chromium, or set {CHROMIUM_VARIABLE})",
            path.display()
        );
    }
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        use std::io::Write;
        // Straight to the terminal: the test harness captures print!/eprint!.
        let _ = writeln!(
            std::io::stderr(),
            "\nreal-browser test SKIPPED: install Debian chromium (no Chromium at {}; {CHROMIUM_VARIABLE} names \
             another; each variant passed without running)\n",
            path.display()
        );
    });
    None
}

/// The installed `node_modules` directory, made on first use.
pub async fn modules() -> Result<PathBuf> {
    MODULES
        .get_or_try_init(|| async {
            let dir = PathBuf::from(env!("OUT_DIR")).join("node-env");
            tokio::task::spawn_blocking(move || install(&dir)).await?
        })
        .await
        .cloned()
}

/// Runs `tests/node/<script>` with `env`, killed after four minutes; the last line of its
/// standard output, as JSON.
pub async fn run_script(script: &str, env: &[(&str, &str)]) -> Result<serde_json::Value> {
    let modules = modules().await?;
    // An ES module resolves bare imports from its own directory upwards (NODE_PATH does
    // not apply): run a copy of the script beside the installed packages, one per run, so
    // tests running at once never see each other's half-written copy.
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let source = Path::new(SCRIPTS).join(script);
    let copy = modules.parent().context("node_modules has no parent")?.join(format!(
        "run-{}-{}-{script}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::copy(&source, &copy).with_context(|| format!("cannot copy {}", source.display()))?;
    let mut command = Command::new("node");
    command.arg(&copy);
    for (name, value) in env {
        command.env(name, value);
    }
    let output = tokio::task::spawn_blocking(move || run(&mut command, SCRIPT_TIMEOUT)).await?;
    let _ = std::fs::remove_file(&copy);
    let output = output.with_context(|| format!("{script} failed"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or_default();
    serde_json::from_str(last)
        .with_context(|| format!("{script} printed no JSON line:\n{stdout}{}", String::from_utf8_lossy(&output.stderr)))
}
