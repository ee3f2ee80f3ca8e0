//! The Factors page: each kind of factor with its score, what it is and its lockout
//! policy, whether the tenant allows it, and how many the tenant's accounts hold by state;
//! for an administrator, the form that chooses the kinds allowed.

use maud::{Markup, html};

use super::{Signed, layout, refusal};
use crate::storage::FactorCount;
use crate::tenancy::account::{LOCK_SECONDS, MAX_ATTEMPTS, OTP_SECONDS};
use crate::tenancy::controls::ADMIN_REQUIRED_SCORE;
use crate::tenancy::{FactorKind, ResourceState, Tenant};

/// A kind's name as people read it.
fn name(kind: FactorKind) -> &'static str {
    match kind {
        FactorKind::Password => "Password",
        FactorKind::Otp => "One-time code (SMS, e-mail, voice)",
        FactorKind::Totp => "Authenticator app (TOTP)",
    }
}

/// What a kind is and how it behaves.
fn about(kind: FactorKind) -> String {
    match kind {
        FactorKind::Password => "15 to 100 characters, stored as an argon2id hash.".into(),
        FactorKind::Otp => format!(
            "6 characters A–Z and 0–9, delivered by the tenant's otp-delivery extension, valid {} minutes; at most {MAX_ATTEMPTS} codes asked for before it locks.",
            OTP_SECONDS / 60
        ),
        FactorKind::Totp => "RFC 6238: 6 digits every 30 seconds; PENDING until its first code is confirmed.".into(),
    }
}

/// How many of `kind` are in `state`.
fn count(counts: &[FactorCount], kind: FactorKind, state: ResourceState) -> i64 {
    counts.iter().filter(|c| c.kind == kind && c.state == state).map(|c| c.count).sum()
}

fn locked(counts: &[FactorCount], kind: FactorKind) -> i64 {
    counts.iter().filter(|c| c.kind == kind).map(|c| c.locked).sum()
}

fn allowed_box(kind: FactorKind, tenant: &Tenant, signed: &Signed<'_>) -> Markup {
    let id = format!("allow-{}", kind.as_str());
    html! {
        @if kind == FactorKind::Password {
            label.check for=(id) { input id=(id) type="checkbox" checked disabled; " " (name(kind)) " (always: invitations and self-registration set one)" }
        } @else {
            label.check for=(id) {
                input id=(id) type="checkbox" name=(kind.as_str()) value="on" checked[tenant.settings.allows(kind)] disabled[!signed.can_write];
                " " (name(kind))
            }
        }
    }
}

pub fn factors(
    stylesheet: &str,
    tenant: &Tenant,
    signed: &Signed<'_>,
    counts: &[FactorCount],
    message: Option<&str>,
) -> String {
    let body = html! {
        h1 { "Factors" }
        (refusal(message))
        p.muted {
            "The kinds of factor this tenant's accounts may enrol and sign in with. A session's score is the sum of the factors passed in it; "
            "each scope needs a score (see Controls), and administrator access needs " (ADMIN_REQUIRED_SCORE) ", so a password and a code. "
            "Every factor locks for " (LOCK_SECONDS / 60) " minutes after " (MAX_ATTEMPTS) " failed attempts, and unlocks itself."
        }
        div.scroll tabindex="0" role="region" aria-label="Factor kinds" {
            table id="factor-kinds" {
                caption { "Factor kinds and the accounts' enrolments" }
                thead {
                    tr {
                        th scope="col" { "Kind" } th scope="col" { "Score" } th scope="col" { "How it works" } th scope="col" { "Allowed" }
                        th scope="col" { "Enabled" } th scope="col" { "Pending" } th scope="col" { "Disabled" } th scope="col" { "Locked now" }
                    }
                }
                tbody {
                    @for kind in FactorKind::ALL {
                        tr id={ "kind-" (kind.as_str()) } {
                            th scope="row" { (name(kind)) }
                            td { (kind.score()) }
                            td { (about(kind)) }
                            td { @if tenant.settings.allows(kind) { "yes" } @else { strong { "no" } } }
                            td { (count(counts, kind, ResourceState::Enabled)) }
                            td { (count(counts, kind, ResourceState::Pending)) }
                            td { (count(counts, kind, ResourceState::Disabled)) }
                            td { (locked(counts, kind)) }
                        }
                    }
                }
            }
        }
        @if signed.can_write {
            form id="allowed-factors" method="post" action={ "/console/" (tenant.name) "/factors" } {
                input type="hidden" name="csrf" value=(signed.csrf);
                fieldset {
                    legend { "Factors allowed" }
                    @for kind in FactorKind::ALL { (allowed_box(kind, tenant, signed)) }
                    p.muted {
                        "A kind taken out can no longer be enrolled, and the enrolments of it that accounts hold stop signing anyone in "
                        "(they are kept, and work again if it is allowed again). Sessions already signed in keep their score."
                    }
                }
                button type="submit" { "Save" }
            }
        } @else {
            p { "Allowed: " @for kind in FactorKind::ALL { @if tenant.settings.allows(kind) { code { (kind.as_str()) } " " } } }
        }
    };
    layout("Factors", stylesheet, Some(tenant), Some(signed), body).into_string()
}
