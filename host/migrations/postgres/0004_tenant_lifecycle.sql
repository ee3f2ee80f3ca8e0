-- PostgreSQL mirror of migrations/sqlite/0004_tenant_lifecycle.sql (integers BIGINT, blobs BYTEA).
-- Keyhaven schema, version 4: tenant lifecycle and administration. Tenants get a colour,
-- tags, one optional parent (one level of sub-tenants), settings (JSON; defaults in code)
-- and the default flag; the audit log of admin API calls; monthly usage counters.

ALTER TABLE tenants ADD COLUMN colour TEXT NOT NULL DEFAULT '';
ALTER TABLE tenants ADD COLUMN tags TEXT NOT NULL DEFAULT '{}';
ALTER TABLE tenants ADD COLUMN parent_id TEXT REFERENCES tenants (id);
ALTER TABLE tenants ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
ALTER TABLE tenants ADD COLUMN is_default BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
UPDATE tenants SET updated_at = created_at;
CREATE INDEX tenants_by_parent ON tenants (parent_id);
-- At most one default tenant.
CREATE UNIQUE INDEX tenants_one_default ON tenants (is_default) WHERE is_default = 1;

-- Every admin API call: who, on which tenant, what, and how it ended. tenant_id is NULL for
-- calls that name no existing tenant (operator calls on plans, a refused tenant name).
CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY NOT NULL,
    tenant_id   TEXT,
    time        BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    role        TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    status      BIGINT NOT NULL,
    result      TEXT NOT NULL CHECK (result IN ('success', 'failed'))
);
CREATE INDEX audit_log_by_tenant ON audit_log (tenant_id, time DESC, id DESC);

-- Monthly usage per tenant ('YYYY-MM', UTC): API calls counted in memory and added in
-- batches; active accounts as one row per account and month.
CREATE TABLE usage_monthly (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    month      TEXT NOT NULL,
    api_calls  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, month)
);
CREATE TABLE usage_active_accounts (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    month       TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, month, account_id)
);
