//! The APIs page: the tenant's endpoints and its personal access tokens (create, shown
//! once; revoke).

use maud::html;

use super::{Signed, layout, time};
use crate::storage::PatRow;
use crate::tenancy::Tenant;

/// What the APIs page shows besides the tokens.
#[derive(Debug)]
pub struct ApisPage<'a> {
    pub issuer: &'a str,
    /// A token just made: shown once, here.
    pub created: Option<(&'a PatRow, &'a str)>,
    /// Why the last form was refused.
    pub message: Option<&'a str>,
}

/// The tenant's APIs: its endpoints and its personal access tokens (create, revoke).
pub fn apis(stylesheet: &str, tenant: &Tenant, signed: &Signed<'_>, tokens: &[PatRow], page: &ApisPage<'_>) -> String {
    let action = format!("/console/{}/tokens", tenant.name);
    let body = html! {
        h1 { "APIs" }
        h2 { "Endpoints" }
        dl.endpoints {
            dt { "Issuer" } dd { code { (page.issuer) } }
            dt { "Discovery" } dd { a href={ (page.issuer) "/.well-known/openid-configuration" } { code { (page.issuer) "/.well-known/openid-configuration" } } }
            dt { "Token endpoint" } dd { code { (page.issuer) "/oauth2/token" } }
            dt { "Admin API" } dd { code { "/admin/v1/tenants/" (tenant.name) } }
        }
        h2 { "Personal access tokens" }
        @if let Some((pat, token)) = page.created {
            div.created role="status" {
                p { "The token " strong { (pat.name) } " was made. Copy it now: it is shown once." }
                p { code id="new-token" { (token) } }
            }
        }
        @if let Some(message) = page.message {
            p.notice role="alert" { (message) }
        }
        @if signed.can_write {
            form id="create-token" method="post" action=(action) {
                input type="hidden" name="csrf" value=(signed.csrf);
                div.field { label for="token-name" { "Name" } input id="token-name" name="name" required maxlength="200"; }
                div.field {
                    label for="token-role" { "Role" }
                    select id="token-role" name="role" {
                        option value="tenant-admin" { "Administrator" }
                        option value="tenant-viewer" { "Viewer (read only)" }
                    }
                }
                div.field {
                    label for="token-days" { "Expires after (days, optional)" }
                    input id="token-days" name="expires_in_days" type="number" min="1" max="366";
                }
                button type="submit" { "Create token" }
            }
        }
        @if tokens.is_empty() {
            p.muted { "No tokens." }
        } @else {
            div.scroll tabindex="0" role="region" aria-label="Personal access tokens" {
                table id="tokens" {
                    caption { "The tenant's tokens" }
                    thead {
                        tr {
                            th scope="col" { "Name" } th scope="col" { "Role" } th scope="col" { "State" }
                            th scope="col" { "Created (UTC)" } th scope="col" { "Expires (UTC)" } th scope="col" { span.hidden { "Actions" } }
                        }
                    }
                    tbody {
                        @for pat in tokens {
                            tr {
                                th scope="row" { (pat.name) }
                                td { (pat.role.as_str()) }
                                td { span.state { (pat.state.as_str()) } }
                                td { (time(pat.created_at)) }
                                td { @if let Some(at) = pat.expires_at { (time(at)) } @else { "never" } }
                                td {
                                    @if signed.can_write {
                                        form id={ "revoke-" (pat.id) } method="post" action={ (action) "/" (pat.id) "/revoke" } {
                                            input type="hidden" name="csrf" value=(signed.csrf);
                                            button.quiet type="submit" aria-label={ "Revoke " (pat.name) } { "Revoke" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    layout("APIs", stylesheet, Some(tenant), Some(signed), body).into_string()
}
