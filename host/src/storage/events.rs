//! The event log and the outbox of its deliveries to `events` bindings. An event and its
//! pending deliveries are written in one transaction; a delivery is claimed with a lease
//! (so one node delivers it at a time) and stays pending until it is handled.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::{Db, Result, StorageError};
use crate::extensions::events::{Event, EventResult};

/// A pending delivery whose time has come.
#[derive(Clone, Debug)]
pub struct DueDelivery {
    pub tenant_id: String,
    pub binding_id: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub event: Event,
}

/// A delivery as the admin API shows it.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct DeliveryRow {
    pub binding_id: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// How a delivery attempt ended.
#[derive(Clone, Debug)]
pub enum DeliveryOutcome<'a> {
    Delivered,
    /// Try again at `next_attempt_at`.
    Retry {
        error: &'a str,
        next_attempt_at: i64,
    },
    /// No more attempts.
    GiveUp {
        error: &'a str,
    },
}

/// Which events a list keeps: each field set must match exactly; none set keeps all.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventFilter {
    /// The event's type, e.g. `authentication` or `resource-change`.
    pub category: Option<String>,
    /// e.g. `login.succeeded` or `account.created`.
    pub action: Option<String>,
    pub result: Option<EventResult>,
    /// `admin-api`, `console`, `login`, …
    pub origin: Option<String>,
    pub account_id: Option<String>,
}

const EVENT_COLUMNS: &str = "e.id, e.time, e.category, e.action, e.origin, e.result, e.reason, e.account_id, e.detail";

fn event(row: &AnyRow) -> Result<Event> {
    let result = match row.try_get::<&str, _>("result")? {
        "success" => EventResult::Success,
        "failed" => EventResult::Failed,
        "pending" => EventResult::Pending,
        other => return Err(StorageError::Corrupt(format!("event result {other:?}"))),
    };
    Ok(Event {
        id: row.try_get("id")?,
        time: row.try_get("time")?,
        category: row.try_get("category")?,
        action: row.try_get("action")?,
        origin: row.try_get("origin")?,
        result,
        reason: row.try_get("reason")?,
        account_id: row.try_get("account_id")?,
        detail: serde_json::from_str(row.try_get("detail")?)?,
    })
}

/// Stores an event and its pending deliveries inside a caller's transaction, so that the
/// event is written with the change it reports (an outbox).
pub(super) async fn insert_event_in(
    tx: &mut Transaction<'_, Any>,
    tenant_id: &str,
    event: &Event,
    bindings: &[String],
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO events (tenant_id, id, time, category, action, origin, result, reason, account_id, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(tenant_id)
    .bind(&event.id)
    .bind(event.time)
    .bind(&event.category)
    .bind(&event.action)
    .bind(&event.origin)
    .bind(event.result.as_str())
    .bind(&event.reason)
    .bind(&event.account_id)
    .bind(event.detail.to_string())
    .execute(&mut **tx)
    .await?;
    for binding_id in bindings {
        sqlx::query(
            "INSERT INTO event_deliveries (tenant_id, event_id, binding_id, state, attempts, next_attempt_at, updated_at)
             VALUES ($1, $2, $3, 'pending', 0, $4, $5)",
        )
        .bind(tenant_id)
        .bind(&event.id)
        .bind(binding_id)
        .bind(now)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

impl Db {
    /// Stores an event and a pending delivery to each of `bindings`, in one transaction.
    pub async fn insert_event(&self, tenant_id: &str, event: &Event, bindings: &[String], now: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        insert_event_in(&mut tx, tenant_id, event, bindings, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The tenant's latest events that `filter` keeps, newest first.
    pub async fn list_events(&self, tenant_id: &str, filter: &EventFilter, limit: u32) -> Result<Vec<Event>> {
        // Each optional value is bound twice (`$n IS NULL OR column = $n+1`), as elsewhere
        // in this layer: one placeholder, one use.
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events e WHERE e.tenant_id = $1
               AND ($2 IS NULL OR e.category = $3) AND ($4 IS NULL OR e.action = $5)
               AND ($6 IS NULL OR e.result = $7) AND ($8 IS NULL OR e.origin = $9)
               AND ($10 IS NULL OR e.account_id = $11)
             ORDER BY e.time DESC, e.id DESC LIMIT $12"
        );
        let mut query = sqlx::query(&sql).bind(tenant_id);
        for value in [
            filter.category.as_deref(),
            filter.action.as_deref(),
            filter.result.map(EventResult::as_str),
            filter.origin.as_deref(),
            filter.account_id.as_deref(),
        ] {
            query = query.bind(value).bind(value);
        }
        let rows = query.bind(i64::from(limit)).fetch_all(&self.pool).await?;
        rows.iter().map(event).collect()
    }

    /// Pending deliveries due at `now`, across tenants (the dispatcher's scan), oldest first.
    pub async fn due_deliveries(&self, now: i64, limit: u32) -> Result<Vec<DueDelivery>> {
        let sql = format!(
            "SELECT d.tenant_id, d.binding_id, d.attempts, d.next_attempt_at, {EVENT_COLUMNS}
             FROM event_deliveries d JOIN events e ON e.tenant_id = d.tenant_id AND e.id = d.event_id
             WHERE d.state = 'pending' AND d.next_attempt_at <= $1
             ORDER BY d.next_attempt_at, e.time, e.id LIMIT $2"
        );
        let rows = sqlx::query(&sql).bind(now).bind(i64::from(limit)).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                Ok(DueDelivery {
                    tenant_id: row.try_get("tenant_id")?,
                    binding_id: row.try_get("binding_id")?,
                    attempts: row.try_get("attempts")?,
                    next_attempt_at: row.try_get("next_attempt_at")?,
                    event: event(row)?,
                })
            })
            .collect()
    }

    /// Takes a due delivery for `lease_until`: true if this caller got it (no other node
    /// did meanwhile). The attempt is counted now, so a crash mid-delivery still counts.
    pub async fn claim_delivery(&self, delivery: &DueDelivery, lease_until: i64, now: i64) -> Result<bool> {
        let claimed = sqlx::query(
            "UPDATE event_deliveries SET next_attempt_at = $1, attempts = attempts + 1, updated_at = $2
             WHERE tenant_id = $3 AND event_id = $4 AND binding_id = $5 AND state = 'pending'
               AND attempts = $6 AND next_attempt_at = $7",
        )
        .bind(lease_until)
        .bind(now)
        .bind(&delivery.tenant_id)
        .bind(&delivery.event.id)
        .bind(&delivery.binding_id)
        .bind(delivery.attempts)
        .bind(delivery.next_attempt_at)
        .execute(&self.pool)
        .await?;
        Ok(claimed.rows_affected() == 1)
    }

    /// Records how a claimed delivery ended.
    pub async fn finish_delivery(
        &self,
        tenant_id: &str,
        event_id: &str,
        binding_id: &str,
        outcome: DeliveryOutcome<'_>,
        now: i64,
    ) -> Result<()> {
        let (state, error, next) = match outcome {
            DeliveryOutcome::Delivered => ("delivered", None, now),
            DeliveryOutcome::Retry { error, next_attempt_at } => ("pending", Some(error), next_attempt_at),
            DeliveryOutcome::GiveUp { error } => ("failed", Some(error), now),
        };
        sqlx::query(
            "UPDATE event_deliveries SET state = $1, last_error = $2, next_attempt_at = $3, updated_at = $4
             WHERE tenant_id = $5 AND event_id = $6 AND binding_id = $7",
        )
        .bind(state)
        .bind(error)
        .bind(next)
        .bind(now)
        .bind(tenant_id)
        .bind(event_id)
        .bind(binding_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The deliveries of the tenant's events `event_ids`, by event.
    pub async fn event_deliveries(
        &self,
        tenant_id: &str,
        event_ids: &[String],
    ) -> Result<HashMap<String, Vec<DeliveryRow>>> {
        if event_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let placeholders: Vec<String> = (2..event_ids.len() + 2).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT event_id, binding_id, state, attempts, last_error FROM event_deliveries
             WHERE tenant_id = $1 AND event_id IN ({}) ORDER BY event_id, binding_id",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(tenant_id);
        for id in event_ids {
            query = query.bind(id);
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut deliveries: HashMap<String, Vec<DeliveryRow>> = HashMap::new();
        for row in &rows {
            deliveries.entry(row.try_get("event_id")?).or_default().push(DeliveryRow {
                binding_id: row.try_get("binding_id")?,
                state: row.try_get("state")?,
                attempts: row.try_get("attempts")?,
                last_error: row.try_get("last_error")?,
            });
        }
        Ok(deliveries)
    }
}
