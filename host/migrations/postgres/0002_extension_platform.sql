-- PostgreSQL mirror of migrations/sqlite/0002_extension_platform.sql (integers BIGINT, blobs BYTEA).
-- Keyhaven schema, version 2: the extension platform. Plans and per-tenant limit overrides;
-- extensions as named, versioned deployments built in the background; bindings with
-- client, order, failure policy, schedule and event filter; sealed secrets; the tenants'
-- key-value stores; compiled artifacts; invocation records. Rows of version 1 are kept.

CREATE TABLE plans (
    name        TEXT PRIMARY KEY NOT NULL,
    limits      TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL
);
INSERT INTO plans (name, limits, created_at) VALUES ('standard', '{}', 0);

ALTER TABLE tenants ADD COLUMN plan TEXT NOT NULL DEFAULT 'standard' REFERENCES plans (name);
ALTER TABLE tenants ADD COLUMN limit_overrides TEXT NOT NULL DEFAULT '{}';
ALTER TABLE tenants ADD COLUMN allowed_hosts TEXT NOT NULL DEFAULT '[]';

CREATE TABLE extensions (
    tenant_id             TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name                  TEXT NOT NULL,
    state                 TEXT NOT NULL CHECK (state IN ('ENABLED', 'DISABLED', 'LOCKED')),
    active_deployment_id  TEXT,
    config                TEXT NOT NULL DEFAULT '{}',
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE extension_versions (
    tenant_id       TEXT NOT NULL,
    id              TEXT NOT NULL,
    extension       TEXT NOT NULL,
    version         BIGINT NOT NULL,
    component       BYTEA NOT NULL,
    content_sha256  TEXT NOT NULL,
    size_bytes      BIGINT NOT NULL,
    hooks           TEXT NOT NULL DEFAULT '[]',
    state           TEXT NOT NULL CHECK (state IN ('PENDING', 'ENABLED', 'FAILED', 'DISABLED')),
    build_error     TEXT,
    created_at      BIGINT NOT NULL,
    built_at        BIGINT,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, extension, version),
    FOREIGN KEY (tenant_id, extension) REFERENCES extensions (tenant_id, name) ON DELETE CASCADE
);
CREATE INDEX extension_versions_pending ON extension_versions (state, created_at);

INSERT INTO extensions (tenant_id, name, state, active_deployment_id, config, created_at, updated_at)
SELECT tenant_id, name, 'ENABLED', NULL, '{}', MIN(created_at), MAX(created_at)
FROM extension_deployments GROUP BY tenant_id, name;

INSERT INTO extension_versions
    (tenant_id, id, extension, version, component, content_sha256, size_bytes, hooks, state, build_error,
     created_at, built_at)
SELECT tenant_id, id, name,
       ROW_NUMBER() OVER (PARTITION BY tenant_id, name ORDER BY created_at, id),
       component, content_sha256, size_bytes, hooks, 'ENABLED', NULL, created_at, created_at
FROM extension_deployments;

-- The active version: the one the old bindings served, else the newest.
UPDATE extensions SET active_deployment_id = COALESCE(
    (SELECT b.deployment_id FROM hook_bindings b JOIN extension_deployments d
       ON d.tenant_id = b.tenant_id AND d.id = b.deployment_id
     WHERE b.tenant_id = extensions.tenant_id AND d.name = extensions.name
     ORDER BY b.bound_at DESC LIMIT 1),
    (SELECT v.id FROM extension_versions v
     WHERE v.tenant_id = extensions.tenant_id AND v.extension = extensions.name
     ORDER BY v.version DESC LIMIT 1));

CREATE TABLE extension_bindings (
    tenant_id       TEXT NOT NULL,
    id              TEXT NOT NULL,
    hook            TEXT NOT NULL,
    extension       TEXT NOT NULL,
    client_id       TEXT NOT NULL DEFAULT '',
    failure_policy  TEXT NOT NULL CHECK (failure_policy IN ('fail-closed', 'fail-open')),
    position        BIGINT NOT NULL DEFAULT 0,
    schedule        TEXT,
    filter          TEXT,
    last_run_at     BIGINT,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, hook, extension, client_id),
    FOREIGN KEY (tenant_id, extension) REFERENCES extensions (tenant_id, name) ON DELETE CASCADE
);
CREATE INDEX extension_bindings_by_hook ON extension_bindings (hook, tenant_id, client_id, position);

INSERT INTO extension_bindings (tenant_id, id, hook, extension, client_id, failure_policy, position, created_at)
SELECT b.tenant_id, 'bnd_' || b.deployment_id || '_' || b.hook, b.hook, d.name, '', 'fail-closed', 0, b.bound_at
FROM hook_bindings b JOIN extension_deployments d ON d.tenant_id = b.tenant_id AND d.id = b.deployment_id;

DROP TABLE hook_bindings;
DROP TABLE extension_deployments;

CREATE TABLE extension_secrets (
    tenant_id   TEXT NOT NULL,
    extension   TEXT NOT NULL,
    name        TEXT NOT NULL,
    nonce       BYTEA NOT NULL,
    ciphertext  BYTEA NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, extension, name),
    FOREIGN KEY (tenant_id, extension) REFERENCES extensions (tenant_id, name) ON DELETE CASCADE
);

CREATE TABLE kv_entries (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, key)
);

CREATE TABLE compiled_artifacts (
    tenant_id        TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    content_sha256   TEXT NOT NULL,
    engine           TEXT NOT NULL,
    artifact         BYTEA NOT NULL,
    artifact_sha256  TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, content_sha256, engine)
);

-- Records outlive a deleted extension (no foreign key to it).
CREATE TABLE extension_invocations (
    tenant_id      TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id             TEXT NOT NULL,
    extension      TEXT NOT NULL,
    deployment_id  TEXT NOT NULL,
    version        BIGINT NOT NULL,
    hook           TEXT NOT NULL,
    started_at     BIGINT NOT NULL,
    duration_us    BIGINT NOT NULL,
    fuel_used      BIGINT NOT NULL,
    outcome        TEXT NOT NULL,
    detail         TEXT,
    output         TEXT NOT NULL DEFAULT '',
    dry_run        BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX extension_invocations_by_extension ON extension_invocations (tenant_id, extension, started_at, id);
