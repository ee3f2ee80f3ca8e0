//! The dashboard: the tenant's state, its usage this month and over the twelve before
//! (a chart and a table with the same numbers), its extensions' latest figures and its
//! latest events.

use maud::{Markup, html};

use super::{Signed, layout, time};
use crate::ops::overview::Overview;
use crate::storage::{InvocationStats, MonthlyUsage};
use crate::tenancy::Tenant;

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
