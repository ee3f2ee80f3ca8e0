//! Keyhaven integration tests: one binary, the real service in-process on 127.0.0.1:0
//! with its own SQLite file, real wasmtime guests built by `tests/build.rs`, real HTTP,
//! and tokens verified against the published JWKS. Each test makes its own tenants.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin;
mod extensions;
mod harness;
mod hooks;
mod platform;
mod tokens;
