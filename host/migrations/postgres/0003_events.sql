-- PostgreSQL mirror of migrations/sqlite/0003_events.sql (integers BIGINT, blobs BYTEA).
-- Keyhaven schema, version 3: the event log and its deliveries to `events` bindings (an
-- outbox: a delivery stays pending until the extension has handled it, so a restart in the
-- middle of delivery loses none).

CREATE TABLE events (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          TEXT NOT NULL,
    time        BIGINT NOT NULL,
    category    TEXT NOT NULL,
    action      TEXT NOT NULL,
    origin      TEXT NOT NULL,
    result      TEXT NOT NULL CHECK (result IN ('success', 'failed', 'pending')),
    reason      TEXT,
    account_id  TEXT,
    detail      TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX events_by_time ON events (tenant_id, time DESC, id DESC);

CREATE TABLE event_deliveries (
    tenant_id        TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    binding_id       TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    last_error       TEXT,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, event_id, binding_id),
    FOREIGN KEY (tenant_id, event_id) REFERENCES events (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX event_deliveries_due ON event_deliveries (state, next_attempt_at);
