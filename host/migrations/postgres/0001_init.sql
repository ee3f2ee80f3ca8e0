-- PostgreSQL mirror of migrations/sqlite/0001_init.sql (integers BIGINT, blobs BYTEA).
-- Keyhaven schema, version 1: tenants, personal access tokens, machine clients,
-- signing keys, extension deployments and their hook bindings.
-- Every table holding tenant data carries tenant_id, and every query filters on it.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL UNIQUE,
    label       TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('PENDING', 'ENABLED', 'DISABLED', 'LOCKED')),
    created_at  BIGINT NOT NULL
);

-- Personal access tokens for the admin API. tenant_id is NULL for operator tokens.
CREATE TABLE personal_access_tokens (
    id            TEXT PRIMARY KEY NOT NULL,
    tenant_id     TEXT REFERENCES tenants (id) ON DELETE CASCADE,
    role          TEXT NOT NULL CHECK (role IN ('operator', 'tenant-admin')),
    token_sha256  TEXT NOT NULL UNIQUE,
    state         TEXT NOT NULL CHECK (state IN ('PENDING', 'ENABLED', 'DISABLED', 'LOCKED')),
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT,
    CHECK ((role = 'operator') = (tenant_id IS NULL))
);

CREATE TABLE clients (
    tenant_id       TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_id       TEXT NOT NULL,
    name            TEXT NOT NULL,
    secret_sha256   TEXT NOT NULL,
    attributes      TEXT NOT NULL DEFAULT '{}',
    scopes          TEXT NOT NULL DEFAULT '[]',
    audience        TEXT NOT NULL DEFAULT '[]',
    state           TEXT NOT NULL CHECK (state IN ('PENDING', 'ENABLED', 'DISABLED', 'LOCKED')),
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, client_id)
);

-- A kid (RFC 7638 thumbprint) is globally unique, so it belongs to exactly one tenant.
CREATE TABLE signing_keys (
    kid           TEXT PRIMARY KEY NOT NULL,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    algorithm     TEXT NOT NULL,
    private_der   BYTEA NOT NULL,
    public_jwk    TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('PENDING', 'ENABLED', 'DISABLED', 'LOCKED')),
    created_at    BIGINT NOT NULL
);
CREATE INDEX signing_keys_by_tenant ON signing_keys (tenant_id, state, created_at);

-- Every upload is an immutable version.
CREATE TABLE extension_deployments (
    tenant_id       TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id              TEXT NOT NULL,
    name            TEXT NOT NULL,
    component       BYTEA NOT NULL,
    content_sha256  TEXT NOT NULL,
    size_bytes      BIGINT NOT NULL,
    hooks           TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('PENDING', 'ENABLED', 'DISABLED', 'LOCKED')),
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- Which deployment serves each hook of a tenant.
CREATE TABLE hook_bindings (
    tenant_id      TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    hook           TEXT NOT NULL,
    deployment_id  TEXT NOT NULL,
    bound_at       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, hook),
    FOREIGN KEY (tenant_id, deployment_id) REFERENCES extension_deployments (tenant_id, id)
);
