//! The console's HTML, rendered with maud (every value escaped at compile time): one
//! layout with the tenant's name and colour, and one function per page. No inline script
//! or style, so the CSP stays strict: the stylesheet is the embedded, cache-busted asset,
//! and the tenant's colour comes from its own small stylesheet (`theme.css`).

use maud::{DOCTYPE, Markup, html};

use crate::ops::overview::Overview;
use crate::storage::{InvocationStats, MonthlyUsage, PatRow};
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
                @if let (Some(tenant), Some(_)) = (tenant, signed) {
                    nav aria-label="Console" {
                        a href={ "/console/" (tenant.name) "/" } { "Dashboard" }
                        a href={ "/console/" (tenant.name) "/tokens" } { "APIs" }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// A bar chart of one usage figure over the months (inline SVG: markup, not style, so the
/// CSP allows it; colours come from the stylesheet's classes). The table beside it carries
/// the same numbers for screen readers and for reading exactly.
fn chart(label: &str, months: &[MonthlyUsage], value: fn(&MonthlyUsage) -> i64) -> Markup {
    const BAR: i64 = 40;
    const GAP: i64 = 10;
    const HEIGHT: i64 = 120;
    let max = months.iter().map(value).max().unwrap_or(0).max(1);
    let width = (BAR + GAP) * months.len() as i64;
    html! {
        figure.chart {
            figcaption { (label) }
            svg role="img" aria-label={ (label) ", by month" } viewBox={ "0 0 " (width) " " (HEIGHT + 20) } {
                @for (i, month) in months.iter().enumerate() {
                    @let x = i as i64 * (BAR + GAP);
                    @let h = value(month).saturating_mul(HEIGHT) / max;
                    rect.bar x=(x) y=(HEIGHT - h) width=(BAR) height=(h) {}
                    text.axis x=(x + BAR / 2) y=(HEIGHT + 15) text-anchor="middle" { (month.month.get(2..).unwrap_or(&month.month)) }
                }
            }
        }
    }
}

fn extension_row(extension: &InvocationStats) -> Markup {
    html! {
        tr {
            th scope="row" { (extension.extension) }
            td { (extension.count) }
            td { (format!("{:.1} %", extension.error_rate * 100.0)) }
            td { (extension.p50_us) " µs" }
            td { (extension.p99_us) " µs" }
        }
    }
}

/// The tenant's dashboard: its state, usage this month and over the last twelve, its
/// extensions' figures and its latest events.
pub fn dashboard(stylesheet: &str, tenant: &Tenant, signed: &Signed<'_>, overview: &Overview) -> String {
    let state = tenant.effective_state();
    let empty = MonthlyUsage::none("");
    let this = overview.months.last().unwrap_or(&empty);
    let body = html! {
            h1 { "Dashboard" }
            p { "Tenant state: " span.state { (state.as_str()) } }
            section.cards aria-label={ "Usage in " (this.month) } {
                div.card {
                    div.muted { "Monthly active accounts, " (this.month) }
                    div.number { (this.monthly_active_accounts) }
                }
                div.card {
                    div.muted { "Monthly API calls, " (this.month) }
                    div.number { (this.monthly_api_calls) }
                }
            }
            h2 { "The last 13 months" }
            div.charts {
                (chart("Monthly active accounts", &overview.months, |m| m.monthly_active_accounts))
                (chart("Monthly API calls", &overview.months, |m| m.monthly_api_calls))
            }
            div.scroll tabindex="0" role="region" aria-label="Usage by month" {
    table id="usage" {
                caption { "Usage by month" }
                thead { tr { th scope="col" { "Month" } th scope="col" { "Active accounts" } th scope="col" { "API calls" } } }
                tbody {
                    @for month in overview.months.iter().rev() {
                        tr { th scope="row" { (month.month) } td { (month.monthly_active_accounts) } td { (month.monthly_api_calls) } }
                    }
                }
            }
    }
            h2 { "Extensions" }
            @if overview.extensions.is_empty() {
                p.muted { "No extensions yet." }
            } @else {
                div.scroll tabindex="0" role="region" aria-label="Extensions" {
    table id="extensions" {
                    caption { "Latest invocations of each extension (up to 1,000)" }
                    thead {
                        tr {
                            th scope="col" { "Extension" } th scope="col" { "Invocations" } th scope="col" { "Error rate" }
                            th scope="col" { "p50" } th scope="col" { "p99" }
                        }
                    }
                    tbody { @for extension in &overview.extensions { (extension_row(extension)) } }
                }
    }
            }
            h2 { "Recent events" }
            @if overview.events.is_empty() {
                p.muted { "No events yet." }
            } @else {
                div.scroll tabindex="0" role="region" aria-label="Recent events" {
    table id="events" {
                    caption { "The latest events, newest first" }
                    thead { tr { th scope="col" { "Time (UTC)" } th scope="col" { "Event" } th scope="col" { "Result" } } }
                    tbody {
                        @for event in &overview.events {
                            tr {
                                td { (time(event.time)) }
                                td { (event.action) }
                                td { (event.result.as_str()) }
                            }
                        }
                    }
                }
    }
            }
        };
    layout("Dashboard", stylesheet, Some(tenant), Some(signed), body).into_string()
}

/// A Unix time as `YYYY-MM-DD HH:MM:SS` (UTC).
fn time(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0).map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_default()
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
    };
    layout("APIs", stylesheet, Some(tenant), Some(signed), body).into_string()
}
