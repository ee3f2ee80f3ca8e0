//! The `keyhaven` command line for administrators and CI pipelines: subcommands over the
//! admin API (`tenant`, `account`, `client`, `ext`, `keys`, `events`, `usage`), a saved
//! profile (the service's base URL, a personal access token and a tenant: `keyhaven
//! login`), tables for people and `--json` for scripts, a progress indicator while a
//! component uploads and builds, and exit codes scripts can rely on ([`Exit`]). An error is
//! one line on standard error. It is a client of the HTTP API like any other: nothing here
//! touches the database, and everything it does an administrator could do with curl.

mod client;
mod commands;
mod output;
mod profile;

use std::io::Write;

use clap::Parser;

pub use commands::Command;

/// Options every admin command takes.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct Options {
    /// The saved profile to use (default: the one `login` saved last).
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// The tenant to act on (default: the profile's, or KEYHAVEN_TENANT).
    #[arg(long, global = true)]
    pub tenant: Option<String>,
    /// Print the API's JSON answers instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

/// How a command ended: its exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Done.
    Ok = 0,
    /// A local problem: a file that cannot be read, a profile that cannot be saved.
    Failed = 1,
    /// The command line itself is wrong, or names no profile or tenant.
    Usage = 2,
    /// The token was refused (401) or may not do this (403).
    Unauthorized = 3,
    /// What the command names does not exist (404).
    NotFound = 4,
    /// It conflicts with what exists, or changed meanwhile (409, 412).
    Conflict = 5,
    /// The service refused the request as invalid (400, 413, 415, 422, any other 4xx).
    Refused = 6,
    /// The service could not be reached or failed (5xx).
    Unavailable = 7,
    /// An extension did not build, or its test run did not end `ok`.
    ExtensionFailed = 8,
}

impl Exit {
    /// The process exit status.
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("{status} {kind}: {detail}")]
    Api { status: u16, kind: String, detail: String },
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{0}")]
    Local(String),
    #[error("{0}")]
    ExtensionFailed(String),
}

impl CliError {
    /// The exit status this failure ends the command with.
    pub fn exit(&self) -> Exit {
        match self {
            CliError::Usage(_) => Exit::Usage,
            CliError::Api { status: 401 | 403, .. } => Exit::Unauthorized,
            CliError::Api { status: 404, .. } => Exit::NotFound,
            CliError::Api { status: 409 | 412, .. } => Exit::Conflict,
            CliError::Api { status: 400..=499, .. } => Exit::Refused,
            CliError::Api { .. } | CliError::Unreachable { .. } => Exit::Unavailable,
            CliError::Local(_) => Exit::Failed,
            CliError::ExtensionFailed(_) => Exit::ExtensionFailed,
        }
    }
}

pub type Result<T, E = CliError> = std::result::Result<T, E>;

/// What a command reads and writes besides the service: its output streams, its
/// environment (`KEYHAVEN_URL`, `KEYHAVEN_TOKEN`, `KEYHAVEN_TENANT`, `KEYHAVEN_CLI_CONFIG`,
/// `XDG_CONFIG_HOME`, `HOME`), and whether to draw progress on `err` (a terminal).
pub struct Io<'a> {
    pub out: &'a mut (dyn Write + Send),
    pub err: &'a mut (dyn Write + Send),
    pub env: &'a (dyn Fn(&str) -> Option<String> + Send + Sync),
    pub progress: bool,
}

/// Runs one admin command; its failure, if any, is one line on `io.err`.
pub async fn run(options: Options, command: Command, io: &mut Io<'_>) -> Exit {
    match commands::run(&options, command, io).await {
        Ok(()) => Exit::Ok,
        Err(error) => {
            let _ = writeln!(io.err, "error: {error}");
            error.exit()
        }
    }
}

/// The admin commands alone, as `run_args` parses them.
#[derive(Parser)]
#[command(name = "keyhaven")]
struct AdminArgs {
    #[command(flatten)]
    options: Options,
    #[command(subcommand)]
    command: Command,
}

/// Parses `args` (the program's name first) as an admin command and runs it.
pub async fn run_args<I, T>(args: I, io: &mut Io<'_>) -> Exit
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    match AdminArgs::try_parse_from(args) {
        Ok(parsed) => run(parsed.options, parsed.command, io).await,
        // Help and the version go to the output; a wrong command line is an error.
        Err(error) if !error.use_stderr() => {
            let _ = write!(io.out, "{}", error.render());
            Exit::Ok
        }
        Err(error) => {
            let _ = write!(io.err, "{}", error.render());
            Exit::Usage
        }
    }
}
