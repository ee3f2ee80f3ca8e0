//! Builds the guest components the tests and benchmarks use (the example extensions and
//! the test guests under `tests/guests/`) for `wasm32-wasip2`, in a target directory of
//! their own, and writes their paths as constants into `$OUT_DIR/guests.rs`.
//!
//! A missing `wasm32-wasip2` target is installed with rustup; if that fails, the build
//! fails with the command to run.

use std::path::{Path, PathBuf};
use std::process::Command;

/// (package, artifact file stem, constant name)
const GUESTS: &[(&str, &str, &str)] = &[
    ("custom-claims", "custom_claims", "CUSTOM_CLAIMS"),
    ("otp-sms", "otp_sms", "OTP_SMS"),
    ("account-guard", "account_guard", "ACCOUNT_GUARD"),
    ("event-webhook", "event_webhook", "EVENT_WEBHOOK"),
    ("nightly-report", "nightly_report", "NIGHTLY_REPORT"),
    ("guest-misbehaving", "guest_misbehaving", "MISBEHAVING"),
    ("guest-protected-claim", "guest_protected_claim", "PROTECTED_CLAIM"),
    ("guest-cli-program", "guest-cli-program", "CLI_PROGRAM"),
    ("guest-echo-request", "guest_echo_request", "ECHO_REQUEST"),
];

const TARGET: &str = "wasm32-wasip2";
const PROFILE: &str = "extension";

fn main() {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir.parent().unwrap_or(&manifest_dir).to_path_buf();
    for watched in ["wit", "sdk", "example-extensions", "tests/guests", "Cargo.toml", "Cargo.lock", ".cargo"] {
        println!("cargo:rerun-if-changed={}", workspace.join(watched).display());
    }

    check_target_installed();

    // OUT_DIR is <target>/<profile>/build/<pkg>-<hash>/out; keep the guests' own target
    // directory next to it but outside the hashed folder, so it survives rebuilds.
    let out_dir = PathBuf::from(env("OUT_DIR"));
    let guest_target = out_dir.ancestors().nth(3).unwrap_or(&out_dir).join("wasm-guests");

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(&workspace)
        .args(["build", "--target", TARGET, "--profile", PROFILE])
        .arg("--target-dir")
        .arg(&guest_target);
    for (package, _, _) in GUESTS {
        command.args(["-p", package]);
    }
    // Nothing of the outer build's configuration (flags, wrappers, target) may leak into
    // the guests' build.
    for (key, _) in std::env::vars() {
        let keep = matches!(key.as_str(), "CARGO_HOME" | "CARGO_NET_OFFLINE" | "CARGO_TERM_COLOR");
        if (key.starts_with("CARGO_") && !keep)
            || key.starts_with("RUSTC")
            || key == "RUSTFLAGS"
            || key == "RUSTDOCFLAGS"
        {
            command.env_remove(key);
        }
    }
    let status = command.status().unwrap_or_else(|e| fail(&format!("cannot run cargo: {e}")));
    if !status.success() {
        fail("building the guest components for wasm32-wasip2 failed (see the output above)");
    }

    let artifacts = guest_target.join(TARGET).join(PROFILE);
    let mut constants = String::new();
    for (_, stem, constant) in GUESTS {
        let path = artifacts.join(format!("{stem}.wasm"));
        if !path.is_file() {
            fail(&format!("expected guest component at {}", path.display()));
        }
        constants.push_str(&format!("pub const {constant}: &str = {:?};\n", path.display().to_string()));
    }
    if let Err(e) = std::fs::write(out_dir.join("guests.rs"), constants) {
        fail(&format!("cannot write guests.rs: {e}"));
    }
}

/// Installs the wasm32-wasip2 target with rustup when it is missing, so that `cargo test`
/// on a fresh machine brings what it needs; fails with the command to run if it cannot.
fn check_target_installed() {
    if target_installed() {
        return;
    }
    println!("cargo:warning=installing the {TARGET} target: rustup target add {TARGET}");
    let installed = Command::new("rustup").args(["target", "add", TARGET]).status().is_ok_and(|s| s.success());
    if !installed || !target_installed() {
        fail(&format!("the {TARGET} target is not installed; run `rustup target add {TARGET}` and build again"));
    }
}

fn target_installed() -> bool {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    // Without a sysroot to look in, let the guest build itself report what is missing.
    sysroot.is_none_or(|sysroot| Path::new(&sysroot).join("lib/rustlib").join(TARGET).is_dir())
}

fn env(key: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| fail(&format!("{key} is not set")))
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1)
}
