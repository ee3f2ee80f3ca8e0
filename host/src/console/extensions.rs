//! The extensions screen: upload a version (a component or JavaScript/TypeScript source, in
//! a `multipart/form-data` form held to the tenant's size limit as it is read), follow its
//! build, activate a version or roll back, enable, disable or delete, set configuration
//! and write-only secrets, **Test** a built version's hook as a dry run, and read the
//! metrics and the invocation log — all through `ops::extensions`, as the admin API does.

use std::collections::BTreeMap;

use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{
    Administrator, Failure, Nothing, Posted, STYLESHEET_PATH, acted, administrator, answer, by, check_csrf,
    check_writer, page, pages, posted, refused, signed_in_page, under, usable_tenant,
};
use crate::AppState;
use crate::extensions::Hook;
use crate::extensions::hook_run::HookRun;
use crate::extensions::js_build::SourceType;
use crate::ops::extensions::{self as ops, ChangeExtension, Uploaded};
use crate::storage::DeploymentState;
use crate::tenancy::Tenant;
use crate::web::{ApiError, Problem};

/// Invocations the log shows.
const LOG_ROWS: u32 = 50;
/// Room for the upload form's small fields besides the component or source.
const FORM_FIELDS_BYTES: usize = 64 << 10;

async fn extensions_page(
    state: &AppState,
    tenant: &Tenant,
    admin: &Administrator,
    status: StatusCode,
    message: Option<&str>,
) -> Result<Response, Failure> {
    // Versions first, as in `ops::extensions::view`: an active version is then in the list.
    let versions = state.db.list_deployments(&tenant.id, None).await.map_err(under(tenant))?;
    let extensions = state.db.list_extensions(&tenant.id).await.map_err(under(tenant))?;
    let active_versions: Vec<(String, i64)> = extensions
        .iter()
        .filter_map(|e| {
            let active = versions.iter().find(|d| Some(&d.id) == e.active_deployment_id.as_ref())?;
            Some((e.name.clone(), active.version))
        })
        .collect();
    let allowed_hosts = ops::allowed_hosts(state, tenant).await.map_err(under(tenant))?;
    let page_state =
        pages::ExtensionsPage { active_versions: &active_versions, allowed_hosts: &allowed_hosts, message };
    Ok(page(status, pages::extensions(&STYLESHEET_PATH, tenant, &admin.signed(), &extensions, &page_state)))
}

pub(super) async fn extensions(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let (tenant, admin) = signed_in_page(&state, &name, &headers).await?;
    extensions_page(&state, &tenant, &admin, StatusCode::OK, None).await
}

/// The upload form's fields.
#[derive(Debug, Default)]
struct UploadForm {
    csrf: Option<String>,
    name: String,
    /// The chosen file's name and bytes (none chosen: empty).
    file: Option<(String, Vec<u8>)>,
    source: String,
    language: String,
    bind: bool,
}

/// Reads the upload form into `form`, refusing it once its fields pass `limit` bytes in
/// all (the fields read until then, the anti-forgery token first, are kept).
async fn read_upload(mut multipart: Multipart, limit: usize, form: &mut UploadForm) -> Result<(), ApiError> {
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        ApiError::new(Problem::InvalidRequest, format!("the upload form could not be read: {e}"))
    };
    let too_large =
        || ApiError::new(Problem::PayloadTooLarge, format!("the upload exceeds this tenant's limit of {limit} bytes"));
    let mut read = 0usize;
    while let Some(mut field) = multipart.next_field().await.map_err(unreadable)? {
        let field_name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().unwrap_or_default().to_owned();
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
            read += chunk.len();
            if read > limit.saturating_add(FORM_FIELDS_BYTES) {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        let text = || String::from_utf8_lossy(&bytes).into_owned();
        match field_name.as_str() {
            "csrf" => form.csrf = Some(text()),
            "name" => form.name = text().trim().to_owned(),
            "source" => form.source = text(),
            "language" => form.language = text(),
            "bind" => form.bind = true,
            "file" if !bytes.is_empty() => form.file = Some((file_name, bytes)),
            _ => {}
        }
    }
    Ok(())
}

/// What the form uploads: the file (its kind by its name, or a component by its magic
/// number), else the pasted source.
fn uploaded(form: &UploadForm) -> Result<Uploaded<'_>, ApiError> {
    if let Some((file_name, bytes)) = &form.file {
        let lower = file_name.to_ascii_lowercase();
        return match lower.rsplit_once('.').map(|(_, extension)| extension) {
            Some("wasm") => Ok(Uploaded::Component(bytes)),
            Some("js" | "mjs") => Ok(Uploaded::Source(SourceType::JavaScript, bytes)),
            Some("ts" | "mts") => Ok(Uploaded::Source(SourceType::TypeScript, bytes)),
            _ if bytes.starts_with(b"\0asm") => Ok(Uploaded::Component(bytes)),
            _ => Err(ApiError::new(
                Problem::UnsupportedMediaType,
                "choose a component (.wasm) or a JavaScript (.js, .mjs) or TypeScript (.ts) module",
            )),
        };
    }
    if form.source.trim().is_empty() {
        return Err(ApiError::new(Problem::InvalidRequest, "choose a file to upload or paste a module's source"));
    }
    let language = SourceType::parse(&form.language).unwrap_or(SourceType::JavaScript);
    Ok(Uploaded::Source(language, form.source.as_bytes()))
}

/// Uploads a version and shows its extension, where its build can be followed.
pub(super) async fn upload(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, Failure> {
    let tenant = usable_tenant(&state, &name).await?;
    // Who posts is known before the body is read; its token is checked once it is.
    let admin = administrator(&state, &tenant, &headers).await.map_err(under(&tenant))?;
    let limit = ops::upload_limit(&state, &tenant).await.map_err(by(&tenant, &admin))?;
    let mut form = UploadForm::default();
    let read = match multipart {
        Ok(multipart) => read_upload(multipart, limit, &mut form).await,
        Err(e) => Err(ApiError::new(Problem::InvalidRequest, format!("the upload form could not be read: {e}"))),
    };
    check_csrf(&tenant, &admin, form.csrf.as_deref())?;
    check_writer(&tenant, &admin)?;
    if let Err(e) = read {
        let response = extensions_page(&state, &tenant, &admin, e.kind.status(), Some(&e.detail)).await?;
        return Ok(acted(response, &tenant, &admin));
    }
    let stored = match uploaded(&form) {
        Ok(version) => ops::upload(&state, &tenant, &form.name, version, form.bind).await,
        Err(e) => Err(e),
    };
    let response = match stored {
        Ok(deployment) => {
            Redirect::to(&format!("/console/{}/extensions/{}", tenant.name, deployment.extension)).into_response()
        }
        Err(e) if refused(&e) => extensions_page(&state, &tenant, &admin, e.kind.status(), Some(&e.detail)).await?,
        Err(e) => return Err(by(&tenant, &admin)(e)),
    };
    Ok(acted(response, &tenant, &admin))
}

/// The Test form as posted.
#[derive(Debug, Default, Deserialize)]
pub(super) struct TestForm {
    #[serde(default)]
    deployment_id: String,
    #[serde(default)]
    hook: String,
    #[serde(default)]
    input: String,
}

/// What an extension's page says besides the extension.
#[derive(Default)]
struct Shown<'a> {
    test: Option<(&'a TestForm, Option<&'a HookRun>)>,
    sample_for: Option<&'a str>,
    message: Option<&'a str>,
}

async fn extension_page(
    state: &AppState,
    tenant: &Tenant,
    admin: &Administrator,
    status: StatusCode,
    name: &str,
    shown: Shown<'_>,
) -> Result<Response, Failure> {
    let view = ops::view(state, tenant, name).await.map_err(under(tenant))?;
    let metrics = ops::metrics(state, tenant, name).await.map_err(under(tenant))?;
    let (invocations, _) = ops::invocations(state, tenant, name, None, LOG_ROWS).await.map_err(under(tenant))?;
    // The Test form: as posted, or the active (else the newest built) version with a
    // sample input for the asked-for hook (else its first).
    let sample: String;
    let test = match shown.test {
        Some((form, result)) => Hook::from_name(&form.hook).map(|hook| pages::TestRun {
            deployment_id: &form.deployment_id,
            hook,
            input: &form.input,
            result,
        }),
        None => {
            let built = view
                .active()
                .filter(|d| d.state == DeploymentState::Enabled)
                .or_else(|| view.deployments.iter().find(|d| d.state == DeploymentState::Enabled));
            let asked = shown.sample_for.and_then(Hook::from_name);
            let hook = built.and_then(|d| {
                let exported = |hook: Hook| d.hooks.iter().any(|h| h == hook.name());
                asked.filter(|h| exported(*h)).or_else(|| Hook::ALL.iter().copied().find(|h| exported(*h)))
            });
            match (built, hook) {
                (Some(deployment), Some(hook)) => {
                    sample =
                        serde_json::to_string_pretty(&ops::sample_input(hook, state.clock.now())).unwrap_or_default();
                    Some(pages::TestRun { deployment_id: &deployment.id, hook, input: &sample, result: None })
                }
                _ => None,
            }
        }
    };
    let clients = state.db.list_clients(&tenant.id).await.map_err(under(tenant))?;
    let clients: Vec<(String, String)> = clients.into_iter().map(|c| (c.client_id, c.name)).collect();
    let page_state = pages::ExtensionPage {
        metrics: &metrics,
        invocations: &invocations,
        test,
        clients: &clients,
        message: shown.message,
    };
    Ok(page(status, pages::extension(&STYLESHEET_PATH, tenant, &admin.signed(), &view, &page_state)))
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct ExtensionQuery {
    /// The hook whose sample input the Test form starts with.
    hook: Option<String>,
}

pub(super) async fn extension(
    State(state): State<AppState>,
    Path((name, extension)): Path<(String, String)>,
    headers: HeaderMap,
    query: Result<Query<ExtensionQuery>, QueryRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin) = signed_in_page(&state, &name, &headers).await?;
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let shown = Shown { sample_for: query.hook.as_deref(), ..Shown::default() };
    extension_page(&state, &tenant, &admin, StatusCode::OK, &extension, shown).await
}

/// After a change: the extension's page again, with the refusal if it was refused.
async fn changed(
    state: &AppState,
    tenant: &Tenant,
    admin: &Administrator,
    extension: &str,
    result: Result<(), ApiError>,
) -> Result<Response, Failure> {
    let to = format!("/console/{}/extensions/{extension}", tenant.name);
    let again = |status, why: String| async move {
        let shown = Shown { message: Some(&why), ..Shown::default() };
        extension_page(state, tenant, admin, status, extension, shown).await
    };
    answer(tenant, admin, result, &to, again).await
}

/// Enables or disables an extension.
pub(super) async fn change_state(
    State(state): State<AppState>,
    Path((name, extension)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<Posted<super::NewState>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, form) = posted(&state, &name, &headers, form).await?;
    let result = match form.requested() {
        Ok(new_state) => {
            let change = ChangeExtension { state: Some(new_state), ..ChangeExtension::default() };
            ops::change(&state, &tenant, &extension, &change).await.map(|_| ())
        }
        Err(e) => Err(e),
    };
    changed(&state, &tenant, &admin, &extension, result).await
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct Activate {
    #[serde(default)]
    deployment_id: String,
}

/// Makes a built version the one that runs.
pub(super) async fn activate(
    State(state): State<AppState>,
    Path((name, extension)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<Posted<Activate>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, form) = posted(&state, &name, &headers, form).await?;
    let change = ChangeExtension { active_deployment_id: Some(form.deployment_id), ..ChangeExtension::default() };
    let result = ops::change(&state, &tenant, &extension, &change).await.map(|_| ());
    changed(&state, &tenant, &admin, &extension, result).await
}

/// Activates the newest built version older than the active one.
pub(super) async fn rollback(
    State(state): State<AppState>,
    Path((name, extension)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<Posted<Nothing>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, _) = posted(&state, &name, &headers, form).await?;
    let result = ops::rollback(&state, &tenant, &extension).await.map(|_| ());
    changed(&state, &tenant, &admin, &extension, result).await
}

/// Runs the Test form's hook as a dry run and shows its result under the form.
pub(super) async fn test(
    State(state): State<AppState>,
    Path((name, extension)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<Posted<TestForm>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, form) = posted(&state, &name, &headers, form).await?;
    // The version must be one of this extension's: another's id is not found here.
    let ran = async {
        let deployment = ops::deployment(&state, &tenant, &form.deployment_id).await?;
        if deployment.extension != extension {
            return Err(ApiError::not_found("deployment"));
        }
        let input = serde_json::from_str(&form.input)
            .map_err(|e| ApiError::new(Problem::InvalidRequest, format!("the input is not JSON: {e}")))?;
        ops::dry_run(&state, &tenant, &deployment.id, &form.hook, input).await
    }
    .await;
    let response = match ran {
        Ok(run) => {
            let shown = Shown { test: Some((&form, Some(&run))), ..Shown::default() };
            extension_page(&state, &tenant, &admin, StatusCode::OK, &extension, shown).await?
        }
        Err(e) if refused(&e) => {
            let shown = Shown { test: Some((&form, None)), message: Some(&e.detail), ..Shown::default() };
            extension_page(&state, &tenant, &admin, e.kind.status(), &extension, shown).await?
        }
        Err(e) => return Err(by(&tenant, &admin)(e)),
    };
    Ok(acted(response, &tenant, &admin))
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct ConfigForm {
    #[serde(default)]
    config: String,
}

/// Replaces the configuration with the form's JSON object of strings.
pub(super) async fn set_config(
    State(state): State<AppState>,
    Path((name, extension)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<Posted<ConfigForm>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, form) = posted(&state, &name, &headers, form).await?;
    let text = form.config.trim();
    let config = match text {
        "" => Ok(BTreeMap::new()),
        text => serde_json::from_str::<BTreeMap<String, String>>(text).map_err(|e| {
            ApiError::new(Problem::InvalidRequest, format!("the configuration must be a JSON object of strings: {e}"))
        }),
    };
    let result = match config {
        Ok(config) => ops::set_config(&state, &tenant, &extension, &config).await,
        Err(e) => Err(e),
    };
    changed(&state, &tenant, &admin, &extension, result).await
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct SecretForm {
    #[serde(default)]
    secret: String,
    #[serde(default)]
    value: String,
}

/// Sets a write-only secret.
pub(super) async fn set_secret(
    State(state): State<AppState>,
    Path((name, extension)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<Posted<SecretForm>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, form) = posted(&state, &name, &headers, form).await?;
    let result = ops::set_secret(&state, &tenant, &extension, form.secret.trim(), &form.value).await;
    changed(&state, &tenant, &admin, &extension, result).await
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct SecretName {
    #[serde(default)]
    secret: String,
}

/// Deletes a secret, named in the form.
pub(super) async fn delete_secret(
    State(state): State<AppState>,
    Path((name, extension)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<Posted<SecretName>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, form) = posted(&state, &name, &headers, form).await?;
    let result = ops::delete_secret(&state, &tenant, &extension, &form.secret).await;
    changed(&state, &tenant, &admin, &extension, result).await
}

pub(super) async fn confirm_delete(
    State(state): State<AppState>,
    Path((name, extension)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let (tenant, admin) = signed_in_page(&state, &name, &headers).await?;
    let extension = ops::find(&state, &tenant, &extension).await.map_err(under(&tenant))?;
    Ok(page(StatusCode::OK, pages::confirm_delete_extension(&STYLESHEET_PATH, &tenant, &admin.signed(), &extension)))
}

/// Deletes an extension, once confirmed, and goes back to the list.
pub(super) async fn delete(
    State(state): State<AppState>,
    Path((name, extension)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<Posted<Nothing>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, _) = posted(&state, &name, &headers, form).await?;
    ops::delete(&state, &tenant, &extension).await.map_err(by(&tenant, &admin))?;
    let response = Redirect::to(&format!("/console/{}/extensions", tenant.name)).into_response();
    Ok(acted(response, &tenant, &admin))
}

/// One version: its build and, for source uploads, the source.
pub(super) async fn version(
    State(state): State<AppState>,
    Path((name, extension, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let (tenant, admin) = signed_in_page(&state, &name, &headers).await?;
    let deployment = ops::deployment(&state, &tenant, &id).await.map_err(under(&tenant))?;
    if deployment.extension != extension {
        return Err(under(&tenant)(ApiError::not_found("deployment")));
    }
    let source = match deployment.source_type {
        Some(_) => Some(ops::source(&state, &tenant, &id).await.map_err(under(&tenant))?.1),
        None => None,
    };
    let html = pages::version(&STYLESHEET_PATH, &tenant, &admin.signed(), &deployment, source.as_deref());
    Ok(page(StatusCode::OK, html))
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct BindingForm {
    #[serde(default)]
    hook: String,
    /// Empty: the whole tenant.
    #[serde(default)]
    client_id: String,
    /// Empty: the hook's default.
    #[serde(default)]
    failure_policy: String,
    #[serde(default)]
    position: String,
    #[serde(default)]
    schedule: String,
    /// A JSON object (events bindings), or empty.
    #[serde(default)]
    filter: String,
}

impl BindingForm {
    /// The binding the form asks for, for `extension`; a field that cannot be read is
    /// refused with why.
    fn binding(&self, extension: &str) -> Result<ops::CreateBinding, ApiError> {
        let invalid = |detail: String| ApiError::new(Problem::InvalidRequest, detail);
        let given = |text: &str| Some(text.trim().to_owned()).filter(|t| !t.is_empty());
        let failure_policy = match self.failure_policy.trim() {
            "" => None,
            "fail-closed" => Some(crate::storage::FailurePolicy::FailClosed),
            "fail-open" => Some(crate::storage::FailurePolicy::FailOpen),
            other => return Err(invalid(format!("failure policy {other:?} is not fail-closed or fail-open"))),
        };
        let position = match self.position.trim() {
            "" => 0,
            text => text.parse().map_err(|_| invalid(format!("the order {text:?} is not a whole number")))?,
        };
        let filter = match given(&self.filter) {
            None => None,
            Some(text) => Some(
                serde_json::from_str::<serde_json::Value>(&text)
                    .map_err(|e| invalid(format!("the filter is not JSON: {e}")))?,
            ),
        };
        Ok(ops::CreateBinding {
            hook: self.hook.trim().to_owned(),
            extension: extension.to_owned(),
            client_id: given(&self.client_id),
            failure_policy,
            position,
            schedule: given(&self.schedule),
            filter,
        })
    }
}

/// Binds the extension to a hook (tenant-wide or for one client).
pub(super) async fn add_binding(
    State(state): State<AppState>,
    Path((name, extension)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<Posted<BindingForm>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, form) = posted(&state, &name, &headers, form).await?;
    let result = match form.binding(&extension) {
        Ok(binding) => ops::create_binding(&state, &tenant, &binding).await.map(|_| ()),
        Err(e) => Err(e),
    };
    changed(&state, &tenant, &admin, &extension, result).await
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct RemoveBindingForm {
    #[serde(default)]
    binding_id: String,
}

/// Removes one of the extension's bindings.
pub(super) async fn remove_binding(
    State(state): State<AppState>,
    Path((name, extension)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<Posted<RemoveBindingForm>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, form) = posted(&state, &name, &headers, form).await?;
    ops::find(&state, &tenant, &extension).await.map_err(by(&tenant, &admin))?;
    ops::delete_binding(&state, &tenant, &form.binding_id, Some(&extension)).await.map_err(by(&tenant, &admin))?;
    changed(&state, &tenant, &admin, &extension, Ok(())).await
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct AllowedHostsForm {
    /// One host per line (or separated by spaces or commas).
    #[serde(default)]
    hosts: String,
}

/// Replaces the hosts the tenant's extensions may reach over HTTP.
pub(super) async fn set_allowed_hosts(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    form: Result<Form<Posted<AllowedHostsForm>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, form) = posted(&state, &name, &headers, form).await?;
    let hosts: Vec<String> = form
        .hosts
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .collect();
    let result = ops::set_allowed_hosts(&state, &tenant, &hosts).await;
    let (state, tenant, admin) = (&state, &tenant, &admin);
    let to = format!("/console/{}/extensions", tenant.name);
    let again = |status, why: String| async move { extensions_page(state, tenant, admin, status, Some(&why)).await };
    answer(tenant, admin, result, &to, again).await
}
