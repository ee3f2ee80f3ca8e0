-- PostgreSQL mirror of migrations/sqlite/0011_administrators_and_rules.sql (integers BIGINT).
-- Keyhaven schema, version 11: administrators are accounts holding a permission, set up
-- with a one-time invite; rules grant scopes to machine clients; a scope consent names the
-- scopes it covers; a tenant remembers when it was last active (for its expiry).

-- Permissions an account holds: the value of a permission-requiring scope (`admin`, ...).
CREATE TABLE account_permissions (
    tenant_id   TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    permission  TEXT NOT NULL,
    granted_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, account_id, permission),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id) ON DELETE CASCADE
);

-- One-time invites: the SHA-256 of the invite token; removed when used, one per account.
CREATE TABLE invites (
    tenant_id     TEXT NOT NULL,
    account_id    TEXT NOT NULL,
    token_sha256  TEXT NOT NULL UNIQUE,
    expires_at    BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, account_id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id) ON DELETE CASCADE
);

-- A rule grants scopes (a JSON list) to one client, or to every client of the tenant ('*').
CREATE TABLE scope_rules (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          TEXT NOT NULL,
    label       TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('ENABLED', 'DISABLED')),
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX scope_rules_by_client ON scope_rules (tenant_id, client_id);

-- The scopes a consent of kind 'scope' covers (a JSON list); NULL for legal consents.
ALTER TABLE consents ADD COLUMN scopes TEXT;

-- The last time the tenant was used (an admin call, a login, a token); NULL: never.
ALTER TABLE tenants ADD COLUMN last_active_at BIGINT;
