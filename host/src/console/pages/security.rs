//! The Your security page: the signed-in administrator's password (changed with the
//! current one), their factors (an authenticator app added with a QR code drawn as inline
//! SVG from the `otpauth://` URI, and its secret in text for typing; a factor disabled or
//! enabled), their live sessions (this one marked) and the tokens their sessions made.

use std::fmt::Write as _;

use maud::{Markup, html};

use super::{Signed, distinct_states, layout, refusal, state, state_control, states_legend, time};
use crate::storage::{PatRow, SessionRow};
use crate::tenancy::{Account, Factor, FactorKind, Tenant};

/// What the page shows.
#[derive(Debug)]
pub struct SecurityPage<'a> {
    pub account: &'a Account,
    pub factors: &'a [Factor],
    /// Where the account is signed in (live sessions that passed a factor).
    pub sessions: &'a [SessionRow],
    pub current_session: &'a str,
    /// Tokens the account's sessions made.
    pub tokens: &'a [PatRow],
    /// A TOTP enrolment to finish: factor id, base32 secret, `otpauth://` URI.
    pub enrolling: Option<(&'a str, &'a str, &'a str)>,
    /// Which form was refused (`password`, `totp`, `factors`) and why.
    pub message: Option<(&'a str, &'a str)>,
    /// What the last form did.
    pub done: Option<&'a str>,
}

/// `uri` as a QR code: one SVG path of the dark modules, with a quiet zone of four.
fn qr_code(uri: &str) -> Markup {
    let Ok(code) = qrcode::QrCode::new(uri.as_bytes()) else {
        return html! { p.muted { "The QR code cannot be drawn: type the secret below instead." } };
    };
    let width = code.width();
    let mut path = String::new();
    for (i, colour) in code.to_colors().iter().enumerate() {
        if *colour == qrcode::Color::Dark {
            let _ = write!(path, "M{} {}h1v1h-1z", i % width + 4, i / width + 4);
        }
    }
    let size = width + 8;
    html! {
        svg.qr role="img" aria-label="QR code of your authenticator app's new entry" viewBox={ "0 0 " (size) " " (size) } width="220" height="220" {
            rect width=(size) height=(size) fill="#fff" {}
            path d=(path) fill="#000" {}
        }
    }
}

/// The refusal of form `form`, if it was the one refused.
fn refused_here(message: Option<(&str, &str)>, form: &str) -> Markup {
    refusal(message.filter(|(which, _)| *which == form).map(|(_, why)| why))
}

pub fn security(stylesheet: &str, tenant: &Tenant, signed: &Signed<'_>, page: &SecurityPage<'_>) -> String {
    let base = format!("/console/{}/security", tenant.name);
    let has_password = page.factors.iter().any(|f| f.kind == FactorKind::Password && f.state.is_usable());
    let body = html! {
        h1 { "Your security" }
        p { "Signed in as " strong { (page.account.username) } ". What you change here is your own account's, not the tenant's." }
        @if let Some(done) = page.done { p.created role="status" { (done) } }

        h2 { "Password" }
        (refused_here(page.message, "password"))
        @if !has_password {
            p.muted { "Your account has no password." }
        } @else if signed.can_write {
            form id="change-password" method="post" action={ (base) "/password" } {
                input type="hidden" name="csrf" value=(signed.csrf);
                // For password managers: the account the password belongs to.
                input type="hidden" name="username" value=(page.account.username) autocomplete="username";
                div.field { label for="current-password" { "Current password" } input id="current-password" name="current" type="password" required autocomplete="current-password"; }
                div.field { label for="new-password" { "New password (15 to 100 characters)" } input id="new-password" name="new" type="password" required minlength="15" maxlength="100" autocomplete="new-password"; }
                div.field { label for="repeated-password" { "New password again" } input id="repeated-password" name="repeated" type="password" required minlength="15" maxlength="100" autocomplete="new-password"; }
                button type="submit" { "Change password" }
            }
            p.muted { "Changing it signs your apps out (their refresh tokens stop working); your sessions stay." }
        }

        h2 { "Factors" }
        (refused_here(page.message, "factors"))
        @if let Some((factor_id, secret, uri)) = page.enrolling {
            section.enrolment aria-labelledby="enrolment-title" {
                h3 id="enrolment-title" { "Set up your authenticator app" }
                p { "Scan the code with the app, or type the secret into it; then type the code the app shows." }
                (qr_code(uri))
                p { "Secret: " code id="totp-secret" { (secret) } }
                (refused_here(page.message, "totp"))
                form id="confirm-totp" method="post" action={ (base) "/totp/confirm" } {
                    input type="hidden" name="csrf" value=(signed.csrf);
                    input type="hidden" name="factor_id" value=(factor_id);
                    div.field { label for="totp-code" { "Code from the app" } input id="totp-code" name="code" required inputmode="numeric" pattern="[0-9]{6}" maxlength="6" autocomplete="one-time-code"; }
                    button type="submit" { "Confirm" }
                }
            }
        } @else {
            (refused_here(page.message, "totp"))
        }
        div.scroll tabindex="0" role="region" aria-label="Your factors" {
            table id="my-factors" {
                caption { "Your factors" }
                thead {
                    tr {
                        th scope="col" { "Kind" } th scope="col" { "State" } th scope="col" { "Added (UTC)" }
                        th scope="col" { "Last used (UTC)" } th scope="col" { span.hidden { "Actions" } }
                    }
                }
                tbody {
                    @for factor in page.factors {
                        tr {
                            th scope="row" { (factor.kind.as_str()) @if let Some(channel) = &factor.channel { " (" (channel) ")" } (super::not_allowed(tenant, factor.kind)) }
                            td { (state(factor.state)) }
                            td { (time(factor.created_at)) }
                            td { @if let Some(at) = factor.last_used_at { (time(at)) } @else { "never" } }
                            td { (state_control(&format!("factor-{}", factor.id), &format!("{base}/factors/{}/state", factor.id), signed, factor.state)) }
                        }
                    }
                }
            }
        }
        (states_legend(&distinct_states(page.factors.iter().map(|f| &f.state))))
        @if !tenant.settings.allows(crate::tenancy::FactorKind::Totp) {
            p.muted { "The tenant does not allow authenticator apps (see Factors)." }
        } @else if signed.can_write && page.enrolling.is_none() {
            form id="add-totp" method="post" action={ (base) "/totp" } {
                input type="hidden" name="csrf" value=(signed.csrf);
                button.quiet type="submit" { "Add an authenticator app" }
            }
        }

        h2 { "Sessions" }
        div.scroll tabindex="0" role="region" aria-label="Your sessions" {
            table id="my-sessions" {
                caption { "Where you are signed in" }
                thead {
                    tr {
                        th scope="col" { "Started (UTC)" } th scope="col" { "Last seen (UTC)" } th scope="col" { "Factors passed" }
                        th scope="col" { "Stays signed in" } th scope="col" { span.hidden { "Actions" } }
                    }
                }
                tbody {
                    @for session in page.sessions {
                        tr {
                            th scope="row" { (time(session.created_at)) }
                            td { (time(session.last_seen_at)) }
                            td { (session.factors.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ")) }
                            td { @if session.stay_signed_in { "yes" } @else { "no" } }
                            td {
                                @if session.id == page.current_session {
                                    strong { "This session" }
                                } @else if signed.can_write {
                                    form id={ "end-" (session.id) } method="post" action={ (base) "/sessions/" (session.id) "/end" } {
                                        input type="hidden" name="csrf" value=(signed.csrf);
                                        button.quiet type="submit" aria-label={ "End the session started " (time(session.created_at)) } { "End" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }

        h2 { "Tokens you made" }
        @if page.tokens.is_empty() {
            p.muted { "None. Tokens are made on the " a href={ "/console/" (tenant.name) "/tokens" } { "APIs" } " page." }
        } @else {
            p.muted { "They work only while you are an administrator. Revoke one on the " a href={ "/console/" (tenant.name) "/tokens" } { "APIs" } " page." }
            div.scroll tabindex="0" role="region" aria-label="Tokens you made" {
                table id="my-tokens" {
                    caption { "Personal access tokens your sessions made" }
                    thead { tr { th scope="col" { "Name" } th scope="col" { "Role" } th scope="col" { "Created (UTC)" } th scope="col" { "Expires (UTC)" } } }
                    tbody {
                        @for token in page.tokens {
                            tr {
                                th scope="row" { (token.name) }
                                td { (token.role.as_str()) }
                                td { (time(token.created_at)) }
                                td { @if let Some(at) = token.expires_at { (time(at)) } @else { "never" } }
                            }
                        }
                    }
                }
            }
        }
    };
    layout("Your security", stylesheet, Some(tenant), Some(signed), body).into_string()
}
