-- PostgreSQL mirror of migrations/sqlite/0005_accounts.sql (integers BIGINT, blobs BYTEA).
-- Keyhaven schema, version 5: human accounts, their factors, one-time codes and sessions.
-- Usernames are stored lower-cased (case-insensitive, unique per tenant). Factor secrets
-- are hashes (passwords: argon2id; codes: SHA-256), never the values; a TOTP secret,
-- which must be read back, is sealed.

CREATE TABLE accounts (
    tenant_id       TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id              TEXT NOT NULL,
    username        TEXT NOT NULL,
    email           TEXT,
    phone           TEXT,
    attributes      TEXT NOT NULL DEFAULT '{}',
    state           TEXT NOT NULL CHECK (state IN ('PENDING', 'ENABLED', 'DISABLED', 'LOCKED')),
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    last_active_at  BIGINT,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, username)
);

CREATE TABLE factors (
    tenant_id        TEXT NOT NULL,
    id               TEXT NOT NULL,
    account_id       TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('password', 'otp', 'totp')),
    channel          TEXT,
    recipient        TEXT,
    secret_hash      TEXT,
    -- TOTP: the shared secret, sealed (AES-256-GCM under the node key), and the last time
    -- step accepted (a code is never accepted twice).
    sealed_secret    TEXT,
    last_step        BIGINT,
    state            TEXT NOT NULL CHECK (state IN ('PENDING', 'ENABLED', 'DISABLED', 'LOCKED')),
    failed_attempts  BIGINT NOT NULL DEFAULT 0,
    codes_requested  BIGINT NOT NULL DEFAULT 0,
    locked_until     BIGINT,
    created_at       BIGINT NOT NULL,
    last_used_at     BIGINT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX factors_by_account ON factors (tenant_id, account_id);

-- Logins in progress and sessions: PENDING until a factor passed, then ENABLED.
CREATE TABLE sessions (
    tenant_id       TEXT NOT NULL,
    id              TEXT NOT NULL,
    account_id      TEXT NOT NULL,
    token_sha256    TEXT NOT NULL UNIQUE,
    state           TEXT NOT NULL CHECK (state IN ('PENDING', 'ENABLED', 'DISABLED', 'LOCKED')),
    score           BIGINT NOT NULL DEFAULT 0,
    factors         TEXT NOT NULL DEFAULT '[]',
    stay_signed_in  BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    last_seen_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX sessions_by_account ON sessions (tenant_id, account_id);

-- One-time codes sent for an OTP factor: the SHA-256 of the code, single use.
CREATE TABLE otp_codes (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    session_id   TEXT NOT NULL,
    factor_id    TEXT NOT NULL,
    code_sha256  TEXT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used         BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, factor_id) REFERENCES factors (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX otp_codes_by_session ON otp_codes (tenant_id, session_id);
