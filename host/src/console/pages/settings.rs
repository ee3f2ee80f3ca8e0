//! The settings page: the tenant's label, colour and tags, its session, expiry and token
//! lifetimes, its signing algorithm and key rotation period, self-registration and the
//! second factor; its signing keys with a "rotate now" button; its parent or sub-tenants;
//! and its state, which only the platform's operator changes.

use maud::{Markup, html};

use super::{Signed, button_form, explain, layout, refusal, state, time};
use crate::storage::KeyInfo;
use crate::tenancy::Tenant;

/// The default colour of a tenant that has none.
pub const DEFAULT_COLOUR: &str = "#1f5fbf";

/// The signing algorithms a tenant may choose.
pub const ALGORITHMS: [&str; 3] = ["ES256", "EdDSA", "RS256"];

/// A number field: its name, label, current value (empty: none) and whether it may be left empty.
fn number(name: &str, label: &str, value: Option<i64>, optional: bool, can_write: bool) -> Markup {
    let id = format!("setting-{name}");
    html! {
        div.field {
            label for=(id) { (label) @if optional { " (empty: never)" } }
            input id=(id) name=(name) type="number" min="1" required[!optional] readonly[!can_write]
                value=(value.map(|v| v.to_string()).unwrap_or_default());
        }
    }
}

/// A tenant's place among tenants: its parent, or its sub-tenants (one level).
#[derive(Debug)]
pub struct Family<'a> {
    pub parent: Option<&'a Tenant>,
    pub children: &'a [Tenant],
}

/// The tenant's settings, its keys, its state and its sub-tenants.
pub fn settings(
    stylesheet: &str,
    tenant: &Tenant,
    signed: &Signed<'_>,
    keys: &[KeyInfo],
    family: &Family<'_>,
    message: Option<&str>,
) -> String {
    let base = format!("/console/{}/settings", tenant.name);
    let s = &tenant.settings;
    let w = signed.can_write;
    let colour = if tenant.colour.is_empty() { DEFAULT_COLOUR } else { tenant.colour.as_str() };
    let tags = super::tags_text(tenant);
    let fields = html! {
        fieldset {
            legend { "The tenant" }
            div.field { label for="setting-label" { "Label" } input id="setting-label" name="label" required maxlength="200" value=(tenant.label) readonly[!w]; }
            div.field { label for="setting-colour" { "Colour (the console's header takes it)" } input id="setting-colour" name="colour" type="color" value=(colour) disabled[!w]; }
            @if w {
                div.field {
                    label for="setting-tags" { "Tags (one key=value a line; at most 50)" }
                    textarea id="setting-tags" name="tags" rows="3" { (tags) }
                }
            } @else {
                p { "Tags: " @for (key, value) in &tenant.tags { code { (key) "=" (value) } " " } @if tenant.tags.is_empty() { "none" } }
            }
        }
        fieldset {
            legend { "Sessions" }
            (number("session_idle_minutes", "A session ends after this many idle minutes", Some(s.session_idle_seconds / 60), false, w))
            (number("stay_signed_in_days", "\"Stay signed in\" lasts at most (days)", Some(s.stay_signed_in_seconds / 86_400), false, w))
            label.check { input type="checkbox" name="second_factor_required" value="on" checked[s.second_factor_required] disabled[!w]; " Every sign-in needs a second factor" }
            label.check { input type="checkbox" name="self_registration" value="on" checked[s.self_registration] disabled[!w]; " People may create their own accounts" }
        }
        fieldset {
            legend { "Expiry" }
            (number("account_inactivity_days", "An unused account is removed after (days, at most 400)", s.account_inactivity_days, true, w))
            (number("tenant_inactivity_days", "The tenant expires unused after (days, at most 90)", s.tenant_inactivity_days, true, w))
        }
        fieldset {
            legend { "Tokens" }
            (number("human_access_token_minutes", "People's access tokens last (minutes)", Some(s.human_access_token_seconds / 60), false, w))
            (number("client_access_token_minutes", "Machine clients' access tokens last (minutes)", Some(s.client_access_token_seconds / 60), false, w))
            (number("id_token_minutes", "ID tokens last (minutes)", Some(s.id_token_seconds / 60), false, w))
            (number("refresh_token_idle_days", "An unused refresh token expires after (days)", Some(s.refresh_token_idle_seconds / 86_400), false, w))
        }
        fieldset {
            legend { "Signing" }
            div.field {
                label for="setting-algorithm" { "Signing algorithm (a change rotates the key at once)" }
                select id="setting-algorithm" name="signing_algorithm" disabled[!w] {
                    @for algorithm in ALGORITHMS { option value=(algorithm) selected[algorithm == s.signing_algorithm] { (algorithm) } }
                }
            }
            (number("signing_key_rotation_days", "The signing key is replaced every (days, 1 to 365)", Some(s.signing_key_rotation_days), false, w))
        }
    };
    let body = html! {
        h1 { "Settings" }
        (refusal(message))
        dl.facts {
            dt { "State" } dd { (state(tenant.state)) " " span.muted { (explain(tenant.state)) } }
            dt { "Name" } dd { code { (tenant.name) } }
            dt { "Changed (UTC)" } dd { (time(tenant.updated_at)) }
        }
        p.muted { "Only the platform's operator enables, disables or locks a tenant, and creates sub-tenants." }
        @if w {
            form id="tenant-settings" method="post" action=(base) {
                input type="hidden" name="csrf" value=(signed.csrf);
                (fields)
                button type="submit" { "Save settings" }
            }
        } @else {
            (fields)
        }
        @if let Some(parent) = family.parent {
            h2 { "Parent tenant" }
            p id="parent" { "A sub-tenant of " code { (parent.name) } " (" (state(parent.state)) "): while it is not enabled, this tenant is locked with it." }
        } @else {
            h2 { "Sub-tenants" }
            @if family.children.is_empty() {
                p { "No sub-tenants." }
            } @else {
                p.muted { "While this tenant is not enabled, its sub-tenants are locked with it." }
                ul id="subtenants" { @for child in family.children { li { code { (child.name) } " " (child.label) " " (state(child.state)) } } }
            }
        }
        h2 { "Signing keys" }
        p.muted { "The key that signs, and retired keys still published until the tokens they signed have expired." }
        div.scroll tabindex="0" role="region" aria-label="Signing keys" {
            table id="keys" {
                caption { "The tenant's signing keys" }
                thead { tr { th scope="col" { "Key id" } th scope="col" { "Algorithm" } th scope="col" { "Signs" } th scope="col" { "Created (UTC)" } th scope="col" { "Published until (UTC)" } } }
                tbody {
                    @for key in keys {
                        tr {
                            th scope="row" { code { (key.kid) } }
                            td { (key.algorithm) }
                            td { @if key.state.is_usable() { strong { "yes" } } @else { "retired" } }
                            td { (time(key.created_at)) }
                            td { @if let Some(at) = key.published_until { (time(at)) } @else { "" } }
                        }
                    }
                }
            }
        }
        div.actions { (button_form("rotate-key", &format!("{base}/rotate-key"), signed, "Rotate the signing key now", false, &[])) }
    };
    layout("Settings", stylesheet, Some(tenant), Some(signed), body).into_string()
}
