//! The admin subcommands and what each does over the API: `login` saves a profile and
//! `whoami` says whose it is;
//! `tenant`, `account`, `client`, `keys`, `events` and `usage` read and change those
//! resources; `ext` deploys a component (upload, then wait for its build), lists
//! extensions and their versions, shows an extension's invocation log, activates a
//! version, rolls back, and test-runs a hook of a version without side effects.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::client::AdminClient;
use super::output::{self, Column, Progress, text, time};
use super::profile::{self, Profile};
use super::{CliError, Io, Options, Result};

/// How often a deploy asks whether its build is done, and for how long at most.
const BUILD_POLL: Duration = Duration::from_millis(200);
const BUILD_WAIT: Duration = Duration::from_secs(600);
/// How often the upload's progress is redrawn.
const REDRAW: Duration = Duration::from_millis(100);

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Save a profile (`--profile NAME`, default `default`): the service's base URL, a
    /// personal access token (checked now) and the tenant to act on; it becomes current.
    Login {
        /// The service's base URL, e.g. https://id.example.com.
        #[arg(long)]
        url: String,
        /// A personal access token (default: KEYHAVEN_TOKEN).
        #[arg(long)]
        token: Option<String>,
    },
    /// Who the profile's token is: role, tenant, the account it acts for with its factors,
    /// and the tokens it made.
    Whoami,
    /// Tenants: list, show, create (operators), enable, disable.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// The tenant's accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// The tenant's OAuth clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// The tenant's extensions: deploy, list, versions, logs, activate, rollback, test.
    #[command(subcommand)]
    Ext(ExtCommand),
    /// The tenant's signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The tenant's latest events.
    Events {
        /// At most this many (newest first).
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// The tenant's Monthly Active Accounts and Monthly API Calls.
    Usage {
        /// YYYY-MM (default: this month).
        #[arg(long)]
        month: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// The tenants the token may see
    List,
    /// One tenant, by name
    Get { name: String },
    /// Create a tenant (operators); prints its first administrator's token and invite once.
    Create {
        name: String,
        #[arg(long)]
        label: Option<String>,
        /// The parent tenant's name.
        #[arg(long)]
        parent: Option<String>,
    },
    /// Enable a tenant (operators)
    Enable { name: String },
    /// Disable a tenant (operators): no tokens, logins or extensions until enabled again
    Disable { name: String },
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// The tenant's accounts, by username
    List,
    /// One account with its factors
    Get { id: String },
    /// Create an account (it sets its password through an invite, or logs in with other factors).
    Create {
        username: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        phone: Option<String>,
    },
    /// Enable an account
    Enable { id: String },
    /// Disable an account: its sessions and refresh tokens end
    Disable { id: String },
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// The tenant's clients
    List,
    /// One client
    Get { client_id: String },
    /// Create a client; prints its secret once.
    Create {
        name: String,
        /// A scope the client may obtain (repeatable).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Where the authorization endpoint may send people back (repeatable).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// A public client (a browser or native app): no secret, PKCE required.
        #[arg(long)]
        public: bool,
    },
    /// A new secret (printed once); the previous one works until retired.
    RotateSecret { client_id: String },
}

#[derive(Debug, Subcommand)]
pub enum ExtCommand {
    /// Upload a component as a new version of an extension and wait for its build.
    Deploy {
        /// The component (.wasm), or a JavaScript or TypeScript handler module (.js, .mjs,
        /// .ts: its npm dependencies bundled in) for the server to build.
        file: std::path::PathBuf,
        /// The extension's name.
        #[arg(long)]
        name: String,
        /// `auto`: once built, bind the hooks it exports if the extension has no binding yet; `none`.
        #[arg(long, default_value = "auto")]
        bind: String,
        /// Return once uploaded, without waiting for the build.
        #[arg(long)]
        no_wait: bool,
    },
    /// The tenant's extensions and their active versions
    List,
    /// An extension's versions and their build state.
    Versions { name: String },
    /// An extension's latest invocations: hook, outcome, duration, fuel.
    Logs {
        name: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Make a built version the active one.
    Activate { name: String, deployment_id: String },
    /// Make the version before the active one active again.
    Rollback { name: String },
    /// Run a hook of the active version (or `--deployment`) with an input, without side
    /// effects; exits 8 unless its outcome is `ok`.
    Test {
        name: String,
        /// token-issuance, otp-delivery, account-creation, events or scheduled.
        #[arg(long)]
        hook: String,
        /// The hook's input as JSON: a file, or - for standard input.
        #[arg(long)]
        input: String,
        /// A version other than the active one.
        #[arg(long)]
        deployment: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// The tenant's signing keys: the current one and those still published
    List,
    /// Rotate now: a new key signs; the previous stays published until its tokens expire.
    Rotate,
}

const TENANT_COLUMNS: &[Column] = &[
    text("NAME", "name"),
    text("STATE", "effective_state"),
    text("LABEL", "label"),
    text("ID", "id"),
    time("CREATED", "created_at"),
];
const ACCOUNT_COLUMNS: &[Column] =
    &[text("USERNAME", "username"), text("STATE", "state"), text("ID", "id"), text("EMAIL", "email")];
const CLIENT_COLUMNS: &[Column] =
    &[text("CLIENT_ID", "client_id"), text("NAME", "name"), text("STATE", "state"), text("SCOPES", "scopes")];
const EXTENSION_COLUMNS: &[Column] = &[
    text("NAME", "name"),
    text("STATE", "state"),
    text("ACTIVE", "active_deployment_id"),
    time("UPDATED", "updated_at"),
];
const VERSION_COLUMNS: &[Column] = &[
    text("VERSION", "version"),
    text("ID", "id"),
    text("STATE", "state"),
    text("HOOKS", "hooks"),
    text("SIZE", "size_bytes"),
    time("CREATED", "created_at"),
    text("ERROR", "build_error"),
];
const INVOCATION_COLUMNS: &[Column] = &[
    time("STARTED", "started_at"),
    text("HOOK", "hook"),
    text("VERSION", "version"),
    text("OUTCOME", "outcome"),
    text("MICROSECONDS", "duration_us"),
    text("FUEL", "fuel_used"),
    text("DETAIL", "detail"),
];
const KEY_COLUMNS: &[Column] = &[
    text("KID", "kid"),
    text("ALGORITHM", "algorithm"),
    text("STATE", "state"),
    time("CREATED", "created_at"),
    time("PUBLISHED_UNTIL", "published_until"),
];
const EVENT_COLUMNS: &[Column] = &[
    time("TIME", "time"),
    text("CATEGORY", "category"),
    text("ACTION", "action"),
    text("RESULT", "result"),
    text("ACCOUNT", "account_id"),
];
const USAGE_COLUMNS: &[Column] = &[
    text("MONTH", "month"),
    text("ACTIVE_ACCOUNTS", "monthly_active_accounts"),
    text("API_CALLS", "monthly_api_calls"),
];

/// A command's connection: the client and the profile it runs as.
struct Session {
    api: AdminClient,
    profile: Profile,
    json: bool,
}

impl Session {
    fn tenant(&self) -> Result<&str> {
        self.profile.tenant.as_deref().ok_or_else(|| {
            CliError::Usage("no tenant: pass --tenant NAME, set KEYHAVEN_TENANT, or log in with --tenant".into())
        })
    }

    /// A list as a table, or as its JSON array.
    fn print_list(&self, io: &mut Io<'_>, rows: &[Value], columns: &[Column]) -> Result<()> {
        match self.json {
            true => output::json(io.out, &Value::Array(rows.to_vec())),
            false => output::table(io.out, rows, columns),
        }
    }

    /// One resource as fields, or as its JSON.
    fn print_one(&self, io: &mut Io<'_>, value: &Value) -> Result<()> {
        match self.json {
            true => output::json(io.out, value),
            false => output::fields(io.out, value),
        }
    }
}

pub async fn run(options: &Options, command: Command, io: &mut Io<'_>) -> Result<()> {
    if let Command::Login { url, token } = command {
        return login(options, url, token, io).await;
    }
    let profile = profile::resolve(options, io)?;
    let session = Session { api: AdminClient::new(&profile)?, profile, json: options.json };
    match command {
        Command::Login { .. } => Ok(()),
        Command::Whoami => {
            let me = session.api.get(&["me"], &[]).await?;
            match session.json {
                true => output::json(io.out, &me),
                false => {
                    let names = |list: &Value, field: &str| {
                        let items = list.as_array().map(Vec::as_slice).unwrap_or_default();
                        Value::Array(items.iter().map(|item| item[field].clone()).collect())
                    };
                    let summary = json!({
                        "role": me["role"],
                        "tenant": me["tenant"]["name"],
                        "token_id": me["token_id"],
                        "account": me["account"]["username"],
                        "factors": names(&me["account"]["factors"], "kind"),
                        "tokens": names(&me["tokens"], "name"),
                    });
                    output::fields(io.out, &summary)
                }
            }
        }
        Command::Tenant(command) => tenant(&session, command, io).await,
        Command::Account(command) => account(&session, command, io).await,
        Command::Client(command) => client(&session, command, io).await,
        Command::Ext(command) => ext(&session, command, io).await,
        Command::Keys(command) => keys(&session, command, io).await,
        Command::Events { limit } => {
            let tenant = session.tenant()?;
            let events = session.api.list(&["tenants", tenant, "events"], &[], Some(limit)).await?;
            session.print_list(io, &events, EVENT_COLUMNS)
        }
        Command::Usage { month } => {
            let tenant = session.tenant()?;
            let query: Vec<(&str, &str)> = month.as_deref().map(|m| ("month", m)).into_iter().collect();
            let usage = session.api.get(&["tenants", tenant, "usage"], &query).await?;
            session.print_list(io, std::slice::from_ref(&usage), USAGE_COLUMNS)
        }
    }
}

async fn login(options: &Options, url: String, token: Option<String>, io: &mut Io<'_>) -> Result<()> {
    let token = token
        .or_else(|| (io.env)("KEYHAVEN_TOKEN").filter(|t| !t.is_empty()))
        .ok_or_else(|| CliError::Usage("login needs --token TOKEN (or KEYHAVEN_TOKEN)".into()))?;
    let mut profile = Profile { url: url.trim_end_matches('/').to_owned(), token, tenant: options.tenant.clone() };
    // The token must work now: the tenants it may see (its own, or all for an operator).
    let api = AdminClient::new(&profile)?;
    let tenants = api.list(&["tenants"], &[], None).await?;
    if profile.tenant.is_none()
        && let [only] = tenants.as_slice()
    {
        profile.tenant = only["name"].as_str().map(str::to_owned);
    }
    if let Some(tenant) = &profile.tenant
        && !tenants.iter().any(|t| t["name"] == tenant.as_str())
    {
        return Err(CliError::Usage(format!("the token may not act on a tenant named {tenant}")));
    }
    let name = options.profile.clone().unwrap_or_else(|| "default".to_owned());
    let mut profiles = profile::load(io)?;
    let tenant = profile.tenant.clone();
    profiles.profiles.insert(name.clone(), profile);
    profiles.current = Some(name.clone());
    let path = profile::save(io, &profiles)?;
    let saved = json!({"profile": name, "tenant": tenant, "path": path.display().to_string()});
    match options.json {
        true => output::json(io.out, &saved),
        false => output::fields(io.out, &saved),
    }
}

async fn tenant(session: &Session, command: TenantCommand, io: &mut Io<'_>) -> Result<()> {
    let api = &session.api;
    match command {
        TenantCommand::List => {
            let tenants = api.list(&["tenants"], &[], None).await?;
            session.print_list(io, &tenants, TENANT_COLUMNS)
        }
        TenantCommand::Get { name } => session.print_one(io, &api.get(&["tenants", &name], &[]).await?),
        TenantCommand::Create { name, label, parent } => {
            let body = json!({"name": name, "label": label, "parent": parent});
            let created = api.call(Method::POST, &["tenants"], Some(body)).await?;
            match session.json {
                true => output::json(io.out, &created),
                false => {
                    let tenant = &created["tenant"];
                    let summary = json!({
                        "name": tenant["name"],
                        "id": tenant["id"],
                        "issuer": tenant["issuer"],
                        "admin_token": created["admin_token"],
                        "administrator": created["administrator"]["username"],
                        "invite_token": created["administrator"]["invite_token"],
                    });
                    output::fields(io.out, &summary)?;
                    write_note(io, "the admin token and the invite are shown only this once")
                }
            }
        }
        TenantCommand::Enable { name } => set_state(session, &["tenants", &name], "ENABLED", io).await,
        TenantCommand::Disable { name } => set_state(session, &["tenants", &name], "DISABLED", io).await,
    }
}

async fn set_state(session: &Session, segments: &[&str], state: &str, io: &mut Io<'_>) -> Result<()> {
    let changed = session.api.call(Method::PATCH, segments, Some(json!({ "state": state }))).await?;
    session.print_one(io, &changed)
}

fn write_note(io: &mut Io<'_>, note: &str) -> Result<()> {
    writeln!(io.err, "note: {note}").map_err(|e| CliError::Local(format!("cannot write: {e}")))
}

async fn account(session: &Session, command: AccountCommand, io: &mut Io<'_>) -> Result<()> {
    let (api, tenant) = (&session.api, session.tenant()?);
    match command {
        AccountCommand::List => {
            let accounts = api.list(&["tenants", tenant, "accounts"], &[], None).await?;
            session.print_list(io, &accounts, ACCOUNT_COLUMNS)
        }
        AccountCommand::Get { id } => {
            session.print_one(io, &api.get(&["tenants", tenant, "accounts", &id], &[]).await?)
        }
        AccountCommand::Create { username, email, phone } => {
            let body = json!({"username": username, "email": email, "phone": phone});
            let created = api.call(Method::POST, &["tenants", tenant, "accounts"], Some(body)).await?;
            session.print_one(io, &created)
        }
        AccountCommand::Enable { id } => set_state(session, &["tenants", tenant, "accounts", &id], "ENABLED", io).await,
        AccountCommand::Disable { id } => {
            set_state(session, &["tenants", tenant, "accounts", &id], "DISABLED", io).await
        }
    }
}

async fn client(session: &Session, command: ClientCommand, io: &mut Io<'_>) -> Result<()> {
    let (api, tenant) = (&session.api, session.tenant()?);
    match command {
        ClientCommand::List => {
            let clients = api.list(&["tenants", tenant, "clients"], &[], None).await?;
            session.print_list(io, &clients, CLIENT_COLUMNS)
        }
        ClientCommand::Get { client_id } => {
            session.print_one(io, &api.get(&["tenants", tenant, "clients", &client_id], &[]).await?)
        }
        ClientCommand::Create { name, scopes, redirect_uris, public } => {
            let body = json!({"name": name, "scopes": scopes, "redirect_uris": redirect_uris, "public": public});
            let created = api.call(Method::POST, &["tenants", tenant, "clients"], Some(body)).await?;
            session.print_one(io, &created)?;
            match created["client_secret"].is_string() && !session.json {
                true => write_note(io, "the client secret is shown only this once"),
                false => Ok(()),
            }
        }
        ClientCommand::RotateSecret { client_id } => {
            let rotated = api.call(Method::POST, &["tenants", tenant, "clients", &client_id, "secret"], None).await?;
            session.print_one(io, &rotated)
        }
    }
}

async fn keys(session: &Session, command: KeysCommand, io: &mut Io<'_>) -> Result<()> {
    let (api, tenant) = (&session.api, session.tenant()?);
    match command {
        KeysCommand::List => {
            let keys = api.list(&["tenants", tenant, "keys"], &[], None).await?;
            session.print_list(io, &keys, KEY_COLUMNS)
        }
        KeysCommand::Rotate => {
            let key = api.call(Method::POST, &["tenants", tenant, "keys", "rotate"], None).await?;
            session.print_one(io, &key)
        }
    }
}

async fn ext(session: &Session, command: ExtCommand, io: &mut Io<'_>) -> Result<()> {
    let (api, tenant) = (&session.api, session.tenant()?);
    match command {
        ExtCommand::Deploy { file, name, bind, no_wait } => {
            let component = std::fs::read(&file)
                .map_err(|e| CliError::Local(format!("cannot read the component {}: {e}", file.display())))?;
            let media_type = match file.extension().and_then(|e| e.to_str()) {
                Some("js" | "mjs") => "application/javascript",
                Some("ts" | "mts") => "application/typescript",
                _ => "application/wasm",
            };
            let deployment = upload(session, tenant, &name, &bind, (component, media_type), io).await?;
            let deployment = match no_wait {
                true => deployment,
                false => wait_built(session, tenant, deployment, io).await?,
            };
            session.print_one(io, &deployment)?;
            match deployment["state"].as_str() {
                Some("FAILED") => Err(CliError::ExtensionFailed(format!(
                    "version {} of {name} did not build: {}",
                    deployment["version"],
                    deployment["build_error"].as_str().unwrap_or("no reason given")
                ))),
                _ => Ok(()),
            }
        }
        ExtCommand::List => {
            let extensions = api.list(&["tenants", tenant, "extensions"], &[], None).await?;
            session.print_list(io, &extensions, EXTENSION_COLUMNS)
        }
        ExtCommand::Versions { name } => {
            let versions = api.list(&["tenants", tenant, "deployments"], &[("extension", &name)], None).await?;
            session.print_list(io, &versions, VERSION_COLUMNS)
        }
        ExtCommand::Logs { name, limit } => {
            let limit = limit.clamp(1, 1000).to_string();
            let path = ["tenants", tenant, "extensions", &name, "invocations"];
            let page = api.get(&path, &[("limit", &limit)]).await?;
            let invocations = page["invocations"].as_array().cloned().unwrap_or_default();
            session.print_list(io, &invocations, INVOCATION_COLUMNS)
        }
        ExtCommand::Activate { name, deployment_id } => {
            let body = json!({ "active_deployment_id": deployment_id });
            let changed = api.call(Method::PATCH, &["tenants", tenant, "extensions", &name], Some(body)).await?;
            session.print_one(io, &changed)
        }
        ExtCommand::Rollback { name } => {
            let changed = api.call(Method::POST, &["tenants", tenant, "extensions", &name, "rollback"], None).await?;
            session.print_one(io, &changed)
        }
        ExtCommand::Test { name, hook, input, deployment } => {
            let input = read_input(&input)?;
            let deployment = match deployment {
                Some(id) => id,
                None => {
                    let extension = api.get(&["tenants", tenant, "extensions", &name], &[]).await?;
                    extension["active_deployment_id"].as_str().map(str::to_owned).ok_or_else(|| {
                        CliError::Usage(format!("{name} has no active version: name one with --deployment"))
                    })?
                }
            };
            let body = json!({ "hook": hook, "input": input });
            let path = ["tenants", tenant, "deployments", &deployment, "dry-run"];
            let run = api.call(Method::POST, &path, Some(body)).await?;
            session.print_one(io, &run)?;
            match run["outcome"].as_str() {
                Some("ok") => Ok(()),
                outcome => Err(CliError::ExtensionFailed(format!(
                    "the {hook} hook ended {}: {}",
                    outcome.unwrap_or("without an outcome"),
                    run["error"].as_str().unwrap_or("no detail")
                ))),
            }
        }
    }
}

/// A hook's input: a JSON file, or standard input for `-`.
fn read_input(source: &str) -> Result<Value> {
    let text = match source {
        "-" => std::io::read_to_string(std::io::stdin())
            .map_err(|e| CliError::Local(format!("cannot read the input from standard input: {e}")))?,
        path => std::fs::read_to_string(path).map_err(|e| CliError::Local(format!("cannot read {path}: {e}")))?,
    };
    serde_json::from_str(&text).map_err(|e| CliError::Usage(format!("the input is not JSON: {e}")))
}

/// Uploads a component, drawing how much of it has gone.
async fn upload(
    session: &Session,
    tenant: &str,
    name: &str,
    bind: &str,
    component: (Vec<u8>, &str),
    io: &mut Io<'_>,
) -> Result<Value> {
    let total = component.0.len() as u64;
    let sent = Arc::new(AtomicU64::new(0));
    let mut progress = Progress::new(io.progress);
    let started = Instant::now();
    let query = [("name", name), ("bind", bind)];
    let path = ["tenants", tenant, "extensions"];
    let request = session.api.upload(&path, &query, component, sent.clone());
    tokio::pin!(request);
    let mut redraw = tokio::time::interval(REDRAW);
    let answer = loop {
        tokio::select! {
            answer = &mut request => break answer,
            _ = redraw.tick() => {
                let label = format!("uploading {name}");
                progress.draw(io.err, &label, Some((sent.load(Ordering::Relaxed), total)), started.elapsed());
            }
        }
    };
    progress.draw(io.err, &format!("uploading {name}"), Some((sent.load(Ordering::Relaxed), total)), started.elapsed());
    progress.finish(io.err);
    answer
}

/// Polls a deployment until its build ends, drawing how long it has taken.
async fn wait_built(session: &Session, tenant: &str, deployment: Value, io: &mut Io<'_>) -> Result<Value> {
    let id = deployment["id"]
        .as_str()
        .ok_or_else(|| CliError::Local("the upload's answer names no deployment".into()))?
        .to_owned();
    let mut progress = Progress::new(io.progress);
    let started = Instant::now();
    let mut current = deployment;
    while current["state"] == "PENDING" {
        if started.elapsed() > BUILD_WAIT {
            progress.finish(io.err);
            return Err(CliError::ExtensionFailed(format!(
                "deployment {id} is still building after {} s",
                BUILD_WAIT.as_secs()
            )));
        }
        let label = format!("building version {}", current["version"]);
        progress.draw(io.err, &label, None, started.elapsed());
        tokio::time::sleep(BUILD_POLL).await;
        current = session.api.get(&["tenants", tenant, "deployments", &id], &[]).await?;
    }
    progress.draw(io.err, &format!("built: {}", current["state"].as_str().unwrap_or("?")), None, started.elapsed());
    progress.finish(io.err);
    Ok(current)
}
