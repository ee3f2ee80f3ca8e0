//! JavaScript extensions for the tests and benchmarks: builds a handler module under
//! `example-extensions/js/` or `tests/guests/js/` into a component with the SDK's own build
//! command (`sdk/js`, `keyhaven-js build`), as a tenant developer would.
//!
//! On first use the SDK (its `package.json`, lockfile, sources and tests) is copied into a
//! directory of the build, laid out as the repository is (`sdk/js`, `wit`,
//! `example-extensions/js`), and its packages installed with `npm ci` (esbuild,
//! componentize-qjs, and TypeScript for the type check; nothing is downloaded at build time
//! beyond the npm registry). [`node_tests`] runs the SDK's and the examples' own Node tests
//! there. Built
//! components are kept on disk under the hash of everything that goes into them (the
//! SDK, the handler's folder and `wit/`), so each is built once per change, not once per
//! test or per run. Needs `node` (20 or later) and `npm` on the PATH.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result};

const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
/// How long one build may take (a QuickJS component takes 2–3 s here).
const BUILD_TIMEOUT: Duration = Duration::from_secs(180);

static SDK: Mutex<Option<PathBuf>> = Mutex::new(None);
static BUILDS: Mutex<()> = Mutex::new(());

fn workspace() -> PathBuf {
    PathBuf::from(WORKSPACE)
}

/// The files under `dir` (recursively, skipping `node_modules`), relative to `dir`, sorted.
fn files(dir: &Path) -> Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut found = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(relative) = stack.pop() {
        for entry in std::fs::read_dir(dir.join(&relative)).with_context(|| format!("cannot read {}", dir.display()))? {
            let entry = entry?;
            let name = entry.file_name();
            if name == "node_modules" {
                continue;
            }
            let path = relative.join(&name);
            if entry.file_type()?.is_dir() {
                stack.push(path);
            } else {
                found.push((path.clone(), std::fs::read(dir.join(&path))?));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Copies `from` (a workspace folder) to the same place under `root`, replacing what was there.
fn mirror(root: &Path, from: &str) -> Result<()> {
    let target = root.join(from);
    let _ = std::fs::remove_dir_all(&target);
    for (path, contents) in files(&workspace().join(from))? {
        let path = target.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, contents)?;
    }
    Ok(())
}

/// The installed SDK (`<root>/sdk/js` of a copy laid out as the repository), made once per
/// test run; its packages are reinstalled only when the lockfile or the SDK changed.
fn sdk() -> Result<PathBuf> {
    let mut installed = SDK.lock().map_err(|_| anyhow::anyhow!("SDK lock poisoned"))?;
    if let Some(dir) = installed.as_ref() {
        return Ok(dir.clone());
    }
    let source = workspace().join("sdk/js");
    let package = std::fs::read_to_string(source.join("package.json"))?;
    let lockfile = std::fs::read_to_string(source.join("package-lock.json"))?;
    let sources: Vec<_> = files(&source)?
        .into_iter()
        .filter(|(path, _)| !path.starts_with("package.json") && !path.starts_with("package-lock.json"))
        .collect();
    let root = PathBuf::from(env!("OUT_DIR")).join("js-env");
    let dir = root.join("sdk/js");
    std::fs::create_dir_all(&root)?;
    crate::node::install_locked(&dir, &package, &lockfile, &sources)?;
    mirror(&root, "wit")?;
    mirror(&root, "example-extensions/js")?;
    // As `npm install` links the examples' `file:` dependency on the SDK.
    for example in std::fs::read_dir(root.join("example-extensions/js"))? {
        let example = example?.path();
        if example.is_dir() {
            let scope = example.join("node_modules/@keyhaven");
            std::fs::create_dir_all(&scope)?;
            std::os::unix::fs::symlink(&dir, scope.join("extension"))?;
        }
    }
    *installed = Some(dir.clone());
    Ok(dir)
}

/// The build command of the installed SDK (`.../sdk/js/bin/keyhaven-js.mjs`), for a test
/// server's JavaScript toolchain (`NodeLimits::js_builder`).
pub fn builder_script() -> Result<PathBuf> {
    Ok(sdk()?.join("bin/keyhaven-js.mjs"))
}

/// Runs `node --test` in `folder` (relative to the workspace: `sdk/js` or an example under
/// `example-extensions/js/`) of the installed copy; its output, or an error with it.
pub fn node_tests(folder: &str) -> Result<String> {
    let sdk = sdk()?;
    let root = sdk.parent().and_then(Path::parent).context("the SDK copy has no root")?;
    let output = crate::node::run(Command::new("node").arg("--test").current_dir(root.join(folder)), BUILD_TIMEOUT)
        .with_context(|| format!("the Node tests of {folder} failed"))?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Builds the handler module `entry` (relative to the workspace, e.g.
/// `example-extensions/js/custom-claims/handler.ts`) into a component; its path. Built once
/// per content: later calls, in this run or the next, reuse the file.
pub fn component(entry: &str) -> Result<PathBuf> {
    use std::hash::{Hash, Hasher};
    let sdk = sdk()?;
    let entry = workspace().join(entry);
    let folder = entry.parent().context("the handler has no folder")?;
    let mut hasher = std::hash::DefaultHasher::new();
    files(&workspace().join("sdk/js"))?.hash(&mut hasher);
    files(folder)?.hash(&mut hasher);
    files(&workspace().join("wit"))?.hash(&mut hasher);
    entry.hash(&mut hasher);
    let stem = entry.file_stem().and_then(|s| s.to_str()).unwrap_or("handler");
    let folder_name = folder.file_name().and_then(|s| s.to_str()).unwrap_or("js");
    let output = PathBuf::from(env!("OUT_DIR"))
        .join("js-components")
        .join(format!("{folder_name}-{stem}-{:016x}.wasm", hasher.finish()));
    // One build at a time: each takes ~150 MiB and a core.
    let _one = BUILDS.lock().map_err(|_| anyhow::anyhow!("build lock poisoned"))?;
    if output.is_file() {
        return Ok(output);
    }
    let partial = output.with_extension(format!("partial-{}", std::process::id()));
    crate::node::run(
        Command::new("node")
            .arg(sdk.join("bin/keyhaven-js.mjs"))
            .arg("build")
            .arg(&entry)
            .arg("-o")
            .arg(&partial)
            .arg("--wit")
            .arg(workspace().join("wit")),
        BUILD_TIMEOUT,
    )
    .with_context(|| format!("keyhaven-js build {} failed", entry.display()))?;
    std::fs::rename(&partial, &output)?;
    Ok(output)
}

/// Builds `entry` afresh into `output` (no cache), as `keyhaven-js build --json` reports it:
/// `{ output, bytes, handlers, world, sha256, milliseconds }`.
pub fn build_fresh(entry: &str, output: &Path) -> Result<serde_json::Value> {
    let sdk = sdk()?;
    let built = crate::node::run(
        Command::new("node")
            .arg(sdk.join("bin/keyhaven-js.mjs"))
            .arg("build")
            .arg(workspace().join(entry))
            .arg("-o")
            .arg(output)
            .arg("--wit")
            .arg(workspace().join("wit"))
            .arg("--json"),
        BUILD_TIMEOUT,
    )?;
    Ok(serde_json::from_slice(&built.stdout)?)
}

/// The bytes of [`component`].
pub fn component_bytes(entry: &str) -> Result<Vec<u8>> {
    Ok(std::fs::read(component(entry)?)?)
}
