//! The extensions pages: the tenant's extensions and the upload form (a component, or
//! JavaScript/TypeScript source pasted or uploaded); one extension's versions (their builds
//! followed live by a page that reloads itself while one is PENDING, activate, roll back),
//! bindings, configuration, write-only secrets, a dry-run **Test** with an editable sample
//! input, metrics and the invocation log; one version's details and source.

use maud::{Markup, html};

use super::{
    Signed, button_form, distinct_states, explain, layout, refreshing_layout, refusal, state, state_control,
    states_legend, time,
};
use crate::extensions::Hook;
use crate::extensions::hook_run::HookRun;
use crate::ops::extensions::ExtensionView;
use crate::storage::{DeploymentRow, DeploymentState, ExtensionRow, InvocationRow, InvocationStats};
use crate::tenancy::Tenant;

/// Seconds between reloads of a page with a build in progress.
const BUILD_REFRESH_SECONDS: u32 = 2;

/// What the extensions list shows besides the extensions.
#[derive(Debug)]
pub struct ExtensionsPage<'a> {
    /// The active version's number of each extension, by name.
    pub active_versions: &'a [(String, i64)],
    /// The hosts the tenant's extensions may reach over HTTP.
    pub allowed_hosts: &'a [String],
    /// Why the last upload was refused.
    pub message: Option<&'a str>,
}

/// A version's build state, with what it means.
fn build_state(built: DeploymentState) -> Markup {
    html! { span.state title=(explain_build(built)) { (built.as_str()) } }
}

fn explain_build(built: DeploymentState) -> &'static str {
    match built {
        DeploymentState::Pending => "Uploaded and being built: it cannot run until the build finishes.",
        DeploymentState::Enabled => "Built: it can be tested, and activated to run on its hooks.",
        DeploymentState::Failed => "The build failed (the reason is shown): it cannot run.",
        DeploymentState::Disabled => "Switched off: it cannot run.",
    }
}

/// The tenant's extensions and the upload form.
pub fn extensions(
    stylesheet: &str,
    tenant: &Tenant,
    signed: &Signed<'_>,
    extensions: &[ExtensionRow],
    page: &ExtensionsPage<'_>,
) -> String {
    let base = format!("/console/{}/extensions", tenant.name);
    let shown = distinct_states(extensions.iter().map(|e| &e.state));
    let body = html! {
        h1 { "Extensions" }
        p.muted {
            "Your code, compiled to a WebAssembly component (or written in JavaScript or TypeScript, "
            "which Keyhaven builds), runs on the tenant's hooks in a fresh sandbox per call."
        }
        (refusal(page.message))
        h2 { "Upload a version" }
        @if signed.can_write {
            form id="upload-extension" method="post" action=(base) enctype="multipart/form-data" {
                input type="hidden" name="csrf" value=(signed.csrf);
                div.field {
                    label for="extension-name" { "Extension name (a-z, 0-9, '.', '_', '-')" }
                    input id="extension-name" name="name" required maxlength="100" pattern="[a-z0-9][a-z0-9._\\-]*" autocomplete="off";
                }
                div.field {
                    label for="extension-file" { "A component (.wasm) or a JavaScript/TypeScript module (.js, .mjs, .ts)" }
                    input id="extension-file" name="file" type="file" accept=".wasm,.js,.mjs,.ts,application/wasm,text/javascript";
                }
                div.field {
                    label for="extension-source" { "Or paste a JavaScript or TypeScript module" }
                    textarea id="extension-source" name="source" spellcheck="false" {}
                }
                div.field {
                    label for="extension-language" { "Language of pasted source" }
                    select id="extension-language" name="language" {
                        option value="javascript" { "JavaScript" }
                        option value="typescript" { "TypeScript" }
                    }
                }
                label.check {
                    input type="checkbox" name="bind" value="auto" checked;
                    " Bind the hooks it exports once built, if the extension has no binding yet"
                }
                button type="submit" { "Upload" }
            }
        }
        h2 { "The tenant's extensions" }
        @if extensions.is_empty() {
            p.muted { "No extensions yet." }
        } @else {
            div.scroll tabindex="0" role="region" aria-label="Extensions" {
                table id="extensions" {
                    caption { "Extensions by name" }
                    thead {
                        tr {
                            th scope="col" { "Name" } th scope="col" { "State" } th scope="col" { "Active version" }
                            th scope="col" { "Changed (UTC)" }
                        }
                    }
                    tbody {
                        @for extension in extensions {
                            tr {
                                th scope="row" { a href={ (base) "/" (extension.name) } { (extension.name) } }
                                td { (state(extension.state)) }
                                td {
                                    @match page.active_versions.iter().find(|(name, _)| *name == extension.name) {
                                        Some((_, version)) => { "v" (version) }
                                        None => { span.muted { "none" } }
                                    }
                                }
                                td { (time(extension.updated_at)) }
                            }
                        }
                    }
                }
            }
            (states_legend(&shown))
        }
        h2 { "Allowed hosts" }
        p.muted { "The hosts every extension of the tenant may reach with outbound HTTP (" code { "fetch" } "); any other is refused. A name, a name:port or *.suffix." }
        @if page.allowed_hosts.is_empty() { p id="allowed-hosts-none" { "None: extensions reach no host." } }
        @else { ul id="allowed-hosts" { @for host in page.allowed_hosts { li { code { (host) } } } } }
        @if signed.can_write {
            form id="allowed-hosts-form" method="post" action={ "/console/" (tenant.name) "/extension-settings" } {
                input type="hidden" name="csrf" value=(signed.csrf);
                div.field {
                    label for="allowed-hosts-text" { "Allowed hosts, one per line (up to 50)" }
                    textarea id="allowed-hosts-text" name="hosts" spellcheck="false" { (page.allowed_hosts.join("\n")) }
                }
                button.quiet type="submit" { "Save allowed hosts" }
            }
        }
    };
    layout("Extensions", stylesheet, Some(tenant), Some(signed), body).into_string()
}

/// A dry run's form as it was filled, and its result once it ran.
#[derive(Debug)]
pub struct TestRun<'a> {
    pub deployment_id: &'a str,
    pub hook: Hook,
    pub input: &'a str,
    pub result: Option<&'a HookRun>,
}

/// What an extension's page shows besides the extension.
#[derive(Debug)]
pub struct ExtensionPage<'a> {
    pub metrics: &'a InvocationStats,
    /// The latest invocations, newest first.
    pub invocations: &'a [InvocationRow],
    /// The Test form (absent without a built version).
    pub test: Option<TestRun<'a>>,
    /// The tenant's clients (id, name), which a token-issuance binding may name.
    pub clients: &'a [(String, String)],
    /// Why the last form was refused.
    pub message: Option<&'a str>,
}

/// One extension: its state, versions, bindings, Test, configuration, secrets, metrics and
/// invocation log.
pub fn extension(
    stylesheet: &str,
    tenant: &Tenant,
    signed: &Signed<'_>,
    view: &ExtensionView,
    page: &ExtensionPage<'_>,
) -> String {
    let extension = &view.extension;
    let base = format!("/console/{}/extensions/{}", tenant.name, extension.name);
    let active = view.active();
    let building = view.deployments.iter().any(|d| d.state == DeploymentState::Pending);
    let can_roll_back = active.is_some_and(|active| {
        view.deployments.iter().any(|d| d.state == DeploymentState::Enabled && d.version < active.version)
    });
    let config = serde_json::to_string_pretty(&view.config).unwrap_or_default();
    let body = html! {
        p { a href={ "/console/" (tenant.name) "/extensions" } { "← Extensions" } }
        h1 { "Extension " (extension.name) }
        (refusal(page.message))
        @if building {
            p.created role="status" id="building" {
                "A version is being built. This page reloads itself every " (BUILD_REFRESH_SECONDS)
                " seconds until the build has finished."
            }
        }
        dl.facts {
            dt { "State" } dd { (state(extension.state)) " " span.muted { (explain(extension.state)) } }
            dt { "Active version" } dd {
                @if let Some(active) = active { "v" (active.version) " (" (active.language) ", hooks: " (active.hooks.join(", ")) ")" }
                @else { span.muted { "none: nothing runs until a built version is active" } }
            }
            dt { "Created (UTC)" } dd { (time(extension.created_at)) }
            dt { "Changed (UTC)" } dd { (time(extension.updated_at)) }
        }
        div.actions {
            (state_control("extension-state", &format!("{base}/state"), signed, extension.state))
            @if can_roll_back { (button_form("rollback", &format!("{base}/rollback"), signed, "Roll back to the previous version", false, &[])) }
            @if signed.can_write {
                a.button href={ (base) "/delete" } { "Delete…" }
            }
        }
        h2 { "Versions" }
        (versions(&base, signed, view, active))
        @if let (Some(test), true) = (&page.test, signed.can_write) { (test_form(&base, signed, view, test)) }
        h2 { "Metrics" }
        p.muted { "Over the latest 1,000 invocations on the tenant's hooks (test runs are not counted)." }
        dl.facts id="metrics" {
            dt { "Invocations" } dd { (page.metrics.count) }
            dt { "Error rate" } dd { (format!("{:.1} %", page.metrics.error_rate * 100.0)) " (" (page.metrics.errors) " errors, " (page.metrics.denied) " denials)" }
            dt { "p50" } dd { (page.metrics.p50_us) " µs" }
            dt { "p99" } dd { (page.metrics.p99_us) " µs" }
        }
        h2 { "Invocation log" }
        (invocation_log(page.invocations))
        h2 { "Bindings" }
        (bindings(view, &base, signed, page.clients))
        h2 { "Configuration" }
        @if signed.can_write {
            form id="extension-config" method="post" action={ (base) "/config" } {
                input type="hidden" name="csrf" value=(signed.csrf);
                div.field {
                    label for="config" { "Configuration the extension reads (a JSON object of strings)" }
                    textarea id="config" name="config" spellcheck="false" { (config) }
                }
                button type="submit" { "Save configuration" }
            }
        } @else {
            pre id="config" { code { (config) } }
        }
        h2 { "Secrets" }
        p.muted { "Values are write-only: only the extension can read them." }
        @if view.secrets.is_empty() {
            p.muted { "No secrets." }
        } @else {
            ul id="secrets" {
                @for (i, secret) in view.secrets.iter().enumerate() {
                    li {
                        code { (secret) } " "
                        // The name goes as a field: any text, never part of a path.
                        (button_form(&format!("delete-secret-{i}"), &format!("{base}/secrets/delete"), signed, &format!("Delete {secret}"), false, &[("secret", secret)]))
                    }
                }
            }
        }
        @if signed.can_write {
            form id="set-secret" method="post" action={ (base) "/secrets" } {
                input type="hidden" name="csrf" value=(signed.csrf);
                div.field { label for="secret-name" { "Secret name" } input id="secret-name" name="secret" required maxlength="100" autocomplete="off"; }
                div.field { label for="secret-value" { "Value" } input id="secret-value" name="value" type="password" required autocomplete="off"; }
                button type="submit" { "Set secret" }
            }
        }
    };
    let refresh = building.then_some(BUILD_REFRESH_SECONDS);
    refreshing_layout(&format!("Extension {}", extension.name), stylesheet, Some(tenant), Some(signed), refresh, body)
        .into_string()
}

fn versions(base: &str, signed: &Signed<'_>, view: &ExtensionView, active: Option<&DeploymentRow>) -> Markup {
    html! {
        @if view.deployments.is_empty() {
            p.muted { "No versions." }
        } @else {
            div.scroll tabindex="0" role="region" aria-label="Versions" {
                table id="versions" {
                    caption { "Versions, newest first" }
                    thead {
                        tr {
                            th scope="col" { "Version" } th scope="col" { "Build" } th scope="col" { "Language" }
                            th scope="col" { "Hooks" } th scope="col" { "Uploaded (UTC)" } th scope="col" { "Runs" }
                        }
                    }
                    tbody {
                        @for deployment in &view.deployments {
                            tr {
                                th scope="row" { a href={ (base) "/versions/" (deployment.id) } { "v" (deployment.version) } }
                                td {
                                    (build_state(deployment.state))
                                    @if let Some(reason) = &deployment.build_error { br; span.muted { (reason) } }
                                }
                                td { (deployment.language) @if let Some(kind) = &deployment.source_type { " (" (kind) ")" } }
                                td { (deployment.hooks.join(", ")) }
                                td { (time(deployment.created_at)) }
                                td {
                                    @if active.is_some_and(|a| a.id == deployment.id) { strong { "Active" } }
                                    @else if deployment.state == DeploymentState::Enabled {
                                        (button_form(&format!("activate-{}", deployment.version), &format!("{base}/activate"), signed,
                                            &format!("Activate v{}", deployment.version), false, &[("deployment_id", &deployment.id)]))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn test_form(base: &str, signed: &Signed<'_>, view: &ExtensionView, test: &TestRun<'_>) -> Markup {
    let built: Vec<&DeploymentRow> = view.deployments.iter().filter(|d| d.state == DeploymentState::Enabled).collect();
    let hooks: Vec<Hook> =
        Hook::ALL.iter().copied().filter(|h| built.iter().any(|d| d.hooks.iter().any(|n| n == h.name()))).collect();
    html! {
        h2 id="test" { "Test" }
        p.muted {
            "Runs a hook of a built version with the input below, as a dry run: key-value writes stay in the run "
            "and outbound HTTP is not sent. Sample input for: "
            @for (i, hook) in hooks.iter().enumerate() {
                @if i > 0 { ", " }
                a href={ (base) "?hook=" (hook.name()) "#test" } { (hook.name()) }
            }
        }
        form id="test-extension" method="post" action={ (base) "/test#test" } {
            input type="hidden" name="csrf" value=(signed.csrf);
            div.field {
                label for="test-version" { "Version" }
                select id="test-version" name="deployment_id" {
                    @for deployment in &built {
                        option value=(deployment.id) selected[deployment.id == test.deployment_id] { "v" (deployment.version) }
                    }
                }
            }
            div.field {
                label for="test-hook" { "Hook" }
                select id="test-hook" name="hook" {
                    @for hook in &hooks { option value=(hook.name()) selected[*hook == test.hook] { (hook.name()) } }
                }
            }
            div.field.wide {
                label for="test-input" { "Input (JSON)" }
                textarea id="test-input" name="input" spellcheck="false" rows="10" { (test.input) }
            }
            button type="submit" { "Run test" }
        }
        @if let Some(run) = test.result { (test_result(run)) }
    }
}

fn test_result(run: &HookRun) -> Markup {
    let output = run.output.as_ref().map(|o| serde_json::to_string_pretty(o).unwrap_or_default());
    html! {
        section id="test-result" aria-label="Test result" {
            h3 { "Result" }
            dl.facts {
                dt { "Outcome" } dd { strong id="test-outcome" { (run.outcome.as_str()) } }
                dt { "Duration" } dd { (run.duration_us) " µs" }
                dt { "Fuel" } dd { (run.fuel_used) }
                @if let Some(error) = &run.error { dt { "Error" } dd { (error) } }
            }
            @if let Some(output) = output { h4 { "Output" } pre id="test-output" { code { (output) } } }
            h4 { "Captured log" }
            @if run.log.lines.is_empty() {
                p.muted { "Nothing was logged." }
            } @else {
                pre id="test-log" {
                    code { @for line in &run.log.lines { (line.level) ": " (line.message) "\n" } }
                }
            }
            @if run.log.dropped > 0 { p.muted { (run.log.dropped) " lines did not fit the log's limit." } }
        }
    }
}

fn invocation_log(invocations: &[InvocationRow]) -> Markup {
    html! {
        @if invocations.is_empty() {
            p.muted { "No invocations yet." }
        } @else {
            div.scroll tabindex="0" role="region" aria-label="Invocation log" {
                table id="invocations" {
                    caption { "The latest invocations, newest first" }
                    thead {
                        tr {
                            th scope="col" { "Started (UTC)" } th scope="col" { "Version" } th scope="col" { "Hook" }
                            th scope="col" { "Outcome" } th scope="col" { "µs" } th scope="col" { "Fuel" } th scope="col" { "Detail" }
                        }
                    }
                    tbody {
                        @for invocation in invocations {
                            tr {
                                th scope="row" { (time(invocation.started_at)) }
                                td { "v" (invocation.version) }
                                td { (invocation.hook) @if invocation.dry_run { " " span.muted { "(test)" } } }
                                td { (invocation.outcome) }
                                td { (invocation.duration_us) }
                                td { (invocation.fuel_used) }
                                td { (invocation.detail.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn bindings(view: &ExtensionView, base: &str, signed: &Signed<'_>, clients: &[(String, String)]) -> Markup {
    // The hooks a built version exports (else every hook): what a binding can name.
    let exported: Vec<Hook> = match view.active().filter(|d| d.state == DeploymentState::Enabled) {
        Some(active) => Hook::ALL.iter().copied().filter(|h| active.hooks.iter().any(|e| e == h.name())).collect(),
        None => Hook::ALL.to_vec(),
    };
    html! {
        @if view.bindings.is_empty() {
            p.muted { "Not bound: it runs on no hook." }
        } @else {
            div.scroll tabindex="0" role="region" aria-label="Bindings" {
                table id="bindings" {
                    caption { "Where it runs" }
                    thead {
                        tr {
                            th scope="col" { "Hook" } th scope="col" { "For" } th scope="col" { "Order" }
                            th scope="col" { "If it fails" } th scope="col" { "Schedule or filter" }
                            th scope="col" { span.hidden { "Actions" } }
                        }
                    }
                    tbody {
                        @for binding in &view.bindings {
                            tr {
                                th scope="row" { (binding.hook) }
                                td { @if let Some(client) = &binding.client_id { "client " code { (client) } } @else { "the whole tenant" } }
                                td { (binding.position) }
                                td { (binding.failure_policy.as_str()) }
                                td {
                                    (binding.schedule.as_deref().unwrap_or(""))
                                    @if let Some(filter) = &binding.filter { code { (filter.to_string()) } }
                                }
                                td {
                                    (button_form(&format!("unbind-{}", binding.id), &format!("{base}/bindings/delete"), signed, "Remove", false, &[("binding_id", &binding.id)]))
                                }
                            }
                        }
                    }
                }
            }
        }
        @if signed.can_write {
            form id="add-binding" method="post" action={ (base) "/bindings" } {
                input type="hidden" name="csrf" value=(signed.csrf);
                fieldset {
                    legend { "Bind it to a hook" }
                    div.field {
                        label for="binding-hook" { "Hook" }
                        select id="binding-hook" name="hook" {
                            @for hook in &exported { option value=(hook.name()) { (hook.name()) } }
                        }
                    }
                    div.field {
                        label for="binding-client" { "For (token issuance may name one client, whose bindings then replace the tenant's)" }
                        select id="binding-client" name="client_id" {
                            option value="" { "the whole tenant" }
                            @for (id, name) in clients { option value=(id) { (name) " (" (id) ")" } }
                        }
                    }
                    div.field {
                        label for="binding-policy" { "If it fails" }
                        select id="binding-policy" name="failure_policy" {
                            option value="" { "the hook's default" }
                            option value="fail-closed" { "fail-closed: the request fails" }
                            option value="fail-open" { "fail-open: the request goes on without it" }
                        }
                    }
                    div.field {
                        label for="binding-position" { "Order (lower runs first)" }
                        input id="binding-position" name="position" type="number" value="0" step="1";
                    }
                    div.field {
                        label for="binding-schedule" { "Schedule (scheduled hook only: cron, e.g. 0 */5 * * * *)" }
                        input id="binding-schedule" name="schedule" autocomplete="off";
                    }
                    div.field {
                        label for="binding-filter" { "Filter (events hook only: JSON, e.g. {\"type\": [\"authentication\"]})" }
                        input id="binding-filter" name="filter" autocomplete="off";
                    }
                    button.quiet type="submit" { "Bind" }
                }
            }
        }
    }
}

/// One version: its build, and its source when it was uploaded as source (the code view).
pub fn version(
    stylesheet: &str,
    tenant: &Tenant,
    signed: &Signed<'_>,
    deployment: &DeploymentRow,
    source: Option<&str>,
) -> String {
    let back = format!("/console/{}/extensions/{}", tenant.name, deployment.extension);
    let body = html! {
        p { a href=(back) { "← Extension " (deployment.extension) } }
        h1 { (deployment.extension) " v" (deployment.version) }
        dl.facts {
            dt { "Build" } dd { (build_state(deployment.state)) " " span.muted { (explain_build(deployment.state)) } }
            @if let Some(reason) = &deployment.build_error { dt { "Why it failed" } dd { (reason) } }
            dt { "Id" } dd { code { (deployment.id) } }
            dt { "Language" } dd { (deployment.language) @if let Some(kind) = &deployment.source_type { " (uploaded as " (kind) ")" } }
            dt { "Hooks" } dd { (deployment.hooks.join(", ")) }
            dt { "Size" } dd { (deployment.size_bytes) " bytes" }
            dt { "SHA-256" } dd { code { (deployment.content_sha256) } }
            dt { "Uploaded (UTC)" } dd { (time(deployment.created_at)) }
            dt { "Built (UTC)" } dd { @if let Some(at) = deployment.built_at { (time(at)) } @else { "not yet" } }
        }
        @if let Some(source) = source {
            h2 { "Source" }
            div.scroll tabindex="0" role="region" aria-label="Source" { pre.code id="source" { code { (source) } } }
        }
    };
    let refresh = (deployment.state == DeploymentState::Pending).then_some(BUILD_REFRESH_SECONDS);
    let title = format!("{} v{}", deployment.extension, deployment.version);
    refreshing_layout(&title, stylesheet, Some(tenant), Some(signed), refresh, body).into_string()
}

/// The question before an extension is deleted.
pub fn confirm_delete_extension(
    stylesheet: &str,
    tenant: &Tenant,
    signed: &Signed<'_>,
    extension: &ExtensionRow,
) -> String {
    let base = format!("/console/{}/extensions/{}", tenant.name, extension.name);
    let body = html! {
        h1 { "Delete extension " (extension.name) "?" }
        p {
            "Its versions, bindings, configuration and secrets are removed, and it stops running at once. "
            "This cannot be undone: to stop it for now, disable it instead."
        }
        div.actions {
            (button_form("delete-extension", &format!("{base}/delete"), signed, &format!("Delete {}", extension.name), true, &[]))
            a href=(base) { "Cancel" }
        }
    };
    layout("Delete extension", stylesheet, Some(tenant), Some(signed), body).into_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenancy::{ResourceState, TenantSettings};

    fn tenant() -> Tenant {
        Tenant {
            id: "ten_1".into(),
            name: "acme".into(),
            label: "Acme".into(),
            colour: String::new(),
            tags: Default::default(),
            parent_id: None,
            state: ResourceState::Enabled,
            settings: TenantSettings::default(),
            settings_changed: Default::default(),
            default: false,
            created_at: 0,
            updated_at: 0,
            parent_state: None,
        }
    }

    fn version(number: i64, built: DeploymentState) -> DeploymentRow {
        DeploymentRow {
            id: format!("dep_{number}"),
            extension: "claims".into(),
            version: number,
            content_sha256: String::new(),
            size_bytes: 1,
            language: "compiled".into(),
            source_type: None,
            hooks: vec!["token-issuance".into()],
            state: built,
            build_error: None,
            created_at: 0,
            built_at: None,
        }
    }

    /// The extension page with versions in these build states, for an administrator.
    fn page_with(states: &[DeploymentState]) -> String {
        let deployments: Vec<DeploymentRow> =
            states.iter().enumerate().map(|(i, built)| version(i as i64 + 1, *built)).collect();
        let row = ExtensionRow {
            name: "claims".into(),
            state: ResourceState::Enabled,
            active_deployment_id: None,
            config: Default::default(),
            created_at: 0,
            updated_at: 0,
        };
        let view = ExtensionView {
            extension: row,
            config: Default::default(),
            secrets: vec![],
            deployments,
            bindings: vec![],
        };
        let metrics = InvocationStats {
            extension: "claims".into(),
            count: 0,
            errors: 0,
            denied: 0,
            error_rate: 0.0,
            p50_us: 0,
            p99_us: 0,
            by_outcome: Default::default(),
        };
        let page = ExtensionPage { metrics: &metrics, invocations: &[], test: None, clients: &[], message: None };
        let signed = Signed { username: "ann", csrf: "token", can_write: true };
        extension("/s.css", &tenant(), &signed, &view, &page)
    }

    #[test]
    fn a_page_with_a_build_in_progress_reloads_itself_and_one_without_does_not() {
        let building = page_with(&[DeploymentState::Enabled, DeploymentState::Pending]);
        assert!(building.contains(r#"<meta http-equiv="refresh" content="2">"#), "{building}");
        assert!(building.contains("being built"), "{building}");
        let built = page_with(&[DeploymentState::Enabled, DeploymentState::Failed]);
        assert!(!built.contains("http-equiv") && !built.contains("being built"), "{built}");
    }
}
