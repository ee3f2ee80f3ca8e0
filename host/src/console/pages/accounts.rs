//! The accounts and clients pages: a tenant's human accounts (search, pages, create, one
//! account's details, factors (disabled or enabled), permissions (granted, revoked),
//! invitation (shown once), sessions (ended) and consents (revoked), disable or enable,
//! delete after a confirmation) and its
//! machine clients (create, the secret shown once, disable or enable).

use maud::html;

use super::{
    Signed, button_form, distinct_states, explain, layout, refusal, state, state_control, states_legend, time,
};
use crate::ops::permissions::Invite;
use crate::storage::SessionRow;
use crate::tenancy::{Account, Client, Consent, Factor, Tenant};

/// What the accounts list shows besides the accounts.
#[derive(Debug)]
pub struct AccountsPage<'a> {
    /// The search text, if any.
    pub search: &'a str,
    /// The next page's cursor, when there is one.
    pub next: Option<&'a str>,
    /// Why the last form was refused.
    pub message: Option<&'a str>,
}

/// The tenant's accounts, in username order, with the search and create forms.
pub fn accounts(
    stylesheet: &str,
    tenant: &Tenant,
    signed: &Signed<'_>,
    accounts: &[Account],
    page: &AccountsPage<'_>,
) -> String {
    let base = format!("/console/{}/accounts", tenant.name);
    let body = html! {
        h1 { "Accounts" }
        form.search role="search" method="get" action=(base) {
            div.field {
                label for="search" { "Username or e-mail contains" }
                input id="search" name="q" type="search" value=(page.search) maxlength="100";
            }
            button.quiet type="submit" { "Search" }
        }
        @if accounts.is_empty() {
            p.muted { @if page.search.is_empty() { "No accounts yet." } @else { "No account matches." } }
        } @else {
            div.scroll tabindex="0" role="region" aria-label="Accounts" {
                table id="accounts" {
                    caption { "The tenant's accounts, by username" }
                    thead {
                        tr {
                            th scope="col" { "Username" } th scope="col" { "E-mail" } th scope="col" { "State" }
                            th scope="col" { "Created (UTC)" } th scope="col" { "Last active (UTC)" }
                        }
                    }
                    tbody {
                        @for account in accounts {
                            tr {
                                th scope="row" { a href={ (base) "/" (account.id) } { (account.username) } }
                                td { (account.email.as_deref().unwrap_or("")) }
                                td { (state(account.state)) }
                                td { (time(account.created_at)) }
                                td { @if let Some(at) = account.last_active_at { (time(at)) } @else { "never" } }
                            }
                        }
                    }
                }
            }
            (states_legend(&distinct_states(accounts.iter().map(|a| &a.state))))
        }
        @if let Some(next) = page.next {
            p { a href={ (base) "?q=" (urlencoded(page.search)) "&after=" (urlencoded(next)) } rel="next" { "Next page" } }
        }
        h2 { "Create an account" }
        (refusal(page.message))
        @if signed.can_write {
            form id="create-account" method="post" action=(base) {
                input type="hidden" name="csrf" value=(signed.csrf);
                div.field { label for="account-username" { "Username" } input id="account-username" name="username" required maxlength="100" autocomplete="off"; }
                div.field { label for="account-email" { "E-mail (optional)" } input id="account-email" name="email" type="email" autocomplete="off"; }
                div.field {
                    label for="account-password" { "Password (optional, 15 to 100 characters)" }
                    input id="account-password" name="password" type="password" minlength="15" maxlength="100" autocomplete="new-password";
                }
                button type="submit" { "Create account" }
            }
        }
    };
    layout("Accounts", stylesheet, Some(tenant), Some(signed), body).into_string()
}

fn urlencoded(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// What an account's page shows of its access besides its details.
#[derive(Debug)]
pub struct AccountAccess<'a> {
    pub factors: &'a [Factor],
    /// The permissions it holds.
    pub permissions: &'a [String],
    /// The permissions it may be granted (the tenant's permission-requiring scopes).
    pub grantable: &'a [String],
    /// Its live, signed-in sessions.
    pub sessions: &'a [SessionRow],
    /// Its consents, in force or not: scopes given to clients, legal documents accepted.
    pub consents: &'a [Consent],
    /// The time now, to tell a consent in force from one expired.
    pub now: i64,
    /// Whether it is the signed-in administrator's own account (whose permissions stay).
    pub own: bool,
    /// An invite just issued: shown once.
    pub invite: Option<&'a Invite>,
}

/// One account: its details, its factors, permissions and sessions, and what may be done
/// with it.
pub fn account(
    stylesheet: &str,
    tenant: &Tenant,
    signed: &Signed<'_>,
    account: &Account,
    access: &AccountAccess<'_>,
    message: Option<&str>,
) -> String {
    let factors = access.factors;
    let base = format!("/console/{}/accounts/{}", tenant.name, account.id);
    let attributes = serde_json::to_string_pretty(&account.attributes).unwrap_or_default();
    let body = html! {
        p { a href={ "/console/" (tenant.name) "/accounts" } { "← Accounts" } }
        h1 { "Account " (account.username) }
        (refusal(message))
        dl.facts {
            dt { "State" } dd { (state(account.state)) " " span.muted { (explain(account.state)) } }
            dt { "Id" } dd { code { (account.id) } }
            dt { "E-mail" } dd { (account.email.as_deref().unwrap_or("none")) }
            dt { "Phone" } dd { (account.phone.as_deref().unwrap_or("none")) }
            dt { "Created (UTC)" } dd { (time(account.created_at)) }
            dt { "Changed (UTC)" } dd { (time(account.updated_at)) }
            dt { "Last active (UTC)" } dd { @if let Some(at) = account.last_active_at { (time(at)) } @else { "never" } }
            dt { "Attributes" } dd { code { (attributes) } }
        }
        div.actions {
            (state_control("account-state", &format!("{base}/state"), signed, account.state))
            @if signed.can_write {
                a.button href={ (base) "/delete" } { "Delete…" }
            }
        }
        h2 { "Contact and attributes" }
        @if signed.can_write {
            form id="edit-account" method="post" action=(base) {
                input type="hidden" name="csrf" value=(signed.csrf);
                div.field { label for="edit-email" { "E-mail (empty: none)" } input id="edit-email" name="email" type="email" value=(account.email.as_deref().unwrap_or("")) autocomplete="off"; }
                div.field { label for="edit-phone" { "Phone, E.164 (empty: none)" } input id="edit-phone" name="phone" type="tel" value=(account.phone.as_deref().unwrap_or("")) autocomplete="off"; }
                div.field { label for="edit-attributes" { "Attributes (a JSON object)" } textarea id="edit-attributes" name="attributes" { (attributes) } }
                button type="submit" { "Save" }
            }
        }
        h2 { "Factors" }
        @if factors.is_empty() {
            p.muted { "No factors: this account cannot sign in yet." }
        } @else {
            div.scroll tabindex="0" role="region" aria-label="Factors" {
                table id="factors" {
                    caption { "The account's factors" }
                    thead {
                        tr {
                            th scope="col" { "Kind" } th scope="col" { "State" } th scope="col" { "Failed attempts" }
                            th scope="col" { "Created (UTC)" } th scope="col" { "Last used (UTC)" }
                            th scope="col" { span.hidden { "Actions" } }
                        }
                    }
                    tbody {
                        @for factor in factors {
                            tr {
                                th scope="row" {
                                    (factor.kind.as_str())
                                    @if let Some(channel) = &factor.channel { " (" (channel) ")" }
                                    (super::not_allowed(tenant, factor.kind))
                                }
                                td { (state(factor.state)) }
                                td { (factor.failed_attempts) }
                                td { (time(factor.created_at)) }
                                td { @if let Some(at) = factor.last_used_at { (time(at)) } @else { "never" } }
                                td { (state_control(&format!("factor-{}", factor.id), &format!("{base}/factors/{}/state", factor.id), signed, factor.state)) }
                            }
                        }
                    }
                }
            }
            (states_legend(&distinct_states(factors.iter().map(|f| &f.state))))
        }
        h2 { "Invitation" }
        @if let Some(invite) = access.invite {
            div.created role="status" {
                p { "A new invitation, valid until " (time(invite.expires_at)) " UTC. Copy it now: it is shown once, and an earlier one no longer works." }
                p { code id="invite-token" { (invite.invite_token) } }
                p.muted { "Its owner sets a password with it: " code { "POST /t/" (tenant.name) "/invite" } "." }
            }
        }
        (button_form("invite", &format!("{base}/invite"), signed, "Send a new invitation", false, &[]))
        h2 { "Permissions" }
        @if access.permissions.is_empty() {
            p.muted { "None: this account cannot administer the tenant." }
        } @else {
            ul id="permissions" {
                @for permission in access.permissions {
                    li {
                        code { (permission) }
                        @if permission == "admin" { " — administers the tenant" }
                        @if permission == "admin:read" { " — sees the console read-only" }
                        " "
                        @if !access.own {
                            (button_form(&format!("revoke-{permission}"), &format!("{base}/permissions/revoke"), signed, "Revoke", false, &[("permission", permission)]))
                        }
                    }
                }
            }
        }
        @let grantable: Vec<&String> = access.grantable.iter().filter(|p| !access.permissions.contains(p)).collect();
        @if signed.can_write && !grantable.is_empty() {
            form id="grant-permission" method="post" action={ (base) "/permissions" } {
                input type="hidden" name="csrf" value=(signed.csrf);
                div.field {
                    label for="grant" { "Grant a permission" }
                    select id="grant" name="permission" {
                        @for permission in grantable { option value=(permission) { (permission) } }
                    }
                }
                button.quiet type="submit" { "Grant" }
            }
        }
        h2 { "Sessions" }
        @if access.sessions.is_empty() {
            p.muted { "Not signed in anywhere." }
        } @else {
            div.scroll tabindex="0" role="region" aria-label="Sessions" {
                table id="sessions" {
                    caption { "Where the account is signed in" }
                    thead {
                        tr {
                            th scope="col" { "Started (UTC)" } th scope="col" { "Last seen (UTC)" }
                            th scope="col" { "Factors passed" } th scope="col" { span.hidden { "Actions" } }
                        }
                    }
                    tbody {
                        @for session in access.sessions {
                            tr {
                                th scope="row" { (time(session.created_at)) }
                                td { (time(session.last_seen_at)) }
                                td { (session.factors.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ")) }
                                td { (button_form(&format!("end-{}", session.id), &format!("{base}/sessions/{}/end", session.id), signed, "End", false, &[])) }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Consents" }
        @if access.consents.is_empty() {
            p.muted { "No consent given." }
        } @else {
            div.scroll tabindex="0" role="region" aria-label="Consents" {
                table id="consents" {
                    caption { "Scopes given to clients and legal documents accepted" }
                    thead {
                        tr {
                            th scope="col" { "Given (UTC)" } th scope="col" { "Kind" } th scope="col" { "To" }
                            th scope="col" { "Scopes or version" } th scope="col" { "In force" } th scope="col" { span.hidden { "Actions" } }
                        }
                    }
                    tbody {
                        @for consent in access.consents {
                            @let in_force = consent.revoked_at.is_none() && consent.expires_at.is_none_or(|at| at > access.now);
                            tr {
                                th scope="row" { (time(consent.granted_at)) }
                                td { @if consent.kind == "legal" { "legal document" } @else { "scopes" } }
                                td { code { (consent.subject) } }
                                td {
                                    @if let Some(scopes) = &consent.scopes { (scopes.join(" ")) }
                                    @if let Some(version) = consent.version { "version " (version) }
                                }
                                td {
                                    @if let Some(at) = consent.revoked_at { "revoked " (time(at)) }
                                    @else if !in_force { "expired" }
                                    @else if let Some(at) = consent.expires_at { "until " (time(at)) }
                                    @else { "yes" }
                                }
                                td { @if in_force { (button_form(&format!("revoke-consent-{}", consent.id), &format!("{base}/consents/{}/revoke", consent.id), signed, "Revoke", false, &[])) } }
                            }
                        }
                    }
                }
            }
        }
    };
    layout(&format!("Account {}", account.username), stylesheet, Some(tenant), Some(signed), body).into_string()
}

/// The question before an account is deleted.
pub fn confirm_delete(stylesheet: &str, tenant: &Tenant, signed: &Signed<'_>, account: &Account) -> String {
    let base = format!("/console/{}/accounts/{}", tenant.name, account.id);
    let body = html! {
        h1 { "Delete account " (account.username) "?" }
        p {
            "The account, its factors and its sessions are removed. "
            "This cannot be undone: to stop it signing in for now, disable it instead."
        }
        div.actions {
            (button_form("delete-account", &format!("{base}/delete"), signed, &format!("Delete {}", account.username), true, &[]))
            a href=(base) { "Cancel" }
        }
    };
    layout("Delete account", stylesheet, Some(tenant), Some(signed), body).into_string()
}

/// What the clients list shows besides the clients.
#[derive(Debug)]
pub struct ClientsPage<'a> {
    /// A client just made, and its secret (none for a public client): shown once, here.
    pub created: Option<(&'a Client, Option<&'a str>)>,
    /// Why the last form was refused.
    pub message: Option<&'a str>,
}

/// The tenant's machine clients and the form that registers one.
pub fn clients(
    stylesheet: &str,
    tenant: &Tenant,
    signed: &Signed<'_>,
    clients: &[Client],
    page: &ClientsPage<'_>,
) -> String {
    let base = format!("/console/{}/clients", tenant.name);
    let body = html! {
        h1 { "Clients" }
        @if let Some((client, secret)) = page.created {
            div.created role="status" {
                p { "The client " strong { (client.name) } " was registered, with the id " code id="new-client-id" { (client.client_id) } "." }
                @if let Some(secret) = secret {
                    p { "Its secret, shown once: copy it now." }
                    p { code id="new-client-secret" { (secret) } }
                }
            }
        }
        @if clients.is_empty() {
            p.muted { "No clients yet." }
        } @else {
            div.scroll tabindex="0" role="region" aria-label="Clients" {
                table id="clients" {
                    caption { "The tenant's clients" }
                    thead {
                        tr {
                            th scope="col" { "Name" } th scope="col" { "Client id" } th scope="col" { "Kind" }
                            th scope="col" { "State" } th scope="col" { "Created (UTC)" }
                        }
                    }
                    tbody {
                        @for client in clients {
                            tr {
                                th scope="row" { a href={ (base) "/" (client.client_id) } { (client.name) } }
                                td { code { (client.client_id) } }
                                td { @if client.public { "public (no secret)" } @else { "confidential" } }
                                td { (state(client.state)) }
                                td { (time(client.created_at)) }
                            }
                        }
                    }
                }
            }
            (states_legend(&distinct_states(clients.iter().map(|c| &c.state))))
        }
        h2 { "Register a client" }
        (refusal(page.message))
        @if signed.can_write {
            form id="create-client" method="post" action=(base) {
                input type="hidden" name="csrf" value=(signed.csrf);
                div.field { label for="client-name" { "Name" } input id="client-name" name="name" required maxlength="200" autocomplete="off"; }
                div.field {
                    label for="client-scopes" { "Scopes (separated by spaces, optional)" }
                    input id="client-scopes" name="scopes" autocomplete="off";
                }
                div.field {
                    label for="client-redirects" { "Redirect URIs (one per line, optional)" }
                    textarea id="client-redirects" name="redirect_uris" {}
                }
                div.field {
                    label.check for="client-public" {
                        input id="client-public" name="public" type="checkbox" value="on";
                        "Public (a browser or native app: no secret, PKCE required)"
                    }
                }
                button type="submit" { "Register client" }
            }
        }
    };
    layout("Clients", stylesheet, Some(tenant), Some(signed), body).into_string()
}

/// One client: its registration and what may be done with it; `new_secret`, just made by
/// a rotation, is shown once, here.
pub fn client(
    stylesheet: &str,
    tenant: &Tenant,
    signed: &Signed<'_>,
    client: &Client,
    new_secret: Option<&str>,
    message: Option<&str>,
) -> String {
    let base = format!("/console/{}/clients/{}", tenant.name, client.client_id);
    let list = |items: &[String]| if items.is_empty() { "none".to_owned() } else { items.join(" ") };
    let body = html! {
        p { a href={ "/console/" (tenant.name) "/clients" } { "← Clients" } }
        h1 { "Client " (client.name) }
        (refusal(message))
        @if let Some(secret) = new_secret {
            div.created role="status" {
                p { "A new secret, shown once: copy it now. The previous one keeps working until you retire it." }
                p { code id="new-client-secret" { (secret) } }
            }
        }
        dl.facts {
            dt { "State" } dd { (state(client.state)) " " span.muted { (explain(client.state)) } }
            dt { "Client id" } dd { code { (client.client_id) } }
            dt { "Kind" } dd { @if client.public { "public (no secret, PKCE required)" } @else { "confidential" } }
            dt { "Scopes" } dd { (list(&client.scopes)) }
            dt { "Audience" } dd { (list(&client.audience)) }
            dt { "Redirect URIs" } dd { (list(&client.redirect_uris)) }
            dt { "Created (UTC)" } dd { (time(client.created_at)) }
            @if !client.public {
                dt { "Secret issued (UTC)" } dd { (time(client.secret_created_at)) }
                dt { "Previous secret" } dd { @if client.previous_secret_sha256.is_some() { "still works" } @else { "none" } }
            }
        }
        div.actions {
            (state_control("client-state", &format!("{base}/state"), signed, client.state))
            @if !client.public {
                (button_form("rotate-secret", &format!("{base}/secret"), signed, "Rotate secret", false, &[]))
            }
            @if client.previous_secret_sha256.is_some() {
                (button_form("retire-secret", &format!("{base}/secret/previous"), signed, "Retire the previous secret", false, &[]))
            }
        }
        @if signed.can_write {
            h2 { "Registration" }
            form id="edit-client" method="post" action=(base) {
                input type="hidden" name="csrf" value=(signed.csrf);
                div.field { label for="edit-client-name" { "Name" } input id="edit-client-name" name="name" required maxlength="200" value=(client.name); }
                div.field { label for="edit-client-scopes" { "Scopes (separated by spaces)" } input id="edit-client-scopes" name="scopes" value=(client.scopes.join(" ")) autocomplete="off"; }
                div.field { label for="edit-client-redirects" { "Redirect URIs (one per line)" } textarea id="edit-client-redirects" name="redirect_uris" spellcheck="false" { (client.redirect_uris.join("\n")) } }
                button type="submit" { "Save" }
            }
        }
    };
    layout(&format!("Client {}", client.name), stylesheet, Some(tenant), Some(signed), body).into_string()
}
