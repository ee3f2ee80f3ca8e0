//! Saved profiles: `{"current": NAME, "profiles": {NAME: {"url", "token", "tenant"}}}` in
//! `$KEYHAVEN_CLI_CONFIG`, else `$XDG_CONFIG_HOME/keyhaven/cli.json`, else
//! `~/.config/keyhaven/cli.json`, written whole (a new file moved into place) with mode
//! 0600, since it holds tokens. `KEYHAVEN_URL`, `KEYHAVEN_TOKEN` and `KEYHAVEN_TENANT`
//! override the profile, so a pipeline needs no file at all.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{CliError, Io, Options, Result};

/// Where one service is reached, with which token, for which tenant.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub url: String,
    pub token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// The profiles file.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profiles {
    /// The profile used when none is named: the one saved last.
    #[serde(default)]
    pub current: Option<String>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// The profiles file's path.
pub fn path(io: &Io<'_>) -> Result<PathBuf> {
    if let Some(path) = (io.env)("KEYHAVEN_CLI_CONFIG").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let config = match (io.env)("XDG_CONFIG_HOME").filter(|p| !p.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => match (io.env)("HOME").filter(|p| !p.is_empty()) {
            Some(home) => PathBuf::from(home).join(".config"),
            None => return Err(CliError::Local("no HOME: set KEYHAVEN_CLI_CONFIG to the profiles file".into())),
        },
    };
    Ok(config.join("keyhaven").join("cli.json"))
}

/// The saved profiles; none when the file does not exist yet.
pub fn load(io: &Io<'_>) -> Result<Profiles> {
    let path = path(io)?;
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| CliError::Local(format!("{} is not a profiles file: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Profiles::default()),
        Err(e) => Err(CliError::Local(format!("cannot read {}: {e}", path.display()))),
    }
}

/// Writes the profiles: a new file, readable by its owner only, moved into place.
pub fn save(io: &Io<'_>, profiles: &Profiles) -> Result<PathBuf> {
    let path = path(io)?;
    let failed = |e: std::io::Error| CliError::Local(format!("cannot save {}: {e}", path.display()));
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    let json = serde_json::to_vec_pretty(profiles).map_err(|e| CliError::Local(e.to_string()))?;
    let staging = path.with_extension(format!("tmp-{}", std::process::id()));
    write_private(&staging, &json).map_err(failed)?;
    std::fs::rename(&staging, &path).map_err(failed)?;
    Ok(path)
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// The profile a command runs with: the named (or current) one, with the environment's
/// overrides; the environment alone when it names both a URL and a token.
pub fn resolve(options: &Options, io: &Io<'_>) -> Result<Profile> {
    let variable = |name: &str| (io.env)(name).filter(|value| !value.is_empty());
    let (url, token) = (variable("KEYHAVEN_URL"), variable("KEYHAVEN_TOKEN"));
    let saved = match (&url, &token, &options.profile) {
        (Some(_), Some(_), None) => None,
        _ => {
            let mut profiles = load(io)?;
            let name = options.profile.clone().or(profiles.current.clone());
            let Some(name) = name else {
                return Err(CliError::Usage(
                    "no profile: run `keyhaven login --url URL --token TOKEN`, or set KEYHAVEN_URL and KEYHAVEN_TOKEN"
                        .into(),
                ));
            };
            let profile = profiles.profiles.remove(&name);
            Some(profile.ok_or_else(|| CliError::Usage(format!("no profile named {name}: run `keyhaven login`")))?)
        }
    };
    let mut profile = match saved {
        Some(profile) => profile,
        None => Profile { url: String::new(), token: String::new(), tenant: None },
    };
    if let Some(url) = url {
        profile.url = url;
    }
    if let Some(token) = token {
        profile.token = token;
    }
    if let Some(tenant) = options.tenant.clone().or_else(|| variable("KEYHAVEN_TENANT")) {
        profile.tenant = Some(tenant);
    }
    Ok(profile)
}
