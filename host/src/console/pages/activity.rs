//! The Events and Audit log pages: the tenant's latest events a filter keeps (each with
//! its origin, account, detail and deliveries), and its audit log searched by text,
//! result and role, newest first, a page at a time. Both filter with a GET form: reading,
//! so a viewer has it too.

use maud::{Markup, html};

use super::{Signed, layout, refusal, time};
use crate::ops::audit::{RESULTS, ROLES};
use crate::ops::events::{EventView, LATEST};
use crate::storage::AuditEntry;
use crate::tenancy::Tenant;

/// The Events filter as typed.
#[derive(Debug)]
pub struct EventsFilter<'a> {
    pub category: &'a str,
    pub action: &'a str,
    pub result: &'a str,
    pub origin: &'a str,
    pub account_id: &'a str,
}

impl EventsFilter<'_> {
    fn is_empty(&self) -> bool {
        [self.category, self.action, self.result, self.origin, self.account_id].iter().all(|v| v.trim().is_empty())
    }
}

fn text_field(id: &str, name: &str, label: &str, value: &str, hint: &str) -> Markup {
    html! {
        div.field {
            label for=(id) { (label) }
            input id=(id) name=(name) value=(value) maxlength="100" placeholder=(hint) autocomplete="off";
        }
    }
}

/// A select of `choices` with "any" first, `chosen` selected.
fn choice_field(id: &str, name: &str, label: &str, choices: &[&str], chosen: &str) -> Markup {
    html! {
        div.field {
            label for=(id) { (label) }
            select id=(id) name=(name) {
                option value="" selected[chosen.is_empty()] { "any" }
                @for choice in choices { option value=(choice) selected[chosen == *choice] { (choice) } }
            }
        }
    }
}

/// What an event's deliveries came to, in words.
fn deliveries(view: &EventView) -> String {
    if view.deliveries.is_empty() {
        return "none".to_owned();
    }
    let count = |state: &str| view.deliveries.iter().filter(|d| d.state == state).count();
    let mut said = Vec::new();
    for state in ["delivered", "pending", "failed"] {
        let n = count(state);
        if n > 0 {
            said.push(format!("{n} {state}"));
        }
    }
    said.join(", ")
}

/// The tenant's latest events `filter` kept, with the filter form.
pub fn events(
    stylesheet: &str,
    tenant: &Tenant,
    signed: &Signed<'_>,
    views: &[EventView],
    filter: &EventsFilter<'_>,
    message: Option<&str>,
) -> String {
    let base = format!("/console/{}/events", tenant.name);
    let body = html! {
        h1 { "Events" }
        p.muted { "The latest " (LATEST) " events that match, newest first. Extensions bound to the " code { "events" } " hook receive them at least once." }
        form id="event-filter" class="filters" role="search" method="get" action=(base) {
            (text_field("event-category", "category", "Type", filter.category, "e.g. authentication"))
            (text_field("event-action", "action", "Action", filter.action, "e.g. login.succeeded"))
            (choice_field("event-result", "result", "Result", &["success", "failed", "pending"], filter.result))
            (text_field("event-origin", "origin", "Origin", filter.origin, "e.g. console"))
            (text_field("event-account", "account_id", "Account id", filter.account_id, "acc_…"))
            div.buttons {
                button.quiet type="submit" { "Filter" }
                @if !filter.is_empty() { a href=(base) { "Show all" } }
            }
        }
        (refusal(message))
        @if views.is_empty() {
            @if message.is_none() {
                p.muted { @if filter.is_empty() { "No events yet." } @else { "No event matches." } }
            }
        } @else {
            div.scroll tabindex="0" role="region" aria-label="Events" {
                table id="event-log" {
                    caption { (views.len()) " events, newest first" }
                    thead {
                        tr {
                            th scope="col" { "Time (UTC)" } th scope="col" { "Type" } th scope="col" { "Action" }
                            th scope="col" { "Result" } th scope="col" { "Origin" } th scope="col" { "Account" }
                            th scope="col" { "Deliveries" } th scope="col" { "Detail" }
                        }
                    }
                    tbody {
                        @for view in views {
                            @let event = &view.event;
                            tr {
                                td { (time(event.time)) }
                                td { (event.category) }
                                th scope="row" { (event.action) }
                                td {
                                    (event.result.as_str())
                                    @if let Some(reason) = &event.reason { br; span.muted { (reason) } }
                                }
                                td { (event.origin) }
                                td {
                                    @if let Some(id) = &event.account_id {
                                        a href={ "/console/" (tenant.name) "/accounts/" (id) } { code { (id) } }
                                    }
                                }
                                td { (deliveries(view)) }
                                td { @if !event.detail.is_null() { code.detail { (event.detail.to_string()) } } }
                            }
                        }
                    }
                }
            }
        }
    };
    layout("Events", stylesheet, Some(tenant), Some(signed), body).into_string()
}

/// The Audit log search as typed, and the page.
#[derive(Debug)]
pub struct AuditFilter<'a> {
    pub text: &'a str,
    pub result: &'a str,
    pub role: &'a str,
    /// The next page's cursor, when there is one.
    pub next: Option<&'a str>,
    /// Whether this is a later page than the first.
    pub paged: bool,
}

fn urlencoded(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A page of the tenant's audit log, newest first, with the search form.
pub fn audit(
    stylesheet: &str,
    tenant: &Tenant,
    signed: &Signed<'_>,
    entries: &[AuditEntry],
    search: &AuditFilter<'_>,
    message: Option<&str>,
) -> String {
    let base = format!("/console/{}/audit", tenant.name);
    let searched = [search.text, search.result, search.role].iter().any(|v| !v.trim().is_empty());
    let body = html! {
        h1 { "Audit log" }
        p.muted { "Every call of the admin API on this tenant and every change made in this console: who, what, where and how it ended." }
        form id="audit-search" class="filters" role="search" method="get" action=(base) {
            (text_field("audit-text", "q", "Actor, action or path contains", search.text, "e.g. tokens"))
            (choice_field("audit-result", "result", "Result", &RESULTS, search.result))
            (choice_field("audit-role", "role", "Role", &ROLES, search.role))
            div.buttons {
                button.quiet type="submit" { "Search" }
                @if searched || search.paged { a href=(base) { "Show all" } }
            }
        }
        (refusal(message))
        @if entries.is_empty() {
            @if message.is_none() {
                p.muted { @if searched { "No entry matches." } @else { "No entries yet." } }
            }
        } @else {
            div.scroll tabindex="0" role="region" aria-label="Audit log" {
                table id="audit-log" {
                    caption { "Audit entries, newest first" }
                    thead {
                        tr {
                            th scope="col" { "Time (UTC)" } th scope="col" { "Actor" } th scope="col" { "Role" }
                            th scope="col" { "Action" } th scope="col" { "Path" } th scope="col" { "Status" }
                            th scope="col" { "Result" }
                        }
                    }
                    tbody {
                        @for entry in entries {
                            tr {
                                td { (time(entry.time)) }
                                td { code { (entry.actor) } }
                                td { (entry.role) @if entry.on_behalf { br; span.muted { "on the tenant's behalf" } } }
                                th scope="row" { (entry.action) }
                                td { code { (entry.target) } }
                                td { (entry.status) }
                                td { (entry.result) }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(next) = search.next {
            p {
                a rel="next" href={
                    (base) "?q=" (urlencoded(search.text)) "&result=" (urlencoded(search.result))
                    "&role=" (urlencoded(search.role)) "&after=" (urlencoded(next))
                } { "Older entries" }
            }
        }
    };
    layout("Audit log", stylesheet, Some(tenant), Some(signed), body).into_string()
}
