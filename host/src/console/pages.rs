//! The console's HTML, rendered with maud (every value escaped at compile time): one
//! layout with the tenant's name and colour, and one function per page. No inline script
//! or style, so the CSP stays strict: the stylesheet is the embedded, cache-busted asset,
//! and the tenant's colour comes from its own small stylesheet (`theme.css`).

use maud::{DOCTYPE, Markup, html};

use crate::storage::MonthlyUsage;
use crate::tenancy::Tenant;

/// What the layout shows of the signed-in administrator.
#[derive(Debug)]
pub struct Signed<'a> {
    pub username: &'a str,
    /// The anti-forgery token every form posts.
    pub csrf: &'a str,
}

fn layout(title: &str, stylesheet: &str, tenant: Option<&Tenant>, signed: Option<&Signed<'_>>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Keyhaven console" }
                // No favicon to fetch (a browser would ask for /favicon.ico otherwise).
                link rel="icon" href="data:,";
                link rel="stylesheet" href=(stylesheet);
                @if let Some(tenant) = tenant {
                    link rel="stylesheet" href={ "/console/" (tenant.name) "/theme.css" };
                }
            }
            body {
                header.bar {
                    span.tenant {
                        @if let Some(tenant) = tenant { (tenant.label) " " span.muted { "(" (tenant.name) ")" } }
                        @else { "Keyhaven console" }
                    }
                    @if let (Some(tenant), Some(signed)) = (tenant, signed) {
                        span {
                            "Signed in as " strong { (signed.username) } " "
                            form id="signout" method="post" action={ "/console/" (tenant.name) "/signout" } {
                                input type="hidden" name="csrf" value=(signed.csrf);
                                button.quiet type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// The tenant's dashboard: its state and this month's usage.
pub fn dashboard(stylesheet: &str, tenant: &Tenant, signed: &Signed<'_>, usage: &MonthlyUsage) -> String {
    let state = tenant.effective_state();
    let body = html! {
        h1 { "Dashboard" }
        p { "Tenant state: " span.state { (state.as_str()) } }
        section.cards aria-label={ "Usage in " (usage.month) } {
            div.card {
                div.muted { "Monthly active accounts, " (usage.month) }
                div.number { (usage.monthly_active_accounts) }
            }
            div.card {
                div.muted { "Monthly API calls, " (usage.month) }
                div.number { (usage.monthly_api_calls) }
            }
        }
    };
    layout("Dashboard", stylesheet, Some(tenant), Some(signed), body).into_string()
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
