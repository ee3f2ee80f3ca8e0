//! The operator's pages under `/console/_operator/`: signing in with an operator token, the
//! tenant list (search, paging, a new tenant with its first administrator's secrets shown
//! once), a tenant (label, tags, sub-tenants, its state changed only after a confirmation
//! that names what follows) and an account moved to another tenant after a confirmation.

use maud::{Markup, html};

use super::{Shell, Signed, document, explain, refusal, sign_out_form, state, states_legend, tags_text, time};
use crate::ops::tenants::Administrator;
use crate::tenancy::{Account, ResourceState, Tenant};

/// Where the operator's console lives: `_` begins no tenant's name, so no tenant's
/// console can ever be at this address.
pub const BASE: &str = "/console/_operator";

fn layout(title: &str, stylesheet: &str, signed: Option<&Signed<'_>>, body: Markup) -> Markup {
    let banner = html! {
        span.tenant { "Keyhaven operator console" }
        @if let Some(signed) = signed {
            span {
                "Signed in with the operator token " strong { (signed.username) } " "
                (sign_out_form(&format!("{BASE}/signout"), signed))
            }
        }
    };
    let nav = html! {
        @if signed.is_some() {
            nav aria-label="Operator console" { a href={ (BASE) "/" } { "Tenants" } }
        }
    };
    document(Shell { title, stylesheet, theme: None, refresh: None, banner, nav, read_only: false }, body)
}

/// The hidden anti-forgery field of an operator's form.
fn csrf(signed: &Signed<'_>) -> Markup {
    html! { input type="hidden" name="csrf" value=(signed.csrf); }
}

/// The sign-in form: an operator token pasted, never kept by the browser but in the
/// console's sealed cookie.
pub fn sign_in(stylesheet: &str, form_token: &str, message: Option<&str>) -> String {
    let body = html! {
        h1 { "Sign in as the platform's operator" }
        (refusal(message))
        p { "Paste an operator token (the root token the service printed at its first start, or "
            code { "KEYHAVEN_ROOT_TOKEN" } "). The console keeps it only as a sealed cookie that lasts 8 hours." }
        form id="operator-signin" method="post" action={ (BASE) "/signin" } {
            input type="hidden" name="csrf" value=(form_token);
            div.field {
                label for="operator-token" { "Operator token" }
                input id="operator-token" name="token" type="password" required autocomplete="off";
            }
            button type="submit" { "Sign in" }
        }
        p.muted { "Tenant administrators sign in at their tenant's console, " code { "/console/<tenant>/" } "." }
    };
    layout("Operator sign-in", stylesheet, None, body).into_string()
}

/// After signing out of the operator's console.
pub fn signed_out(stylesheet: &str) -> String {
    let body = html! {
        h1 { "You are signed out" }
        p { a.button href={ (BASE) "/signin" } { "Sign in again" } }
    };
    layout("Signed out", stylesheet, None, body).into_string()
}

/// An error of the operator's console, as a readable page.
pub fn error(stylesheet: &str, title: &str, detail: &str) -> String {
    let body = html! {
        h1 { (title) }
        p.notice role="alert" { (detail) }
        p { a href={ (BASE) "/" } { "The tenants" } }
    };
    layout(title, stylesheet, None, body).into_string()
}

/// A tenant's state as the operator sees it: its own, and the effective one when its
/// parent's state makes it differ.
fn states(tenant: &Tenant) -> Markup {
    let effective = tenant.effective_state();
    html! {
        (state(tenant.state))
        @if effective != tenant.state { " " span.muted { "(effectively " (effective.as_str()) ": its parent is not enabled)" } }
    }
}

/// A new tenant's secrets, shown once.
#[derive(Debug)]
pub struct Created<'a> {
    pub tenant: &'a Tenant,
    pub admin_token: &'a str,
    pub administrator: &'a Administrator,
    pub issuer: &'a str,
}

fn created_panel(created: &Created<'_>) -> Markup {
    let name = &created.tenant.name;
    html! {
        section.created role="status" aria-labelledby="created-heading" {
            h2 id="created-heading" { "Tenant " code { (name) } " created" }
            p { strong { "Copy these now: they are shown once and stored only as digests." } }
            dl.facts {
                dt { "Issuer" } dd { code { (created.issuer) } }
                dt { "Administrator token (admin API, for automation)" } dd { code id="new-admin-token" { (created.admin_token) } }
                dt { "First administrator" } dd { code { (created.administrator.username) } " (PENDING until the invitation is accepted)" }
                dt { "Invitation token" } dd { code id="new-invite-token" { (created.administrator.invite_token) } }
                dt { "Invitation expires (UTC)" } dd { (time(created.administrator.invite_expires_at)) }
            }
            p { "The administrator sets a password by posting the invitation to " code { "/t/" (name) "/invite" }
                ", then signs in at " a href={ "/console/" (name) "/" } { "the tenant's console" } "." }
        }
    }
}

/// The form that creates a tenant, a sub-tenant of `parent` if given.
fn create_form(signed: &Signed<'_>, parents: &[&Tenant], parent: Option<&Tenant>) -> Markup {
    let id = if parent.is_some() { "create-subtenant" } else { "create-tenant" };
    html! {
        form id=(id) method="post" action={ (BASE) "/tenants" } {
            (csrf(signed))
            div.field {
                label for={ (id) "-name" } { "Name (lowercase letters, digits and dashes: the tenant's path and subdomain)" }
                input id={ (id) "-name" } name="name" required maxlength="63" pattern="[a-z]([a-z0-9\\-]{0,61}[a-z0-9])?";
            }
            div.field { label for={ (id) "-label" } { "Label (empty: the name)" } input id={ (id) "-label" } name="label" maxlength="200"; }
            @if let Some(parent) = parent {
                input type="hidden" name="parent" value=(parent.name);
            } @else {
                div.field {
                    label for={ (id) "-parent" } { "Parent (one level of sub-tenants)" }
                    select id={ (id) "-parent" } name="parent" {
                        option value="" { "None: a top-level tenant" }
                        @for each in parents { option value=(each.name) { (each.name) } }
                    }
                }
            }
            div.field {
                label for={ (id) "-tags" } { "Tags (one key=value a line)" }
                textarea id={ (id) "-tags" } name="tags" rows="2" {}
            }
            button type="submit" { @if parent.is_some() { "Create the sub-tenant" } @else { "Create the tenant" } }
        }
    }
}

/// The tenant list and what it is filtered by.
#[derive(Debug, Default)]
pub struct TenantsPage<'a> {
    /// This page's tenants, each with its parent's name.
    pub tenants: Vec<(&'a Tenant, Option<&'a str>)>,
    /// How many tenants match, on every page.
    pub matching: usize,
    pub q: &'a str,
    pub state: &'a str,
    /// The name the next page starts after, if there is one.
    pub next: Option<&'a str>,
    /// Tenants that may be a parent (top-level ones).
    pub parents: Vec<&'a Tenant>,
    pub created: Option<Created<'a>>,
    pub message: Option<&'a str>,
}

pub fn tenants(stylesheet: &str, signed: &Signed<'_>, page: &TenantsPage<'_>) -> String {
    let shown = super::distinct_states(page.tenants.iter().map(|(tenant, _)| &tenant.state));
    let body = html! {
        h1 { "Tenants" }
        (refusal(page.message))
        @if let Some(created) = &page.created { (created_panel(created)) }
        form id="tenant-search" class="filters" method="get" action={ (BASE) "/" } role="search" {
            div.field { label for="tenant-q" { "Name, label or tag (key=value)" } input id="tenant-q" name="q" value=(page.q); }
            div.field {
                label for="tenant-state" { "State" }
                select id="tenant-state" name="state" {
                    option value="" { "Any" }
                    @for each in ["ENABLED", "DISABLED", "LOCKED"] { option value=(each) selected[page.state == each] { (each) } }
                }
            }
            button type="submit" { "Search" }
        }
        p.muted { (page.matching) " matching" }
        @if page.tenants.is_empty() {
            p { "No tenant matches." }
        } @else {
            div.scroll tabindex="0" role="region" aria-label="Tenants" {
                table id="tenants" {
                    caption { "The platform's tenants, by name" }
                    thead { tr { th scope="col" { "Name" } th scope="col" { "Label" } th scope="col" { "State" } th scope="col" { "Parent" } th scope="col" { "Tags" } th scope="col" { "Created (UTC)" } } }
                    tbody {
                        @for (tenant, parent) in &page.tenants {
                            tr {
                                th scope="row" { a href={ (BASE) "/tenants/" (tenant.name) } { (tenant.name) } @if tenant.default { " " span.muted { "(default)" } } }
                                td { (tenant.label) }
                                td { (states(tenant)) }
                                td { @if let Some(parent) = parent { a href={ (BASE) "/tenants/" (parent) } { (parent) } } }
                                td { @for (key, value) in &tenant.tags { code { (key) "=" (value) } " " } }
                                td { (time(tenant.created_at)) }
                            }
                        }
                    }
                }
            }
            (states_legend(&shown))
        }
        @if let Some(next) = page.next {
            p { a id="next-page" href={ (BASE) "/?" (serde_urlencoded::to_string([("q", page.q), ("state", page.state), ("after", next)]).unwrap_or_default()) } { "Next page" } }
        }
        h2 { "Create a tenant" }
        p.muted { "A tenant starts with a signing key, a first administrator to invite and a token for automation." }
        (create_form(signed, &page.parents, None))
    };
    layout("Tenants", stylesheet, Some(signed), body).into_string()
}

/// One tenant as the operator manages it.
#[derive(Debug)]
pub struct TenantPage<'a> {
    pub tenant: &'a Tenant,
    pub parent: Option<&'a Tenant>,
    pub children: Vec<&'a Tenant>,
    /// Tenants an account may be moved to.
    pub destinations: Vec<&'a Tenant>,
    pub issuer: &'a str,
    pub message: Option<&'a str>,
}

/// The states an operator may move a tenant in `current` to, with the button's words.
fn state_changes(current: ResourceState) -> Vec<(ResourceState, &'static str)> {
    [(ResourceState::Enabled, "Enable…"), (ResourceState::Disabled, "Disable…"), (ResourceState::Locked, "Lock…")]
        .into_iter()
        .filter(|(to, _)| *to != current)
        .collect()
}

pub fn tenant(stylesheet: &str, signed: &Signed<'_>, page: &TenantPage<'_>) -> String {
    let tenant = page.tenant;
    let base = format!("{BASE}/tenants/{}", tenant.name);
    let body = html! {
        h1 { (tenant.label) " " span.muted { "(" (tenant.name) ")" } }
        (refusal(page.message))
        dl.facts {
            dt { "State" } dd { (states(tenant)) " " span.muted { (explain(tenant.state)) } }
            dt { "Id" } dd { code { (tenant.id) } }
            dt { "Issuer" } dd { code { (page.issuer) } }
            dt { "Parent" } dd {
                @if let Some(parent) = page.parent { a href={ (BASE) "/tenants/" (parent.name) } { (parent.name) } " " (state(parent.state)) }
                @else { "None (a top-level tenant)" }
            }
            dt { "Default tenant" } dd { @if tenant.default { "yes" } @else { "no" } }
            dt { "Created (UTC)" } dd { (time(tenant.created_at)) }
            dt { "Changed (UTC)" } dd { (time(tenant.updated_at)) }
        }
        p { a href={ "/console/" (tenant.name) "/" } { "Open the tenant's console" } " (as one of its administrators)" }
        h2 { "State" }
        p.muted { "A disabled or locked tenant issues no token, runs no extension and answers no administrator but you; "
            "its sub-tenants are effectively locked with it. Each change asks you to confirm." }
        div.actions {
            @for (to, words) in state_changes(tenant.state) {
                a.button id={ "state-" (to.as_str().to_ascii_lowercase()) } href={ (base) "/state?to=" (to.as_str()) } { (words) }
            }
        }
        h2 { "Label and tags" }
        form id="tenant-details" method="post" action=(base) {
            (csrf(signed))
            div.field { label for="tenant-label" { "Label" } input id="tenant-label" name="label" required maxlength="200" value=(tenant.label); }
            div.field {
                label for="tenant-tags" { "Tags (one key=value a line; at most 50)" }
                textarea id="tenant-tags" name="tags" rows="4" { (tags_text(tenant)) }
            }
            button type="submit" { "Save" }
        }
        @if tenant.parent_id.is_none() {
            h2 { "Sub-tenants" }
            @if page.children.is_empty() {
                p { "No sub-tenants." }
            } @else {
                ul id="subtenants" {
                    @for child in &page.children {
                        li { a href={ (BASE) "/tenants/" (child.name) } { (child.name) } " " (states(child)) }
                    }
                }
            }
            h3 { "Create a sub-tenant" }
            (create_form(signed, &[], Some(tenant)))
        }
        h2 { "Move an account to another tenant" }
        p.muted { "Its factors follow it; its sessions, consents and pending codes end. You confirm on the next page." }
        @if page.destinations.is_empty() {
            p { "There is no other tenant to move an account to." }
        } @else {
            form id="move-account" method="get" action={ (base) "/move" } {
                div.field { label for="move-account-id" { "Account (its id or username)" } input id="move-account-id" name="account" required maxlength="100"; }
                div.field {
                    label for="move-to" { "To the tenant" }
                    select id="move-to" name="to" { @for each in &page.destinations { option value=(each.name) { (each.name) } } }
                }
                button type="submit" { "Move…" }
            }
        }
    };
    layout(&tenant.name, stylesheet, Some(signed), body).into_string()
}

/// What a change of `tenant`'s state to `to` does, and the form that confirms it.
pub fn confirm_state(
    stylesheet: &str,
    signed: &Signed<'_>,
    tenant: &Tenant,
    to: ResourceState,
    children: &[&Tenant],
    message: Option<&str>,
) -> String {
    let base = format!("{BASE}/tenants/{}", tenant.name);
    let body = html! {
        h1 { "Change " (tenant.name) " to " (to.as_str()) "?" }
        (refusal(message))
        p { "It is " (state(tenant.state)) " now." }
        @match to {
            ResourceState::Enabled => p { "It issues tokens, runs its extensions and lets its administrators in again." }
            _ => {
                ul {
                    li { "Its clients and accounts obtain no token; tokens already issued stay valid until they expire." }
                    li { "Its extensions, events and schedules stop; its administrators are refused." }
                    @if to == ResourceState::Locked { li { "Its own administrators cannot lift a lock: only an operator can." } }
                    @if !children.is_empty() {
                        li { "Its " (children.len()) " sub-tenants are effectively locked with it: "
                            @for (i, child) in children.iter().enumerate() { @if i > 0 { ", " } code { (child.name) } } }
                    }
                }
            }
        }
        form id="confirm-state" method="post" action={ (base) "/state" } {
            (csrf(signed))
            input type="hidden" name="state" value=(to.as_str());
            div.field {
                label for="confirm-name" { "Type the tenant's name, " code { (tenant.name) } ", to confirm" }
                input id="confirm-name" name="confirm" required autocomplete="off";
            }
            @if to == ResourceState::Enabled { button type="submit" { "Enable " (tenant.name) } }
            @else { button.danger type="submit" { "Change " (tenant.name) " to " (to.as_str()) } }
        }
        p { a href=(base) { "Cancel" } }
    };
    layout("Confirm the state change", stylesheet, Some(signed), body).into_string()
}

/// What moving `account` from `from` to `to` does, and the form that confirms it.
pub fn confirm_move(
    stylesheet: &str,
    signed: &Signed<'_>,
    from: &Tenant,
    account: &Account,
    to: &Tenant,
    message: Option<&str>,
) -> String {
    let base = format!("{BASE}/tenants/{}", from.name);
    let body = html! {
        h1 { "Move " (account.username) " to " (to.name) "?" }
        (refusal(message))
        dl.facts {
            dt { "Account" } dd { code { (account.id) } " " (state(account.state)) }
            dt { "From" } dd { code { (from.name) } }
            dt { "To" } dd { code { (to.name) } }
        }
        ul {
            li { "Its factors follow it (authenticator apps keep working)." }
            li { "Its sessions, pending codes and consents end: the consents were given to " (from.name) "." }
            li { "Both tenants record an " code { "account.moved" } " event; the audit log names you." }
        }
        form id="confirm-move" method="post" action={ (base) "/move" } {
            (csrf(signed))
            input type="hidden" name="account" value=(account.id);
            input type="hidden" name="to" value=(to.name);
            div.field {
                label for="confirm-username" { "Type the account's username, " code { (account.username) } ", to confirm" }
                input id="confirm-username" name="confirm" required autocomplete="off";
            }
            button.danger type="submit" { "Move the account" }
        }
        p { a href=(base) { "Cancel" } }
    };
    layout("Confirm the move", stylesheet, Some(signed), body).into_string()
}
