//! Keyhaven integration tests: one binary, the real service in-process on 127.0.0.1:0
//! with its own database, real wasmtime guests built by `tests/build.rs`, real HTTP,
//! and tokens verified against the published JWKS. Each test makes its own tenants.
//!
//! Every test that runs a server is written once in `db_test!` and runs twice: as
//! `<name>::sqlite` on a fresh SQLite file per server, and as `<name>::postgres` on a fresh
//! database per server on the PostgreSQL server named by `KEYHAVEN_TEST_POSTGRES_URL`
//! (without it the PostgreSQL variants say so on the terminal and pass without running,
//! except in CI, where they fail).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// One test, run on SQLite and on PostgreSQL (see the crate documentation).
macro_rules! db_test {
    (async fn $name:ident() $body:block) => {
        db_test!(@variants $name, tokio::test, $body);
    };
    (multi_thread async fn $name:ident() $body:block) => {
        db_test!(@variants $name, tokio::test(flavor = "multi_thread", worker_threads = 2), $body);
    };
    (@variants $name:ident, $($test:tt)::+ $(($($args:tt)*))?, $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[$($test)::+ $(($($args)*))?]
            async fn sqlite() {
                keyhaven_tests::Database::Sqlite.run(async $body).await
            }

            #[$($test)::+ $(($($args)*))?]
            async fn postgres() {
                if let Some(database) = keyhaven_tests::Database::postgres() {
                    database.run(async $body).await
                }
            }
        }
    };
}

mod accounts;
mod admin;
mod administrators;
mod authorize;
mod brute_force;
mod cli;
mod console;
mod console_factors;
mod controls;
mod conventions;
mod egress;
mod extensions;
mod external;
mod faults;
mod fuzz;
mod harness;
mod hooks;
mod introspection;
mod javascript;
mod openapi;
mod operations;
mod operator_console;
mod outage;
mod platform;
mod roles;
mod sealed_keys;
mod service_process;
mod tenants;
mod tokens;
