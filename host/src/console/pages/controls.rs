//! The Controls page: the scope catalogue (built-in and the tenant's own, each with the
//! score it needs and whether it asks for consent or a permission), the legal documents
//! with their current version, and the scope rules that grant scopes to clients (added,
//! their scopes edited, disabled or enabled, removed).

use maud::html;

use super::{Signed, button_form, layout, refusal, state, state_control, time};
use crate::tenancy::controls::EVERY_CLIENT;
use crate::tenancy::{Client, LegalDocument, Scope, ScopeRule, Tenant};

/// What the page shows.
#[derive(Debug)]
pub struct ControlsPage<'a> {
    pub scopes: &'a [Scope],
    pub documents: &'a [LegalDocument],
    pub rules: &'a [ScopeRule],
    /// The clients a rule may name.
    pub clients: &'a [Client],
    /// Why the last form was refused.
    pub message: Option<&'a str>,
}

fn yes(flag: bool) -> &'static str {
    if flag { "yes" } else { "no" }
}

pub fn controls(stylesheet: &str, tenant: &Tenant, signed: &Signed<'_>, page: &ControlsPage<'_>) -> String {
    let base = format!("/console/{}/controls", tenant.name);
    let body = html! {
        h1 { "Controls" }
        (refusal(page.message))
        h2 { "Scopes" }
        p.muted { "What a token may carry. A session needs the score to get a scope; consent asks the account first; a permission must be granted to the account." }
        div.scroll tabindex="0" role="region" aria-label="Scopes" {
            table id="scopes" {
                caption { "The scope catalogue" }
                thead {
                    tr {
                        th scope="col" { "Value" } th scope="col" { "Label" } th scope="col" { "Score" }
                        th scope="col" { "Consent" } th scope="col" { "Permission" } th scope="col" { "Kind" }
                        th scope="col" { span.hidden { "Actions" } }
                    }
                }
                tbody {
                    @for scope in page.scopes {
                        tr {
                            th scope="row" { code { (scope.value) } }
                            td { (scope.label) }
                            td { (scope.required_score) }
                            td { (yes(scope.consent_required)) }
                            td { (yes(scope.permission_required)) }
                            td { @if scope.builtin { "built in" } @else { "the tenant's" } }
                            td {
                                @if !scope.builtin {
                                    (button_form(&format!("remove-scope-{}", scope.value), &format!("{base}/scopes/delete"), signed, "Remove", false, &[("value", &scope.value)]))
                                }
                            }
                        }
                    }
                }
            }
        }
        @if signed.can_write {
            form id="add-scope" method="post" action={ (base) "/scopes" } {
                input type="hidden" name="csrf" value=(signed.csrf);
                fieldset {
                    legend { "Add a scope" }
                    div.field { label for="scope-value" { "Value (e.g. invoices:read)" } input id="scope-value" name="value" required maxlength="200" autocomplete="off"; }
                    div.field { label for="scope-label" { "Scope label" } input id="scope-label" name="label" required maxlength="100" autocomplete="off"; }
                    div.field { label for="scope-score" { "Score a session needs (0 to 20; a password is 2)" } input id="scope-score" name="required_score" type="number" min="0" max="20" value="2" required; }
                    label.check { input type="checkbox" name="consent_required" value="on"; " The account consents first" }
                    label.check { input type="checkbox" name="permission_required" value="on"; " Only accounts granted it as a permission" }
                    button.quiet type="submit" { "Add scope" }
                }
            }
        }

        h2 { "Legal documents" }
        p.muted { "Each account accepts a document's current version before it is usable; a new version asks everyone again." }
        @if page.documents.is_empty() {
            p.muted { "None." }
        } @else {
            @for doc in page.documents {
                section.document aria-labelledby={ "doc-" (doc.id) } {
                    h3 id={ "doc-" (doc.id) } { (doc.label) " " span.muted { "version " (doc.version) } }
                    p {
                        (state(doc.state)) " published " (time(doc.updated_at)) " UTC: "
                        @if let Some(url) = &doc.url { a href=(url) rel="noopener noreferrer" { (url) } }
                        @if let Some(text) = &doc.text { span.muted { (text.chars().take(120).collect::<String>()) @if text.chars().count() > 120 { "…" } } }
                    }
                    @if signed.can_write {
                        form id={ "publish-" (doc.id) } method="post" action={ (base) "/legal/" (doc.id) "/versions" } {
                            input type="hidden" name="csrf" value=(signed.csrf);
                            div.field { label for={ "publish-url-" (doc.id) } { "New version: a URL" } input id={ "publish-url-" (doc.id) } name="url" type="url" autocomplete="off"; }
                            div.field { label for={ "publish-text-" (doc.id) } { "or its text" } textarea id={ "publish-text-" (doc.id) } name="text" {} }
                            button.quiet type="submit" { "Publish version " (doc.version + 1) }
                        }
                    }
                }
            }
        }
        @if signed.can_write {
            form id="add-document" method="post" action={ (base) "/legal" } {
                input type="hidden" name="csrf" value=(signed.csrf);
                fieldset {
                    legend { "Add a legal document" }
                    div.field { label for="document-label" { "Document label" } input id="document-label" name="label" required maxlength="100" autocomplete="off"; }
                    div.field { label for="document-url" { "A URL" } input id="document-url" name="url" type="url" autocomplete="off"; }
                    div.field { label for="document-text" { "or its text" } textarea id="document-text" name="text" {} }
                    button.quiet type="submit" { "Add document" }
                }
            }
        }

        h2 { "Rules" }
        p.muted { "A machine client gets only the scopes a rule grants it (" code { "*" } ": every client); a disabled or removed rule's scopes go from the next token on." }
        @if page.rules.is_empty() {
            p.muted { "No rules: machine clients get no scope." }
        } @else {
            div.scroll tabindex="0" role="region" aria-label="Rules" {
                table id="rules" {
                    caption { "Scope rules" }
                    thead { tr { th scope="col" { "Label" } th scope="col" { "Client" } th scope="col" { "Scopes" } th scope="col" { "State" } th scope="col" { span.hidden { "Actions" } } } }
                    tbody {
                        @for rule in page.rules {
                            tr {
                                th scope="row" { (rule.label) }
                                td { code { (rule.client_id) } }
                                td {
                                    @if signed.can_write {
                                        form id={ "edit-rule-" (rule.id) } class="inline" method="post" action={ (base) "/rules/" (rule.id) } {
                                            input type="hidden" name="csrf" value=(signed.csrf);
                                            input type="hidden" name="label" value=(rule.label);
                                            label.hidden for={ "rule-scopes-" (rule.id) } { "Scopes of " (rule.label) }
                                            input id={ "rule-scopes-" (rule.id) } name="scopes" required value=(rule.scopes.join(" "));
                                            button.quiet type="submit" { "Save" }
                                        }
                                    } @else {
                                        (rule.scopes.join(" "))
                                    }
                                }
                                td { (state(rule.state)) }
                                td.actions {
                                    (state_control(&format!("rule-state-{}", rule.id), &format!("{base}/rules/{}/state", rule.id), signed, rule.state))
                                    (button_form(&format!("remove-rule-{}", rule.id), &format!("{base}/rules/{}/delete", rule.id), signed, "Remove", true, &[]))
                                }
                            }
                        }
                    }
                }
            }
        }
        @if signed.can_write {
            form id="add-rule" method="post" action={ (base) "/rules" } {
                input type="hidden" name="csrf" value=(signed.csrf);
                fieldset {
                    legend { "Add a rule" }
                    div.field { label for="rule-label" { "Rule label" } input id="rule-label" name="label" required maxlength="200" autocomplete="off"; }
                    div.field {
                        label for="rule-client" { "Client" }
                        select id="rule-client" name="client_id" {
                            option value=(EVERY_CLIENT) { "Every client (*)" }
                            @for client in page.clients { option value=(client.client_id) { (client.name) " (" (client.client_id) ")" } }
                        }
                    }
                    div.field { label for="rule-scopes" { "Scopes it grants (separated by spaces)" } input id="rule-scopes" name="scopes" required autocomplete="off"; }
                    button.quiet type="submit" { "Add rule" }
                }
            }
        }
    };
    layout("Controls", stylesheet, Some(tenant), Some(signed), body).into_string()
}
