-- Keyhaven schema, version 13: access tokens revoked before they expire (RFC 7009), by
-- their `jti`; introspection reports them inactive. A row is removed once the token would
-- have expired anyway.

CREATE TABLE revoked_tokens (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    jti         TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, jti)
);
