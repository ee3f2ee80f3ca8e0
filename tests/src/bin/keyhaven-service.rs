//! The `keyhaven` command itself (`host/src/main.rs`, compiled here as a module), as a
//! binary of this package: cargo tells an integration test where its own package's
//! binaries are and no other's, and the stop and crash tests run the service as a real
//! child process to signal and kill.

#[path = "../../../host/src/main.rs"]
mod service;

fn main() -> anyhow::Result<()> {
    service::main()
}
