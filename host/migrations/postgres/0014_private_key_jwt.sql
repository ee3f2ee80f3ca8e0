-- PostgreSQL mirror of migrations/sqlite/0014_private_key_jwt.sql (integers BIGINT).
-- Keyhaven schema, version 14: private_key_jwt client authentication (RFC 7523). A client
-- may register its public keys (a JWK set); the `jti` of every assertion it presented is
-- kept until the assertion expires, so none is accepted twice.

ALTER TABLE clients ADD COLUMN jwks TEXT;

CREATE TABLE client_assertions (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_id   TEXT NOT NULL,
    jti         TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, client_id, jti)
);
