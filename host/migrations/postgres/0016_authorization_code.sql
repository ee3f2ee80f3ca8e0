-- PostgreSQL mirror of migrations/sqlite/0016_authorization_code.sql (integers BIGINT).
-- Keyhaven schema, version 16: the authorization-code flow for people. A client may be
-- public (no secret; PKCE required) and registers the redirect URIs codes go back to. A
-- session remembers when a factor was last passed (the ID token's auth_time). Codes and
-- refresh tokens are stored as SHA-256 digests only; a code is used once, a refresh token
-- once (each use issues the next of its family, and presenting a spent one revokes the
-- whole family). Both remember the issuer the person signed in at (the service's URL or the
-- tenant's subdomain): every token of the grant names that one.

ALTER TABLE clients ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN public BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN authenticated_at BIGINT;

CREATE TABLE authorization_codes (
    tenant_id       TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    code_sha256     TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    account_id      TEXT NOT NULL,
    session_id      TEXT NOT NULL,
    redirect_uri    TEXT NOT NULL,
    redirect_given  BIGINT NOT NULL,
    scopes          TEXT NOT NULL,
    nonce           TEXT,
    code_challenge  TEXT,
    auth_time       BIGINT NOT NULL,
    factors         TEXT NOT NULL,
    family_id       TEXT NOT NULL,
    issuer          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    used_at         BIGINT,
    PRIMARY KEY (tenant_id, code_sha256)
);

CREATE TABLE refresh_tokens (
    tenant_id       TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    token_sha256    TEXT NOT NULL,
    family_id       TEXT NOT NULL,
    issuer          TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    account_id      TEXT NOT NULL,
    session_id      TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    auth_time       BIGINT NOT NULL,
    factors         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    used_at         BIGINT,
    revoked_at      BIGINT,
    PRIMARY KEY (tenant_id, token_sha256)
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (tenant_id, family_id);
