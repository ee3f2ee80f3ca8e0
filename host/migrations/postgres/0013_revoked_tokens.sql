-- PostgreSQL mirror of migrations/sqlite/0013_revoked_tokens.sql (integers BIGINT).
-- Keyhaven schema, version 13: access tokens revoked before they expire (RFC 7009), by
-- their `jti`; introspection reports them inactive. A row is removed once the token would
-- have expired anyway.

CREATE TABLE revoked_tokens (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    jti         TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, jti)
);
