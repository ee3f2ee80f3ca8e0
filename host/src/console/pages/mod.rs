//! The console's HTML, rendered with maud (every value escaped at compile time): one
//! layout with the tenant's name and colour, and one function per page. No inline script
//! or style, so the CSP stays strict: the stylesheet is the embedded, cache-busted asset,
//! and the tenant's colour comes from its own small stylesheet (`theme.css`).

use maud::{DOCTYPE, Markup, html};

use crate::tenancy::{ResourceState, Tenant};

mod accounts;
mod activity;
mod apis;
mod controls;
mod dashboard;
mod extensions;
mod factors;
pub mod operator;
mod security;
mod settings;

pub use accounts::{AccountAccess, AccountsPage, ClientsPage, account, accounts, client, clients, confirm_delete};
pub use activity::{AuditFilter, EventsFilter, audit, events};
pub use apis::{ApisPage, apis};
pub use controls::{ControlsPage, controls};
pub use dashboard::dashboard;
pub use extensions::{
    ExtensionPage, ExtensionsPage, TestRun, confirm_delete_extension, extension, extensions, version,
};
pub use factors::factors;
pub use security::{SecurityPage, security};
pub use settings::{DEFAULT_COLOUR, Family, settings};

/// What the layout shows of the signed-in administrator.
#[derive(Debug)]
pub struct Signed<'a> {
    pub username: &'a str,
    /// The anti-forgery token every form posts.
    pub csrf: &'a str,
    /// An administrator's console; a viewer's (`admin:read`) shows no control that
    /// changes anything.
    pub can_write: bool,
}

fn layout(title: &str, stylesheet: &str, tenant: Option<&Tenant>, signed: Option<&Signed<'_>>, body: Markup) -> Markup {
    refreshing_layout(title, stylesheet, tenant, signed, None, body)
}

/// The layout of a page that reloads itself every `refresh` seconds (a build in progress),
/// with no script: a `refresh` meta element.
fn refreshing_layout(
    title: &str,
    stylesheet: &str,
    tenant: Option<&Tenant>,
    signed: Option<&Signed<'_>>,
    refresh: Option<u32>,
    body: Markup,
) -> Markup {
    let theme = tenant.map(|tenant| format!("/console/{}/theme.css", tenant.name));
    let banner = html! {
        span.tenant {
            @if let Some(tenant) = tenant { (tenant.label) " " span.muted { "(" (tenant.name) ")" } }
            @else { "Keyhaven console" }
        }
        @if let (Some(tenant), Some(signed)) = (tenant, signed) {
            span {
                "Signed in as " strong { (signed.username) } " "
                a.security href={ "/console/" (tenant.name) "/security" } { "Your security" } " "
                (sign_out_form(&format!("/console/{}/signout", tenant.name), signed))
            }
        }
    };
    let nav = html! {
        @if let (Some(tenant), Some(_)) = (tenant, signed) {
            nav aria-label="Console" {
                a href={ "/console/" (tenant.name) "/" } { "Dashboard" }
                a href={ "/console/" (tenant.name) "/accounts" } { "Accounts" }
                a href={ "/console/" (tenant.name) "/clients" } { "Clients" }
                a href={ "/console/" (tenant.name) "/factors" } { "Factors" }
                a href={ "/console/" (tenant.name) "/extensions" } { "Extensions" }
                a href={ "/console/" (tenant.name) "/tokens" } { "APIs" }
                a href={ "/console/" (tenant.name) "/controls" } { "Controls" }
                a href={ "/console/" (tenant.name) "/events" } { "Events" }
                a href={ "/console/" (tenant.name) "/audit" } { "Audit log" }
                a href={ "/console/" (tenant.name) "/settings" } { "Settings" }
            }
        }
    };
    let read_only = signed.is_some_and(|signed| !signed.can_write);
    document(Shell { title, stylesheet, theme: theme.as_deref(), refresh, banner, nav, read_only }, body)
}

/// What every console page is framed by: its title, stylesheets, header and navigation.
struct Shell<'a> {
    title: &'a str,
    stylesheet: &'a str,
    /// The tenant's own small stylesheet (its colour), if the page is a tenant's.
    theme: Option<&'a str>,
    refresh: Option<u32>,
    /// What the header shows: whose console, who is signed in.
    banner: Markup,
    nav: Markup,
    /// A viewer's page says that it changes nothing.
    read_only: bool,
}

fn document(shell: Shell<'_>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(seconds) = shell.refresh { meta http-equiv="refresh" content=(seconds); }
                title { (shell.title) " · Keyhaven console" }
                // No favicon to fetch (a browser would ask for /favicon.ico otherwise).
                link rel="icon" href="data:,";
                link rel="stylesheet" href=(shell.stylesheet);
                @if let Some(theme) = shell.theme { link rel="stylesheet" href=(theme); }
            }
            body {
                header.bar { (shell.banner) }
                (shell.nav)
                main {
                    @if shell.read_only {
                        p.readonly role="note" {
                            "You are signed in as a viewer: you see what an administrator sees, and change nothing."
                        }
                    }
                    (body)
                }
            }
        }
    }
}

/// The sign-out button of a header.
fn sign_out_form(action: &str, signed: &Signed<'_>) -> Markup {
    html! {
        form id="signout" method="post" action=(action) {
            input type="hidden" name="csrf" value=(signed.csrf);
            button.quiet type="submit" { "Sign out" }
        }
    }
}

/// A tenant's tags as a tags field shows them: one `key=value` a line.
fn tags_text(tenant: &Tenant) -> String {
    tenant.tags.iter().map(|(key, value)| format!("{key}={value}")).collect::<Vec<_>>().join("\n")
}

/// A Unix time as `YYYY-MM-DD HH:MM:SS` (UTC).
fn time(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0).map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_default()
}

/// A resource's state, with what it means for it.
fn state(state: ResourceState) -> Markup {
    html! { span.state title=(explain(state)) { (state.as_str()) } }
}

/// What a state means, in words, wherever a state is shown.
fn explain(state: ResourceState) -> &'static str {
    match state {
        ResourceState::Pending => {
            "Not usable yet: it is waiting for a first step (an invitation accepted, a build finished)."
        }
        ResourceState::Enabled => "In use.",
        ResourceState::Disabled => {
            "Switched off by an administrator: it cannot sign in or obtain tokens until it is enabled again."
        }
        ResourceState::Locked => "Locked by the platform's operator: only the operator can lift the lock.",
    }
}

/// The states among `states`, each once, in the order first seen.
fn distinct_states<'a>(states: impl Iterator<Item = &'a ResourceState>) -> Vec<ResourceState> {
    let mut shown: Vec<ResourceState> = Vec::new();
    for each in states {
        if !shown.contains(each) {
            shown.push(*each);
        }
    }
    shown
}

/// The states, explained: shown under lists of resources.
fn states_legend(shown: &[ResourceState]) -> Markup {
    html! {
        @if !shown.is_empty() {
            dl.legend aria-label="States" {
                @for each in [ResourceState::Pending, ResourceState::Enabled, ResourceState::Disabled, ResourceState::Locked] {
                    @if shown.contains(&each) { dt { (each.as_str()) } dd { (explain(each)) } }
                }
            }
        }
    }
}

/// A form that posts one button (none for a viewer): its id, its action, the button's words and any fields.
fn button_form(
    id: &str,
    action: &str,
    signed: &Signed<'_>,
    words: &str,
    danger: bool,
    fields: &[(&str, &str)],
) -> Markup {
    if !signed.can_write {
        return html! {};
    }
    html! {
        form id=(id) method="post" action=(action) {
            input type="hidden" name="csrf" value=(signed.csrf);
            @for (name, value) in fields { input type="hidden" name=(name) value=(value); }
            @if danger { button.danger type="submit" { (words) } } @else { button.quiet type="submit" { (words) } }
        }
    }
}

/// The enable/disable control of a resource in `current` state (none while it is pending
/// or locked: those are not an administrator's to change).
fn state_control(id: &str, action: &str, signed: &Signed<'_>, current: ResourceState) -> Markup {
    match current {
        ResourceState::Enabled => button_form(id, action, signed, "Disable", false, &[("state", "DISABLED")]),
        ResourceState::Disabled => button_form(id, action, signed, "Enable", false, &[("state", "ENABLED")]),
        ResourceState::Pending | ResourceState::Locked => html! {},
    }
}

/// Said of an enrolled factor whose kind the tenant no longer allows.
fn not_allowed(tenant: &Tenant, kind: crate::tenancy::FactorKind) -> Markup {
    html! {
        @if !tenant.settings.allows(kind) {
            " " span.muted.not-allowed { "(not allowed by the tenant: signs no one in)" }
        }
    }
}

/// A form's refusal, read out when it is shown.
fn refusal(message: Option<&str>) -> Markup {
    html! { @if let Some(message) = message { p.notice role="alert" { (message) } } }
}

/// After signing out.
pub fn signed_out(stylesheet: &str, tenant: &Tenant) -> String {
    let body = html! {
        h1 { "You are signed out" }
        p { a.button href={ "/console/" (tenant.name) "/signin" } { "Sign in again" } }
    };
    layout("Signed out", stylesheet, Some(tenant), None, body).into_string()
}

/// An error, as a readable page (never a blank one).
pub fn error(stylesheet: &str, tenant: Option<&Tenant>, title: &str, detail: &str) -> String {
    let body = html! {
        h1 { (title) }
        p.notice role="alert" { (detail) }
        @if let Some(tenant) = tenant {
            p { a href={ "/console/" (tenant.name) "/signin" } { "Sign in" } }
        }
    };
    layout(title, stylesheet, tenant, None, body).into_string()
}
